import Foundation
import XCTest
@testable import Contracts

/// What rules mean for one customer: truth tables per operator, tags, events, composition.
final class RuleEvaluatorTests: XCTestCase {
    private let now = RuleFixtures.date("2026-03-01T00:00:00Z")
    private let shanghai = RuleEvaluator(timeZone: RuleFixtures.shanghai)
    private let utc = RuleEvaluator(timeZone: RuleFixtures.utc)

    /// Evaluates `{"attr": "x", "op": op, "value": operand}` for customers whose `x` is each value
    /// (nil: no such attribute) and compares with the expected truth.
    private func table(_ op: String, _ operand: JSONValue?, _ rows: [(JSONValue?, Bool)],
                       evaluator: RuleEvaluator? = nil, file: StaticString = #filePath, line: UInt = #line) {
        var document: [String: JSONValue] = ["attr": "x", "op": .string(op)]
        if let operand { document["value"] = operand }
        let rule: Rule
        do { rule = try Rule(json: .object(document)) } catch {
            return XCTFail("\(document) rejected: \(error)", file: file, line: line)
        }
        for (value, expected) in rows {
            var customer = CustomerSnapshot()
            if let value { customer.attributes["x"] = value }
            let result = (evaluator ?? shanghai).evaluate(rule, for: customer, now: now)
            XCTAssertEqual(result, expected, "x = \(value.map { "\($0)" } ?? "missing") \(op) \(operand.map { "\($0)" } ?? "")",
                           file: file, line: line)
            let negated = (evaluator ?? shanghai).evaluate(.not(rule), for: customer, now: now)
            XCTAssertEqual(negated, !expected, "not is the negation", file: file, line: line)
        }
    }

    // MARK: Attributes

    func testEquality() {
        table("eq", 5, [
            (5, true), (5.0, true), ("5", true), ("5.00", true), ("-5", false), ("05", false), ("5e0", false),
            ("abc", false), (true, false), ([5], false), (["v": 5], false), (.null, false), (nil, false),
        ])
        table("eq", "Shanghai", [("Shanghai", true), ("shanghai", false), ("Shanghai ", false), (nil, false)])
        table("eq", "café", [("cafe\u{301}", true)]) // canonically equivalent text is equal
        table("eq", "0101", [("0101", true), ("101", false), (101, false)]) // codes with a leading zero are text
        table("eq", "500000.00", [("500000", true), (500000, true), ("500000.001", false)])
        table("eq", true, [(true, true), (false, false), ("true", false), (1, false)])
        table("eq", 0.1, [("0.1", true), (0.1, true), ("0.10", true)])
        table("eq", "123456789.123", [(123456789.123, true)])
    }

    func testInequalityHoldsOnlyForSetAttributes() {
        table("ne", 5, [(6, true), (5, false), ("5.0", false), ("abc", true), (true, true), ([5], true),
                         (.null, false), (nil, false)])
        table("ne", false, [(true, true), (false, false), (nil, false)])
    }

    func testOrdering() {
        table("gte", 500000, [
            ("500000.00", true), ("499999.99", false), (500000, true), (500001, true), (1e20, true),
            ("5e5", false), ("abc", false), (true, false), (.null, false), (nil, false),
        ])
        table("gt", "500000.00", [(500000, false), (500000.01, true), ("1000000", true), ("99999", false)])
        table("lt", -1.5, [(-2, true), ("-1.50", false), ("-1.6", true), (0, false)])
        table("lte", 10, [(10, true), ("10.0", true), (10.5, false), ("9", true)])
        // Text orders by code point, case-sensitively.
        table("gte", "C3", [("C3", true), ("C4", true), ("C2", false), ("c1", true), ("B9", false), (3, false)])
        table("lt", "abd", [("abc", true), ("abd", false), ("B", true)])
        // Bools are never ordered.
        table("gt", 0, [(true, false), (false, false)])
        // Strings of different kinds (text, decimal, date) are incomparable: no ordering holds, ne does.
        table("gt", "C3", [("100", false), ("2026-01-01", false)])
        table("lt", "C3", [("100", false), ("2026-01-01", false)])
        table("gt", "100", [("abc", false), ("2026-01-01", false), ("2026-01-01T00:00:00Z", false)])
        table("lt", "100", [("abc", false)])
        table("ne", "100", [("abc", true), ("2026-01-01", true), ("100.0", false)])
    }

