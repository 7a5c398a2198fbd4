import Contracts
import Foundation
@testable import Segment
import ServiceKit
import TestSupport
import XCTest

/// The service's own pieces that need no processes: the snapshot's NDJSON framing, member paging
/// order, the live index's reads and stamps.
final class SegmentServiceUnitTests: XCTestCase {
    func testSnapshotLinesAreFramedWhateverTheChunking() throws {
        var text = #"{"cursor":"41-9223372036854775807"}"# + "\n"
        for i in 0..<50 {
            text += #"{"customerId":"C\#(i)","exists":true,"orgPath":"/hq/","attributes":{"city":"上海"},"tags":{},"events":{}}"# + "\n"
        }
        let bytes = Array(text.utf8)
        var random = SplitMix64(seed: 7)
        for _ in 0..<20 {
            var ids: [String] = []
            let reader = NDJSONSnapshotReader { ids.append($0.customerId) }
            var at = 0
            while at < bytes.count {
                let n = Int(random.next() % 40) + 1
                try reader.consume(Array(bytes[at..<min(at + n, bytes.count)]))
                at += n
            }
            try reader.finish()
            XCTAssertEqual(reader.cursor, "41-9223372036854775807")
            XCTAssertEqual(ids, (0..<50).map { "C\($0)" })
        }
        let broken = NDJSONSnapshotReader { _ in }
        XCTAssertThrowsError(try broken.consume(Array("{\"cursor\":\"1-1\"}\n{not json}\n".utf8)))
    }

    func testSnapshotDocumentsReadAsTheirCodableForm() throws {
        var random = SplitMix64(seed: 3)
        let now = Date(timeIntervalSince1970: 1_790_000_000.125)
        for i in 0..<100 {
            var document = CustomerFactsDocument(customerId: "C\(i)", exists: i % 10 != 0, orgPath: i % 10 == 0 ? nil : "/hq/sh/",
                                                 attributes: ["aum": .string("\(random.next() % 1_000_000).25"), "age": .number(Double(i)),
                                                              "isPayroll": .bool(i % 2 == 0), "city": .string("上海\"\\\n"),
                                                              "nothing": .null, "list": .array([.number(1), .string("x")])],
                                                 tags: ["vip": "", "tier": "L\(i % 5)"])
            if i % 3 == 0 {
                document.events["app_login"] = .init(total: Int64(i), firstAt: now.addingTimeInterval(-86_400 * 40), lastAt: now,
                                                     daily: ["2026-09-20": 2, "2026-09-21": i])
            }
            let bytes = Array(try JSONCoding.encoder().encode(document))
            XCTAssertEqual(try CustomerFactsDocument(jsonBytes: bytes), try JSONCoding.decoder().decode(CustomerFactsDocument.self, from: Data(bytes)))
            // The direct writer's text reads back to the same document, by both readers.
            var written: [UInt8] = []
            document.write(into: &written)
            XCTAssertEqual(try CustomerFactsDocument(jsonBytes: written), document)
            XCTAssertEqual(try JSONCoding.decoder().decode(CustomerFactsDocument.self, from: Data(written)), document)
        }
        for bad in [#"[]"#, #"{"customerId":"x"}"#, #"{"customerId":"x","exists":true,"tags":{"a":1}}"#,
                    #"{"customerId":"x","exists":true,"events":{"e":{"total":1.5,"firstAt":"2026-01-01T00:00:00Z","lastAt":"2026-01-01T00:00:00Z"}}}"#,
                    #"{"customerId":"x","exists":true,"events":{"e":{"total":1,"firstAt":"yesterday","lastAt":"2026-01-01T00:00:00Z"}}}"#] {
            XCTAssertThrowsError(try CustomerFactsDocument(jsonBytes: Array(bad.utf8)), bad)
        }
    }

