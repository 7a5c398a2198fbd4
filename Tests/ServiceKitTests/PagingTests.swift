import Contracts
import Foundation
import HTTP
import XCTest
@testable import ServiceKit

/// `PageRequest` parsing of `?limit=&cursor=`, the page helper, and `Page`'s JSON shape.
final class PagingTests: XCTestCase {
    private func request(_ query: String, maximumLimit: Int = 200, defaultLimit: Int = 50) throws -> PageRequest {
        try PageRequest(query: QueryParameters(query), maximumLimit: maximumLimit, defaultLimit: defaultLimit)
    }

    /// The field a 400 names, failing the test unless `parse` throws a 400.
    private func rejectedField(_ parse: () throws -> PageRequest, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            let value = try parse()
            XCTFail("expected a 400, got \(value)", file: file, line: line)
            return nil
        } catch let error as APIError {
            XCTAssertEqual(error.status, 400, file: file, line: line)
            return error.details?["field"]?.stringValue
        } catch {
            XCTFail("expected an APIError, got \(error)", file: file, line: line)
            return nil
        }
    }

    func testDefaultsWithoutParameters() throws {
        XCTAssertEqual(try request(""), PageRequest(limit: 50, after: nil))
        XCTAssertEqual(try request("", defaultLimit: 20), PageRequest(limit: 20, after: nil))
        XCTAssertEqual(try request("cursor="), PageRequest(limit: 50, after: nil), "an empty cursor is the first page")
        XCTAssertEqual(try request("other=1"), PageRequest(limit: 50, after: nil))
    }

    func testLimitWithinTheEndpointsMaximum() throws {
        XCTAssertEqual(try request("limit=1").limit, 1)
        XCTAssertEqual(try request("limit=200").limit, 200)
        XCTAssertEqual(try request("limit=500", maximumLimit: 500).limit, 500)
        for bad in ["0", "-1", "201", "ten", "", " 5", "5.0", "99999999999999999999999", "0x10"] {
            XCTAssertEqual(rejectedField { try request("limit=" + bad) }, "limit", bad)
        }
        XCTAssertEqual(rejectedField { try request("limit=501", maximumLimit: 500) }, "limit")
    }

    func testOddEndpointSettingsAreKeptInRange() throws {
        XCTAssertEqual(try request("", maximumLimit: 10, defaultLimit: 50).limit, 10, "default capped at the maximum")
        XCTAssertEqual(try request("", maximumLimit: 0, defaultLimit: 0).limit, 1)
        XCTAssertEqual(rejectedField { try request("limit=2", maximumLimit: 0) }, "limit")
    }

    func testCursorRoundTripsTheSortKey() throws {
        for key in ["/hq/sh/", "alice", "u_k3v9", "1234567", "张三 & ?=/+", String(repeating: "k", count: PageRequest.maximumKeyBytes)] {
            let cursor = PageRequest.cursor(after: key)
            XCTAssertFalse(cursor.contains("=") || cursor.contains("+") || cursor.contains("/"), key)
            XCTAssertEqual(try request("limit=3&cursor=" + cursor), PageRequest(limit: 3, after: key), key)
        }
    }

    func testMalformedCursorsAreA400NamingCursor() {
        let forgeries = [
            "%25%25",                           // `%%`: not base64url
            "Zm9v%2B",                          // `+` of the standard alphabet
            "Zm9vYg%3D%3D",                     // padded
            "Zh",                               // non-zero trailing bits
            "Zm9vY",                            // impossible length
            "_w",                               // 0xFF: not UTF-8
            "AA",                               // a NUL byte
            String(repeating: "a", count: PageRequest.maximumCursorLength + 4),
        ]
        for bad in forgeries {
            XCTAssertEqual(rejectedField { try request("cursor=" + bad) }, "cursor", bad)
        }
        XCTAssertEqual(PageRequest.malformedCursor.details?["field"]?.stringValue, "cursor")
    }

    func testPageKeepsLimitItemsAndPointsAfterTheLast() throws {
        let more = PageRequest.page(["a", "b", "c"], limit: 2, key: { $0 })
        XCTAssertEqual(more.items, ["a", "b"])
        XCTAssertEqual(try request("cursor=" + XCTUnwrap(more.nextCursor)).after, "b")
        let exact = PageRequest.page(["a", "b"], limit: 2, key: { $0 })
        XCTAssertEqual(exact, Page(items: ["a", "b"], nextCursor: nil), "a page that ends at the last item has no cursor")
        XCTAssertEqual(PageRequest.page([String](), limit: 2, key: { $0 }), Page(items: [], nextCursor: nil))
    }

    func testPageJSONAlwaysHasBothKeysAndDecodes() throws {
        let last = Page(items: [1, 2], nextCursor: nil)
        let json = String(decoding: try JSONEncoder().encode(last), as: UTF8.self)
        XCTAssertTrue(json.contains(#""nextCursor":null"#), json)
        XCTAssertEqual(try JSONDecoder().decode(Page<Int>.self, from: Data(json.utf8)), last)
        let more = Page(items: ["x"], nextCursor: "eA")
        XCTAssertEqual(try JSONDecoder().decode(Page<String>.self, from: JSONEncoder().encode(more)), more)
        // A body without `nextCursor` breaks the contract and does not decode.
        XCTAssertThrowsError(try JSONDecoder().decode(Page<Int>.self, from: Data(#"{"items":[1]}"#.utf8)))
        XCTAssertThrowsError(try JSONDecoder().decode(Page<Int>.self, from: Data(#"{"nextCursor":null}"#.utf8)))
    }
}
