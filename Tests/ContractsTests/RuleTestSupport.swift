import Foundation
import XCTest
@testable import Contracts

/// Shared helpers of the rule-language tests.
enum RuleFixtures {
    static func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            XCTFail("test JSON does not parse: \(text)", file: file, line: line)
            return .null
        }
    }

    static func rule(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Rule? {
        do {
            return try Rule(json: json(text, file: file, line: line))
        } catch {
            XCTFail("\(text) was rejected: \(error)", file: file, line: line)
            return nil
        }
    }

    static func date(_ text: String) -> Date {
        guard let date = RFC3339.parse(text) else { preconditionFailure("bad test timestamp \(text)") }
        return date
    }

    static let shanghai = TimeZone(identifier: "Asia/Shanghai")!
    static let utc = TimeZone(identifier: "UTC")!
}