    func testMemberPagesAreTheSmallestIdsAfterTheCursor() {
        var random = SplitMix64(seed: 11)
        for _ in 0..<50 {
            let ids = (0..<Int(random.next() % 300)).map { _ in "C" + String(random.next() % 1_000) }
            let distinct = Array(Set(ids)).sorted().shuffled(using: &random)
            let sorted = distinct.sorted()
            let after = sorted.isEmpty || random.next() % 3 == 0 ? nil : sorted[Int(random.next() % UInt64(sorted.count))]
            let limit = Int(random.next() % 20)
            let expected = Array(sorted.filter { after == nil || $0 > after! }.prefix(limit))
            XCTAssertEqual(MemberOrder.smallest(limit, of: distinct, after: after), expected)
        }
    }

    func testTheLiveIndexAnswersOnlyOnceLoadedAndStampsEachChange() throws {
        let timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let live = LiveIndex(timeZone: timeZone)
        XCTAssertThrowsError(try live.read { _ in 0 }) { error in
            XCTAssertEqual((error as? APIError)?.status, 503)
        }
        var fresh = CustomerIndex(timeZone: timeZone)
        for i in 0..<200 {
            fresh.apply(CustomerFactsDocument(customerId: "C\(i)", exists: true, orgPath: i % 2 == 0 ? "/hq/sh/" : "/hq/bj/",
                                              attributes: ["riskLevel": .string("C\(i % 5 + 1)")]))
        }
        live.install(fresh) { $0.ready = true }
        let first = try live.read { ($0.generation, $0.version, $0.index.scope("/hq/sh/").count, $0.index.slot(of: "C10")) }
        XCTAssertEqual(first.0, 1)
        XCTAssertEqual(first.1, 0)
        XCTAssertEqual(first.2, 100)
        XCTAssertEqual(first.3, 10)
        live.apply([CustomerFactsDocument(customerId: "C4", exists: false, orgPath: nil),
                    CustomerFactsDocument(customerId: "C200", exists: true, orgPath: "/hq/sh/")]) { _ in }
        let second = try live.read { ($0.generation, $0.version, $0.index.scope("/hq/sh/").slots()) }
        XCTAssertEqual(second.0, 1)
        XCTAssertEqual(second.1, 1)
        XCTAssertEqual(second.2, (0...200).filter { $0 % 2 == 0 && $0 != 4 })
        XCTAssertEqual(live.feedStatus.customers, 200)
        XCTAssertGreaterThan(live.feedStatus.bytes, 0)
        // A new snapshot is a new generation, counted from version 0.
        live.install(CustomerIndex(timeZone: timeZone)) { _ in }
        XCTAssertEqual(try live.read { [$0.generation, $0.version, $0.index.count] }, [2, 0, 0])
    }

    func testSettingsNameEveryMalformedVariable() throws {
        let base = ["DATABASE_URL": "postgres://u@127.0.0.1:1/db", "LATTICE_INTERNAL_SECRET": "0123456789abcdef0123"]
        let settings = try SegmentSettings(config: ConfigReader(environment: base))
        XCTAssertEqual(settings.profileURL, "http://127.0.0.1:8081")
        XCTAssertEqual(settings.feedPollInterval, 0.25)
        XCTAssertEqual(settings.service.port, 8082)
        XCTAssertEqual(settings.service.databaseSchema, "segment")
        let reader = ConfigReader(environment: base.merging([
            "LATTICE_SERVICE_PROFILE": "ftp://profile", "LATTICE_FEED_POLL_INTERVAL": "forever", "LATTICE_FEED_PAGE_SIZE": "9000",
            "LATTICE_EVENT_SUBSCRIBERS": "canvas",
        ]) { $1 }).accumulatingErrors()
        _ = try SegmentSettings(config: reader)
        XCTAssertThrowsError(try reader.validate()) { error in
            let text = String(describing: error)
            for name in ["LATTICE_SERVICE_PROFILE", "LATTICE_FEED_POLL_INTERVAL", "LATTICE_FEED_PAGE_SIZE", "LATTICE_EVENT_SUBSCRIBERS"] {
                XCTAssertTrue(text.contains(name), "\(name) not named in \(text)")
            }
        }
    }
}
