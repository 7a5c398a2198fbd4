import Contracts
import Foundation
import XCTest

/// The direct JSON parser agrees with Foundation on valid text, refuses what RFC 8259 refuses, and
/// never crashes or recurses without bound on hostile input.
final class JSONParserTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    func testValidDocumentsMatchJSONDecoder() throws {
        let documents = [
            #"{"events":[{"eventId":"e1","customerId":"C1","name":"app_login","occurredAt":"2026-01-01T00:00:00Z","properties":{"amount":12.5,"ok":true,"n":null}}]}"#,
            #"[1, -0, 0.5, 1e3, -2.5E-3, 123456789012345678]"#,
            #"  "plain"  "#, "true", "false", "null", "0", "[]", "{}", #"[[[]],{"a":{"b":[1,{}]}}]"#,
            #"{"s":"tab\there \"q\" \\ \/ \u00e9 \u4e2d\u6587 \ud83d\ude00 ünï 中文"}"#,
        ]
        for text in documents {
            let expected = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            XCTAssertEqual(try parse(text), expected, text)
        }
        XCTAssertThrowsError(try parse(#"{"a":1,"a":2}"#), "a repeated name is ambiguous")
        XCTAssertEqual(try parse(#""\ud83d\ude00""#), "😀")
    }

    func testInvalidTextIsRefusedWithAnOffset() {
        let invalid = ["", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc",
                       "\"a\u{01}b\"", #""\x""#, #""\u12""#, #""\ud800""#, #""\udc00x""#, #""\ud800\u0041""#, "[1 2]",
                       "{\"a\" 1}", "{a:1}", "1 2", "[\"a\"]]", "1e999", "NaN", "// c\n1"]
        for text in invalid {
            XCTAssertThrowsError(try parse(text), text.debugDescription) { error in
                XCTAssertNotNil(error as? JSONParser.Failure)
            }
        }
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xFF, 0x22]))   // not UTF-8
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try parse(deep))
        let ok = String(repeating: "[", count: JSONParser.maximumDepth) + String(repeating: "]", count: JSONParser.maximumDepth)
        XCTAssertNoThrow(try parse(ok))
    }

    func testRandomInputNeverCrashesAndAgreesWithFoundationOnWhatIsValid() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]",:0123456789-+.eEtruefalsn \"\u\\/abc"#.utf8) + [0xE4, 0xB8, 0xAD, 0x0A, 0x01]
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...24, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let ours = try? JSONParser.parse(bytes)
            let theirs = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            if ours != nil { XCTAssertNotNil(theirs, String(decoding: bytes, as: UTF8.self)) }
        }
    }

    /// What the direct writer writes, both readers read back to the same value.
    func testWrittenValuesReadBackTheSame() throws {
        var rng = SystemRandomNumberGenerator()
        let numbers: [Double] = [0, -0.0, 1, -1, 0.1, 1e-5, 2.5e-3, 1e300, -1e300, 5e-324, 9_007_199_254_740_992,
                                 9_007_199_254_740_994, 123_456_789.125, Double.greatestFiniteMagnitude]
        let strings = ["", "plain", "引号\"q\" \\ / \n\t\u{01}\u{7F}", "中文 ünï 😀", "\u{2028}\u{2029}"]
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &rng))
            case 2: return .number(Bool.random(using: &rng) ? numbers.randomElement(using: &rng)!
                                                            : Double.random(in: -1e6...1e6, using: &rng))
            case 3: return .string(strings.randomElement(using: &rng)!)
            case 4: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in random(depth + 1) })
            default:
                var members: [String: JSONValue] = [:]
                for i in 0..<Int.random(in: 0...4, using: &rng) { members[strings.randomElement(using: &rng)! + "\(i)"] = random(depth + 1) }
                return .object(members)
            }
        }
        for _ in 0..<2_000 {
            let value = random(0)
            let bytes = value.jsonBytes
            let text = String(decoding: bytes, as: UTF8.self)
            XCTAssertEqual(try JSONParser.parse(bytes), value, text)
            XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: Data(bytes)), value, text)
        }
        XCTAssertEqual(String(decoding: JSONValue.number(5).jsonBytes, as: UTF8.self), "5")
        XCTAssertEqual(String(decoding: JSONValue.number(.nan).jsonBytes, as: UTF8.self), "null", "JSON has no NaN")
        XCTAssertEqual(String(decoding: JSONValue.array([.number(.infinity), "a"]).jsonBytes, as: UTF8.self), #"[null,"a"]"#)
    }
}