    func testDatesAndTimestamps() {
        table("gt", "2026-01-30", [("2026-01-31", true), ("2026-01-30", false), ("2025-12-31", false), ("abc", false), (20260131, false)])
        table("eq", "2026-01-31T02:00:00Z", [
            ("2026-01-31T10:00:00+08:00", true), ("2026-01-31T02:00:00.000Z", true), ("2026-01-31T02:00:01Z", false),
        ])
        table("lt", "2026-01-31T02:00:00Z", [("2026-01-31T09:59:59+08:00", true), ("2026-01-31T10:00:00+08:00", false)])
        // Strings that only look like times are text: no silent roll-over of 2026-02-30.
        table("eq", "2026-03-02", [("2026-02-30", false)])

        // A timestamp against a date: the timestamp's date in the bank's time zone.
        // 2026-01-31T20:00:00Z is 2026-02-01 04:00 in Shanghai.
        let late = "2026-01-31T20:00:00Z"
        table("eq", "2026-02-01", [(.string(late), true)], evaluator: shanghai)
        table("eq", "2026-01-31", [(.string(late), false)], evaluator: shanghai)
        table("lt", "2026-02-01", [(.string(late), false)], evaluator: shanghai)
        table("eq", "2026-01-31", [(.string(late), true)], evaluator: utc)
        table("lt", "2026-02-01", [(.string(late), true)], evaluator: utc)
        table("between", ["2026-02-01", "2026-02-28"], [(.string(late), true)], evaluator: shanghai)
        table("between", ["2026-02-01", "2026-02-28"], [(.string(late), false)], evaluator: utc)
        // And a date attribute against a timestamp operand.
        table("gte", .string(late), [("2026-02-01", true), ("2026-01-31", false)], evaluator: shanghai)
        table("gte", .string(late), [("2026-01-31", true), ("2026-01-30", false)], evaluator: utc)
    }

    func testBetweenIsInclusive() {
        table("between", [1, 10], [(1, true), (10, true), ("10.00", true), (10.01, false), (0.99, false), ("5", true),
                                   ("abc", false), (true, false), (.null, false), (nil, false)])
        table("between", ["2026-01-01", "2026-01-31"], [("2026-01-31", true), ("2026-02-01", false), ("2026-01-01", true)])
        table("between", ["C1", "C3"], [("C2", true), ("C4", false), ("C3", true)])
    }

    func testMembership() {
        table("in", ["a", "b"], [("a", true), ("c", false), ("A", false), (.null, false), (nil, false), (["a"], false)])
        table("in", [1, 2], [("2", true), ("2.0", true), (2, true), (3, false), ("02", false)])
        table("not_in", ["a", "b"], [("c", true), ("a", false), (1, true), (["a"], true), (.null, false), (nil, false)])
        table("in", [true], [(true, true), (false, false), ("true", false)])
    }

    func testContainsAndStartsWith() {
        table("contains", "lo w", [("hello world", true), ("Hello World", false), (["lo w"], true), (["hello world"], false),
                                   (5, false), (nil, false)])
        table("contains", 2, [([1, 2], true), (["2.0"], true), ([[2]], false), ("123", false), (2, false)])
        table("contains", true, [([false, true], true), ([false], false)])
        table("contains", "王", [("王小明", true), ("李四", false)])
        table("starts_with", "138", [("13812345678", true), ("0138", false), (13812345678, false), (["138"], false),
                                     (nil, false)])
    }

