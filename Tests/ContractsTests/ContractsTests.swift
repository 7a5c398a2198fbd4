import Foundation
import XCTest
@testable import Contracts

final class ContractsTests: XCTestCase {
    func testErrorBodyHasTheDesignedShape() throws {
        let error = APIError.badRequest("amount must be positive", field: "amount")
        let data = try JSONCoding.encoder().encode(error.body)
        let decoded = try JSONDecoder().decode(JSONValue.self, from: data)
        XCTAssertEqual(decoded["error"]?["code"]?.stringValue, "bad_request")
        XCTAssertEqual(decoded["error"]?["message"]?.stringValue, "amount must be positive")
        XCTAssertEqual(decoded["error"]?["details"]?["field"]?.stringValue, "amount")
        XCTAssertEqual(APIError(status: 400, body: Array(data))?.code, "bad_request")
        XCTAssertNil(APIError(status: 500, body: Array("<html>".utf8)))
    }

    func testJSONValueRoundTripsEveryKind() throws {
        let value: JSONValue = .object(["a": .array([.null, .bool(true), .number(1.5), .string("张三")]), "b": .object([:])])
        let data = try JSONEncoder().encode(value)
        XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: data), value)
    }

    func testOrgScope() {
        let branch = CallerIdentity(userId: "u", orgId: "sh", orgPath: "/hq/sh/", roles: [], rights: ["view"])
        XCTAssertTrue(branch.covers(orgPath: "/hq/sh/"))
        XCTAssertTrue(branch.covers(orgPath: "/hq/sh/pd/"))
        XCTAssertFalse(branch.covers(orgPath: "/hq/"))
        XCTAssertFalse(branch.covers(orgPath: "/hq/shx/"), "paths end with / so a sibling with a longer name is not covered")
        XCTAssertTrue(branch.has(right: "view"))
        XCTAssertFalse(branch.has(right: "edit"))
    }

    func testDatesAreRFC3339UTC() throws {
        struct Stamp: Codable { var at: Date }
        let at = Date(timeIntervalSince1970: 1_764_547_200.25)
        let text = String(decoding: try JSONCoding.encoder().encode(Stamp(at: at)), as: UTF8.self)
        XCTAssertTrue(text.contains("2025-12-01T00:00:00.250Z"), text)
        let parsed = try JSONCoding.decoder().decode(Stamp.self, from: Data(#"{"at":"2025-12-01T08:00:00+08:00"}"#.utf8))
        XCTAssertEqual(parsed.at.timeIntervalSince1970, 1_764_547_200, accuracy: 0.001)
        XCTAssertThrowsError(try JSONCoding.decoder().decode(Stamp.self, from: Data(#"{"at":"yesterday"}"#.utf8)))
    }
}
