import Contracts
import Foundation
import TestSupport
import XCTest
@testable import Segment

/// Keyed attribute columns (balances, timestamps: a Double per customer) must answer exactly what the
/// evaluator says, above all where a key ties with an operand: equal decimals written differently, a
/// decimal too long for a Double, every instant of a day against that day, an instant exactly at a
/// window's edge. Operands are drawn from the population's own values so that ties are common.
final class KeyedColumnTests: XCTestCase {
    static let timeZone = TimeZone(identifier: "Asia/Shanghai")!
    static let now = JSONCoding.parseDate("2026-12-02T07:23:45.250Z")!

    static func amount(_ r: inout SplitMix64) -> JSONValue {
        r.pick([.number(Double(r.int(-40...40)) / 4), .string("\(r.int(0...30)).\(r.int(0...9))"),
                .string("\(r.int(0...30)).0\(r.int(0...9))"), .string("\(r.int(0...30))"), .string("-\(r.int(0...9)).50"),
                .string("-0"), .string("0.00"), .string("10.000000000000001"), .string("10.0000000000000001"),
                .string("123456789012345"), .string("1234567890123456"), .number(1e300), .string("007"), .string("n/a")])
    }

    static func seen(_ r: inout SplitMix64) -> JSONValue {
        let windows: [Double] = [3_600, 86_400, 7 * 86_400, 30 * 86_400]
        let t: Date = r.chance(0.2) ? now.addingTimeInterval(-r.pick(windows))
            : now.addingTimeInterval(-Double(r.int(0...40 * 86_400)) - Double(r.int(0...999)) / 1000)
        return r.pick([.string(JSONCoding.formatDate(t)), .string(JSONCoding.formatDate(t)), .string(JSONCoding.formatDate(t)),
                       .string("2026-11-30T08:00:00+08:00"), .string("2026-11-29"), .string("2026-12-01t16:00:00z"), .number(5)])
    }

    /// An operand of the column's kind: one of its values, that value's day, or a near neighbour.
    static func operand(_ column: String, _ values: [JSONValue], _ r: inout SplitMix64) -> JSONValue {
        let value = r.pick(values)
        switch (column, value) {
        case ("seen", .string(let text)) where text.count == 24 && r.chance(0.4):
            return .string(String(text.prefix(10)))   // the day of an instant
        case ("amount", .string(let text)) where r.chance(0.3):
            return .string(text + "0")                // the same decimal, written longer (or a new code)
        default:
            return r.chance(0.85) ? value : (column == "amount" ? amount(&r) : seen(&r))
        }
    }

    func testKeyedColumnsAgreeWithTheEvaluatorAtTies() throws {
        let evaluator = RuleEvaluator(timeZone: Self.timeZone)
        var r = SplitMix64(seed: 77)
        var index = CustomerIndex(timeZone: Self.timeZone, keyedAfter: 16)
        var documents: [CustomerFactsDocument] = []
        for i in 0..<600 {
            var attributes: [String: JSONValue] = [:]
            if r.chance(0.9) { attributes["amount"] = Self.amount(&r) }
            if r.chance(0.9) { attributes["seen"] = Self.seen(&r) }
            let document = CustomerFactsDocument(customerId: "C\(i)", exists: true, orgPath: "/hq/", attributes: attributes)
            documents.append(document)
            index.apply(document)
        }
        XCTAssertEqual(index.attributes["amount"]?.isKeyed, true)
        XCTAssertEqual(index.attributes["seen"]?.isKeyed, true)
        // Every value comes back exactly as it went in, keyed or not.
        for (slot, document) in documents.enumerated() {
            for name in ["amount", "seen"] { XCTAssertEqual(index.attribute(name, at: slot), document.attributes[name], "\(name) of C\(slot)") }
        }
        let engine = SegmentEvaluator(index: index, evaluator: evaluator)
        var disagreements: [String] = []
        var ties = 0
        for _ in 0..<3_000 {
            let column = r.pick(["amount", "seen"])
            let values = documents.compactMap { $0.attributes[column] }
            let op = r.pick(RuleOperator.allCases.filter { ![.within, .notWithin].contains($0) || column == "seen" })
            let value: JSONValue?
            switch op {
            case .isSet, .isNotSet: value = nil
            case .between:
                var (a, b) = (Self.operand(column, values, &r), Self.operand(column, values, &r))
                if let ab = try? AttributeCondition(attribute: column, op: .gt, value: a),
                   evaluator.evaluate(ab, value: b, now: Self.now) { swap(&a, &b) }
                value = .array([a, b])
            case .in, .notIn: value = .array((0..<r.int(1...3)).map { _ in Self.operand(column, values, &r) })
            case .within, .notWithin: value = .string(r.pick(["1h", "1d", "7d", "30d"]))
            case .contains, .startsWith: value = .string(r.pick(["1", "0", "-", ".5", "2026-11", "Z"]))
            default: value = Self.operand(column, values, &r)
            }
            guard let condition = try? AttributeCondition(attribute: column, op: op, value: value) else { continue }
            let selected = engine.select(.attribute(condition), orgPath: "/hq/", now: Self.now)
            for (slot, document) in documents.enumerated() {
                let expected = evaluator.evaluate(condition, value: document.attributes[column], now: Self.now)
                if selected.contains(slot) != expected {
                    disagreements.append("\(column) \(op.rawValue) \(value.map { "\($0)" } ?? "-") on \(document.attributes[column].map { "\($0)" } ?? "unset"): engine \(!expected)")
                }
            }
            if let value, values.contains(value) { ties += 1 }
        }
        XCTAssertTrue(disagreements.isEmpty, "\(disagreements.count) disagreements; first: \(disagreements.prefix(5).joined(separator: "\n"))")
        XCTAssertGreaterThan(ties, 700, "operands must often equal a value held")
    }
}
