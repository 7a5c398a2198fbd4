import Contracts
import Foundation
import HTTP
import Postgres
@testable import Profile
import ServiceKit
import TestSupport
import XCTest

/// The change feed: every write to a customer appears, in order, and a transaction that commits late
/// is never skipped; the snapshot plus the feed from its cursor miss nothing.
final class ChangeFeedTests: XCTestCase {
    var harness: ProfileHarness!

    override func setUpWithError() throws { harness = try ProfileHarness() }
    override func tearDown() { harness = nil }

    func put(_ id: String, _ json: String) throws {
        let r = try harness.call(.PUT, "/api/v1/customers/\(id)", as: ProfileHarness.hqAdmin, json: json)
        XCTAssert([200, 201].contains(r.status), r.text)
    }

    func feed(after cursor: String?) throws -> (ids: [String], next: String, caughtUp: Bool) {
        let r = try harness.call(.GET, "/internal/v1/changes?limit=100" + (cursor.map { "&after=\($0)" } ?? ""), as: nil)
        XCTAssertEqual(r.status, 200, r.text)
        guard case .array(let items)? = r.json["items"] else { XCTFail(r.text); return ([], "", true) }
        return (items.compactMap { $0["customerId"]?.stringValue }, r.json["nextCursor"]?.stringValue ?? "",
                r.json["caughtUp"]?.boolValue ?? false)
    }

    func testChangesAppearInOrderWithTheCustomersState() throws {
        try put("A", #"{"orgId":"sh","aum":100}"#)
        try put("B", #"{"orgId":"bj"}"#)
        let first = try feed(after: nil)
        XCTAssertEqual(first.ids, ["A", "B"])
        XCTAssertTrue(first.caughtUp)
        let again = try feed(after: first.next)
        XCTAssertEqual(again.ids, [])
        XCTAssertEqual(again.next, first.next)

        try put("A", #"{"consents":{"sms":true}}"#)
        let r = try harness.call(.GET, "/internal/v1/changes?after=\(first.next)", as: nil)
        XCTAssertEqual(r.json["items"]?.arrayFirst?["customerId"], "A")
        XCTAssertEqual(r.json["items"]?.arrayFirst?["attributes"]?["aum"], "100")
        XCTAssertEqual(r.json["items"]?.arrayFirst?["orgPath"], "/hq/sh/")
        XCTAssertEqual(try harness.call(.GET, "/internal/v1/changes?after=nonsense", as: nil).status, 400)
        XCTAssertEqual(harness.client.execute(.GET, "/internal/v1/changes").status, 401)
    }

    func testALateCommitIsNotSkipped() throws {
        try put("A", #"{"orgId":"sh"}"#)
        let start = try feed(after: nil).next
        // A transaction that takes its sequence number first and commits last.
        let slow = try PostgresConnection.connect(harness.app.settings.service.database)
        defer { slow.close() }
        try slow.execute("BEGIN")
        try slow.execute("UPDATE customers SET city = 'x' WHERE id = 'A'")
        try put("B", #"{"orgId":"sh"}"#)                 // commits while A's change is still open
        let during = try feed(after: start)
        XCTAssertEqual(during.ids, [], "B must wait behind the open transaction")
        try slow.execute("COMMIT")
        let after = try feed(after: during.next)
        XCTAssertEqual(Set(after.ids), ["A", "B"])
    }

    func testSnapshotThenFeedMissesNothing() throws {
        for i in 0..<5 { try put("S\(i)", #"{"orgId":"sh"}"#) }
        let r = try harness.call(.GET, "/internal/v1/customers:snapshot", as: nil)
        XCTAssertEqual(r.status, 200)
        let lines = r.text.split(separator: "\n").map { try? JSONCoding.decoder().decode(JSONValue.self, from: Data($0.utf8)) }
        XCTAssertEqual(lines.count, 6)
        let cursor = try XCTUnwrap(lines.first??["cursor"]?.stringValue)
        XCTAssertEqual(lines.dropFirst().compactMap { $0?["customerId"]?.stringValue }, ["S0", "S1", "S2", "S3", "S4"])
        try put("S9", #"{"orgId":"bj"}"#)
        XCTAssertTrue(try feed(after: cursor).ids.contains("S9"))
    }

    func testPagesFollowTransactionOrderAcrossADigitBoundary() throws {
        // Transaction ids 9 and 10: ordered as text, "10" would come first and a cursor past it would
        // skip 9 for ever.
        try harness.pool.execute("INSERT INTO customer_changes (tx, customer_id) VALUES ('10', 'Y'), ('9', 'X')")
        let first = try feed(after: nil)
        XCTAssertEqual(Array(first.ids.prefix(2)), ["X", "Y"])
        let r = try harness.call(.GET, "/internal/v1/changes?limit=1", as: nil)
        XCTAssertEqual(r.json["items"]?.arrayFirst?["customerId"], "X")
        let next = try XCTUnwrap(r.json["nextCursor"]?.stringValue)
        let second = try harness.call(.GET, "/internal/v1/changes?limit=1&after=\(next)", as: nil)
        XCTAssertEqual(second.json["items"]?.arrayFirst?["customerId"], "Y")
    }
}