    func testSetAndNotSet() {
        table("is_set", nil, [(nil, false), (.null, false), ("", true), ([], true), ([:], true), (0, true), (false, true)])
        table("is_not_set", nil, [(nil, true), (.null, true), ("", false), (0, false)])
    }

    func testWithinAndNotWithin() {
        // now = 2026-03-01T00:00:00Z, so 30d ago is 2026-01-30T00:00:00Z.
        table("within", "30d", [
            ("2026-02-15T00:00:00Z", true), ("2026-01-30T00:00:00Z", true), ("2026-01-29T23:59:59Z", false),
            ("2026-03-01T00:00:00Z", true), ("2026-03-01T00:00:01Z", false),
            // Dates stand for their whole local day (Shanghai: 2026-01-30 is 01-29T16:00Z … 01-30T16:00Z).
            ("2026-01-30", true), ("2026-01-29", false), ("2026-03-01", true), ("2026-03-02", false),
            ("abc", false), (1_772_323_200, false), (.null, false), (nil, false),
        ])
        table("not_within", "30d", [
            ("2026-01-29T23:59:59Z", true), ("2026-01-30T00:00:00Z", false), ("2026-02-15T00:00:00Z", false),
            ("2026-01-29", true), ("2026-01-30", false),
            ("2027-01-01T00:00:00Z", false), ("abc", false), (nil, false),
        ])
        // In UTC the day of 2026-01-29 ends exactly at the window's start: fully older.
        table("not_within", "30d", [("2026-01-29", true), ("2026-01-30", false)], evaluator: utc)
        table("within", "2h", [("2026-02-28T22:00:00Z", true), ("2026-02-28T21:59:59.999Z", false)])
    }

    func testAMissingAttributeSatisfiesOnlyAbsenceAndNegation() throws {
        let empty = CustomerSnapshot()
        for op in RuleOperator.allCases where op != .isNotSet {
            let operand: JSONValue? = switch op {
            case .isSet, .isNotSet: nil
            case .between: [1, 2]
            case .in, .notIn: [1]
            case .within, .notWithin: "1d"
            case .startsWith, .contains: "a"
            default: 1
            }
            let condition = try AttributeCondition(attribute: "missing", op: op, value: operand)
            XCTAssertFalse(shanghai.evaluate(.attribute(condition), for: empty, now: now), op.rawValue)
            XCTAssertTrue(shanghai.evaluate(.not(.attribute(condition)), for: empty, now: now), op.rawValue)
        }
    }

    // MARK: Tags

    func testTags() throws {
        let customer = CustomerSnapshot(tags: ["payroll": [], "asset_tier": ["L4"], "interests": ["fund", "gold"]])
        let expectations: [(String, Bool)] = [
            (#"{"tag": "payroll"}"#, true),
            (#"{"tag": "missing"}"#, false),
            (#"{"not": {"tag": "missing"}}"#, true),
            (#"{"tag": "asset_tier", "op": "in", "value": ["L4", "L5"]}"#, true),
            (#"{"tag": "asset_tier", "op": "in", "value": ["L1"]}"#, false),
            (#"{"tag": "asset_tier", "op": "not_in", "value": ["L1", "L2"]}"#, true),
            (#"{"tag": "asset_tier", "op": "not_in", "value": ["L4"]}"#, false),
            (#"{"tag": "asset_tier", "op": "eq", "value": "L4"}"#, true),
            (#"{"tag": "asset_tier", "op": "eq", "value": "l4"}"#, false),
            (#"{"tag": "asset_tier", "op": "ne", "value": "L4"}"#, false),
            (#"{"tag": "asset_tier", "op": "ne", "value": "L1"}"#, true),
            (#"{"tag": "interests", "op": "eq", "value": "gold"}"#, true),
            (#"{"tag": "interests", "op": "ne", "value": "gold"}"#, false),
            (#"{"tag": "interests", "op": "in", "value": ["stock", "fund"]}"#, true),
            (#"{"tag": "interests", "op": "not_in", "value": ["stock", "fund"]}"#, false),
            (#"{"tag": "payroll", "op": "eq", "value": "x"}"#, false),
            (#"{"tag": "payroll", "op": "ne", "value": "x"}"#, true),
            (#"{"tag": "payroll", "op": "not_in", "value": ["x"]}"#, true),
            (#"{"tag": "missing", "op": "ne", "value": "x"}"#, false),
            (#"{"tag": "missing", "op": "not_in", "value": ["x"]}"#, false),
        ]
        for (text, expected) in expectations {
            let rule = try XCTUnwrap(RuleFixtures.rule(text))
            XCTAssertEqual(shanghai.evaluate(rule, for: customer, now: now), expected, text)
        }
    }

    // MARK: Events

    private func day(_ days: Double) -> Date { now.addingTimeInterval(-days * 86_400) }

    private var buyer: CustomerSnapshot {
        CustomerSnapshot(events: [
            CustomerEvent(name: "fund_purchase", occurredAt: day(1), properties: ["amount": "5000.00", "product": "fund_a", "channel": "app"]),
            CustomerEvent(name: "fund_purchase", occurredAt: day(10), properties: ["amount": 200, "product": "fund_b", "channel": "branch"]),
            CustomerEvent(name: "fund_purchase", occurredAt: day(40), properties: ["amount": "90000", "product": "bond_c"]),
            CustomerEvent(name: "fund_purchase", occurredAt: now.addingTimeInterval(3600), properties: ["amount": 1]),
            CustomerEvent(name: "app_login", occurredAt: day(100)),
            CustomerEvent(name: "card_bind", occurredAt: day(30)),
            CustomerEvent(name: "card_bind", occurredAt: now),
        ])
    }

    func testEventCountsWithWindowsAndFilters() throws {
        let expectations: [(String, Bool)] = [
            (#"{"event": "fund_purchase"}"#, true),
            (#"{"event": "fund_purchase", "count": {"op": "gte", "value": 2}, "within": "30d"}"#, true),
            (#"{"event": "fund_purchase", "count": {"op": "gte", "value": 3}, "within": "30d"}"#, false),
            (#"{"event": "fund_purchase", "count": {"op": "eq", "value": 3}}"#, true), // the future one is not counted
            (#"{"event": "fund_purchase", "count": {"op": "gt", "value": 3}}"#, false),
            (#"{"event": "fund_purchase", "count": {"op": "lt", "value": 2}, "within": "5d"}"#, true),
            (#"{"event": "fund_purchase", "count": {"op": "ne", "value": 1}, "within": "5d"}"#, false),
            (#"{"event": "fund_purchase", "count": {"op": "lte", "value": 2}, "within": "30d"}"#, true),
            // where, with decimal strings and numbers alike
            (#"{"event": "fund_purchase", "where": {"attr": "amount", "op": "gte", "value": 1000}, "count": {"op": "eq", "value": 1}, "within": "30d"}"#, true),
            (#"{"event": "fund_purchase", "where": {"attr": "amount", "op": "gte", "value": 1000}, "count": {"op": "eq", "value": 2}}"#, true),
            (#"{"event": "fund_purchase", "where": {"attr": "product", "op": "starts_with", "value": "fund"}, "count": {"op": "eq", "value": 2}}"#, true),
            (#"{"event": "fund_purchase", "where": {"all": [{"attr": "product", "op": "starts_with", "value": "fund"}, {"not": {"attr": "channel", "op": "eq", "value": "branch"}}]}, "count": {"op": "eq", "value": 1}}"#, true),
            // a missing property satisfies nothing but absence
            (#"{"event": "fund_purchase", "where": {"attr": "channel", "op": "ne", "value": "app"}, "count": {"op": "eq", "value": 1}}"#, true),
            (#"{"event": "fund_purchase", "where": {"attr": "channel", "op": "is_not_set"}, "count": {"op": "eq", "value": 1}}"#, true),
            (#"{"event": "fund_purchase", "where": {"attr": "nothing", "op": "eq", "value": "x"}}"#, false),
            // did not
            (#"{"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "90d"}"#, true),
            (#"{"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "120d"}"#, false),
            (#"{"event": "never_happened", "count": {"op": "eq", "value": 0}}"#, true),
            (#"{"event": "never_happened"}"#, false),
            // both ends of the window are included: one event exactly 30d ago, one exactly now
            (#"{"event": "card_bind", "count": {"op": "eq", "value": 2}, "within": "30d"}"#, true),
            (#"{"event": "card_bind", "count": {"op": "eq", "value": 1}, "within": "720h"}"#, false),
            (#"{"event": "card_bind", "count": {"op": "eq", "value": 1}, "within": "2591999s"}"#, true),
        ]
        for (text, expected) in expectations {
            let rule = try XCTUnwrap(RuleFixtures.rule(text))
            XCTAssertEqual(shanghai.evaluate(rule, for: buyer, now: now), expected, text)
        }
    }

    func testPropertyFiltersUseTheEvaluatorsTimeZoneAndNow() throws {
        // Paid at 2026-02-28T17:00:00Z, which is 2026-03-01 01:00 in Shanghai.
        let customer = CustomerSnapshot(events: [
            CustomerEvent(name: "pay", occurredAt: day(1), properties: ["paidAt": "2026-02-28T17:00:00Z"]),
        ])
        let onFirst = try XCTUnwrap(RuleFixtures.rule(#"{"event": "pay", "where": {"attr": "paidAt", "op": "eq", "value": "2026-03-01"}}"#))
        XCTAssertTrue(shanghai.evaluate(onFirst, for: customer, now: now))
        XCTAssertFalse(utc.evaluate(onFirst, for: customer, now: now))
        let recent = try XCTUnwrap(RuleFixtures.rule(#"{"event": "pay", "where": {"attr": "paidAt", "op": "within", "value": "8h"}}"#))
        XCTAssertTrue(shanghai.evaluate(recent, for: customer, now: now))
        XCTAssertFalse(shanghai.evaluate(recent, for: customer, now: now.addingTimeInterval(86_400)))
    }

    func testTheEvaluatorAsksTheFactsForTheRightWindow() throws {
        final class Recorder: CustomerFacts {
            var attributeReads: [String] = []
            var eventQueries: [(name: String, since: Date?, until: Date, filtered: Bool)] = []
            func attribute(_ name: String) -> JSONValue? { attributeReads.append(name); return name == "aum" ? 10 : nil }
            func tagValues(_ code: String) -> [String]? { nil }
            func eventCount(name: String, matching filter: EventFilter?, since: Date?, until: Date) -> Int {
                eventQueries.append((name, since, until, filter != nil))
                if let filter {
                    XCTAssertTrue(filter.matches(["amount": 5]))
                    XCTAssertFalse(filter.matches(["amount": 4]))
                    XCTAssertFalse(filter.matches([:]))
                }
                return 1
            }
            func isMember(segment id: String) -> Bool { id == "s" }
            func isMember(list id: String) -> Bool { false }
        }
        let recorder = Recorder()
        let rule = try XCTUnwrap(RuleFixtures.rule(#"""
        {"all": [{"event": "login", "within": "90d"},
                 {"event": "buy", "where": {"attr": "amount", "op": "gte", "value": 5}},
                 {"segment": "s"}]}
        """#))
        XCTAssertTrue(shanghai.evaluate(rule, for: recorder, now: now))
        XCTAssertEqual(recorder.eventQueries.count, 2)
        XCTAssertEqual(recorder.eventQueries[0].name, "login")
        XCTAssertEqual(recorder.eventQueries[0].since, now.addingTimeInterval(-90 * 86_400), "90d is exactly 90 × 24 h")
        XCTAssertEqual(recorder.eventQueries[0].until, now)
        XCTAssertFalse(recorder.eventQueries[0].filtered)
        XCTAssertNil(recorder.eventQueries[1].since, "no window: all time")
        XCTAssertTrue(recorder.eventQueries[1].filtered)

        // all/any stop at the first decisive condition.
        let shortCircuit = try XCTUnwrap(RuleFixtures.rule(#"""
        {"any": [{"attr": "aum", "op": "gt", "value": 5}, {"attr": "never_read", "op": "is_set"}]}
        """#))
        XCTAssertTrue(shanghai.evaluate(shortCircuit, for: recorder, now: now))
        XCTAssertFalse(recorder.attributeReads.contains("never_read"))
    }

    // MARK: Composition

    func testNestedConditions() throws {
        let customer = CustomerSnapshot(
            attributes: ["aum": "650000.00", "riskLevel": "C4", "isPayroll": true, "city": "上海"],
            tags: ["asset_tier": ["L4"]],
            events: [CustomerEvent(name: "app_login", occurredAt: day(2))],
            segments: ["seg_vip"], lists: ["global_blacklist_other"])
        let rule = #"""
        {"all": [
          {"any": [{"attr": "aum", "op": "gte", "value": 500000}, {"tag": "asset_tier", "op": "in", "value": ["L5"]}]},
          {"not": {"list": "global_blacklist"}},
          {"attr": "riskLevel", "op": "in", "value": ["C4", "C5"]},
          {"not": {"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "30d"}},
          {"segment": "seg_vip"}
        ]}
        """#
        let parsed = try XCTUnwrap(RuleFixtures.rule(rule))
        XCTAssertTrue(shanghai.evaluate(parsed, for: customer, now: now))

        var blacklisted = customer
        blacklisted.lists = ["global_blacklist"]
        XCTAssertFalse(shanghai.evaluate(parsed, for: blacklisted, now: now))

        var poorer = customer
        poorer.attributes["aum"] = "499999.99"
        XCTAssertFalse(shanghai.evaluate(parsed, for: poorer, now: now))
        poorer.tags["asset_tier"] = ["L5"]
        XCTAssertTrue(shanghai.evaluate(parsed, for: poorer, now: now))

        XCTAssertFalse(shanghai.evaluate(parsed, for: customer, now: now.addingTimeInterval(40 * 86_400)),
                       "the login falls out of the window as time moves")

        // Rules built in code: the empty all holds, the empty any does not.
        XCTAssertTrue(shanghai.evaluate(.all([]), for: customer, now: now))
        XCTAssertFalse(shanghai.evaluate(.any([]), for: customer, now: now))
    }

    func testLifecycleStyleRules() throws {
        let newCustomer = try XCTUnwrap(RuleFixtures.rule(#"{"attr": "registeredAt", "op": "within", "value": "30d"}"#))
        let dormant = try XCTUnwrap(RuleFixtures.rule(#"""
        {"all": [{"attr": "registeredAt", "op": "not_within", "value": "90d"},
                 {"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "90d"}]}
        """#))
        let fresh = CustomerSnapshot(attributes: ["registeredAt": "2026-02-20T08:00:00+08:00"])
        let old = CustomerSnapshot(attributes: ["registeredAt": "2024-05-01"],
                                   events: [CustomerEvent(name: "app_login", occurredAt: day(91))])
        XCTAssertTrue(shanghai.evaluate(newCustomer, for: fresh, now: now))
        XCTAssertFalse(shanghai.evaluate(dormant, for: fresh, now: now))
        XCTAssertFalse(shanghai.evaluate(newCustomer, for: old, now: now))
        XCTAssertTrue(shanghai.evaluate(dormant, for: old, now: now))
        var active = old
        active.events.append(CustomerEvent(name: "app_login", occurredAt: day(89)))
        XCTAssertFalse(shanghai.evaluate(dormant, for: active, now: now))
    }
}
