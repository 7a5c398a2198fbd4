import Foundation
import TestSupport
import XCTest
@testable import Contracts

/// Parsing, validation, encoding and inputs of the rule language.
final class RuleParsingTests: XCTestCase {
    private let json = { (text: String) in RuleFixtures.json(text) }

    // MARK: Every form

    func testEveryFormParsesToItsCase() throws {
        let aum = try AttributeCondition(attribute: "aum", op: .gte, value: 500000)
        XCTAssertEqual(RuleFixtures.rule(#"{"attr": "aum", "op": "gte", "value": 500000}"#), .attribute(aum))
        XCTAssertEqual(RuleFixtures.rule(#"{"tag": "payroll_customer"}"#), .tag(try TagCondition(tag: "payroll_customer")))
        XCTAssertEqual(RuleFixtures.rule(#"{"tag": "asset_tier", "op": "in", "value": ["L4", "L5"]}"#),
                       .tag(try TagCondition(tag: "asset_tier", op: .in, values: ["L4", "L5"])))
        XCTAssertEqual(RuleFixtures.rule(#"{"tag": "asset_tier", "op": "ne", "value": "L1"}"#),
                       .tag(try TagCondition(tag: "asset_tier", op: .ne, values: ["L1"])))
        XCTAssertEqual(RuleFixtures.rule(#"{"segment": "seg_1"}"#), .segment("seg_1"))
        XCTAssertEqual(RuleFixtures.rule(#"{"list": "blacklist"}"#), .list("blacklist"))
        XCTAssertEqual(RuleFixtures.rule(#"{"not": {"segment": "s"}}"#), .not(.segment("s")))
        XCTAssertEqual(RuleFixtures.rule(#"{"all": [{"segment": "a"}, {"list": "b"}]}"#), .all([.segment("a"), .list("b")]))
        XCTAssertEqual(RuleFixtures.rule(#"{"any": [{"segment": "a"}]}"#), .any([.segment("a")]))

        let purchase = try XCTUnwrap(RuleFixtures.rule(
            #"{"event": "fund_purchase", "where": {"attr": "amount", "op": "gte", "value": 1000}, "count": {"op": "gte", "value": 2}, "within": "30d"}"#))
        let expected = try EventCondition(
            event: "fund_purchase",
            where: .attribute(try AttributeCondition(attribute: "amount", op: .gte, value: 1000)),
            count: try CountCondition(op: .gte, value: 2),
            within: try RuleDuration(30, .days))
        XCTAssertEqual(purchase, .event(expected))

        let didNot = try XCTUnwrap(RuleFixtures.rule(#"{"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "90d"}"#))
        XCTAssertEqual(didNot, .event(try EventCondition(event: "app_login", count: .none, within: try RuleDuration(90, .days))))

        let plain = try XCTUnwrap(RuleFixtures.rule(#"{"event": "fund_purchase"}"#))
        guard case .event(let condition) = plain else { return XCTFail("not an event condition") }
        XCTAssertEqual(condition.count, .atLeastOne)
        XCTAssertNil(condition.within)
        XCTAssertNil(condition.filter)
    }

    func testEveryAttributeOperatorParses() {
        let rules = [
            #"{"attr": "city", "op": "eq", "value": "上海"}"#,
            #"{"attr": "isPayroll", "op": "ne", "value": true}"#,
            #"{"attr": "aum", "op": "gt", "value": "500000.00"}"#,
            #"{"attr": "aum", "op": "gte", "value": 0}"#,
            #"{"attr": "birthDate", "op": "lt", "value": "1990-01-01"}"#,
            #"{"attr": "registeredAt", "op": "lte", "value": "2026-01-01T00:00:00+08:00"}"#,
            #"{"attr": "aum", "op": "between", "value": [100, "200.50"]}"#,
            #"{"attr": "birthDate", "op": "between", "value": ["1980-01-01", "1989-12-31"]}"#,
            #"{"attr": "riskLevel", "op": "between", "value": ["C1", "C3"]}"#,
            #"{"attr": "aum", "op": "between", "value": [5, 5]}"#,
            #"{"attr": "riskLevel", "op": "in", "value": ["C4", "C5"]}"#,
            #"{"attr": "riskLevel", "op": "not_in", "value": ["C1", 2, true]}"#,
            #"{"attr": "name", "op": "contains", "value": "王"}"#,
            #"{"attr": "products", "op": "contains", "value": 42}"#,
            #"{"attr": "phone", "op": "starts_with", "value": "138"}"#,
            #"{"attr": "accountManagerId", "op": "is_set"}"#,
            #"{"attr": "accountManagerId", "op": "is_not_set"}"#,
            #"{"attr": "registeredAt", "op": "within", "value": "30d"}"#,
            #"{"attr": "lastActiveAt", "op": "not_within", "value": "90d"}"#,
        ]
        for text in rules {
            guard let rule = RuleFixtures.rule(text) else { continue }
            XCTAssertEqual(rule.json, json(text), "encodes back as written: \(text)")
        }
        XCTAssertEqual(Set(rules.compactMap { RuleFixtures.json($0)["op"]?.stringValue }),
                       Set(RuleOperator.allCases.map(\.rawValue)), "the list above covers every operator")
    }

    func testRulesRoundTripThroughJSONAndCodable() throws {
        let text = #"""
        {"all": [
          {"any": [{"attr": "aum", "op": "gte", "value": 500000}, {"tag": "asset_tier", "op": "in", "value": ["L4", "L5"]}]},
          {"not": {"list": "global_blacklist"}},
          {"event": "fund_purchase", "where": {"all": [{"attr": "amount", "op": "gte", "value": "1000.00"},
                                                       {"not": {"attr": "channel", "op": "eq", "value": "branch"}}]},
           "count": {"op": "gte", "value": 2}, "within": "30d"},
          {"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "90d"},
          {"tag": "payroll_customer"}, {"tag": "asset_tier", "op": "eq", "value": "L4"},
          {"segment": "seg_vip"}
        ]}
        """#
        let rule = try XCTUnwrap(RuleFixtures.rule(text))
        XCTAssertEqual(rule.json, json(text))
        XCTAssertEqual(try Rule(json: rule.json), rule)

        let data = try JSONCoding.encoder().encode(rule)
        XCTAssertEqual(try JSONCoding.decoder().decode(Rule.self, from: data), rule)
        XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: data), json(text))
    }

    func testTheDefaultCountIsLeftOutWhenEncoding() throws {
        let rule = try XCTUnwrap(RuleFixtures.rule(#"{"event": "login", "count": {"op": "gte", "value": 1}}"#))
        XCTAssertEqual(rule.json, json(#"{"event": "login"}"#))
    }

    // MARK: Faults and their paths

    func testMalformedRulesNameTheirFault() {
        // (rule, path, a word of the message)
        let cases: [(String, String, String)] = [
            (#"[]"#, "$", "object"),
            (#""aum""#, "$", "object"),
            (#"null"#, "$", "object"),
            (#"{}"#, "$", "needs one of"),
            (#"{"op": "eq", "value": 1}"#, "$", "needs one of"),
            (#"{"attr": "a", "tag": "b"}"#, "$", "attr and tag"),
            (#"{"all": []}"#, "$.all", "non-empty"),
            (#"{"any": {}}"#, "$.any", "non-empty"),
            (#"{"all": [{"attr": "aum", "op": "gte", "value": 1}, 5]}"#, "$.all[1]", "object"),
            (#"{"any": [{"attr": "aum", "op": "gte", "value": 1}, {"attr": "aum", "op": "bogus", "value": 1}]}"#, "$.any[1].op", "unknown op"),
            (#"{"all": [{"attr": "aum", "op": "gte", "value": 1, "extra": 1}]}"#, "$.all[0].extra", "unknown member"),
            (#"{"attr": "a", "op": "is_set", "my key": 1}"#, #"$["my key"]"#, "unknown member"),
            (#"{"attr": "a", "op": "is_set", "b": 1, "a2": 1}"#, "$.a2", "unknown member"),
            (#"{"attr": "aum", "op": "gte"}"#, "$.value", "needs a value"),
            (#"{"attr": "aum", "value": 1}"#, "$.op", "required"),
            (#"{"attr": 5, "op": "eq", "value": 1}"#, "$.attr", "string"),
            (#"{"attr": "", "op": "eq", "value": 1}"#, "$.attr", "empty"),
            (#"{"attr": "a\u0001", "op": "eq", "value": 1}"#, "$.attr", "control"),
            (#"{"attr": "aum", "op": 5, "value": 1}"#, "$.op", "string"),
            (#"{"attr": "aum", "op": "EQ", "value": 1}"#, "$.op", "unknown op"),
            (#"{"attr": "aum", "op": "eq", "value": null}"#, "$.value", "is_not_set"),
            (#"{"attr": "aum", "op": "eq", "value": [1]}"#, "$.value", "string, number or bool"),
            (#"{"attr": "aum", "op": "ne", "value": {}}"#, "$.value", "string, number or bool"),
            (#"{"attr": "aum", "op": "gt", "value": true}"#, "$.value", "string or number"),
            (#"{"attr": "aum", "op": "lte", "value": null}"#, "$.value", "string or number"),
            (#"{"attr": "aum", "op": "between", "value": [2, 1]}"#, "$.value", "lo <= hi"),
            (#"{"attr": "aum", "op": "between", "value": ["200.5", 100]}"#, "$.value", "lo <= hi"),
            (#"{"attr": "d", "op": "between", "value": ["2026-02-01", "2026-01-01"]}"#, "$.value", "lo <= hi"),
            (#"{"attr": "aum", "op": "between", "value": [1]}"#, "$.value", "[lo, hi]"),
            (#"{"attr": "aum", "op": "between", "value": [1, 2, 3]}"#, "$.value", "[lo, hi]"),
            (#"{"attr": "aum", "op": "between", "value": 1}"#, "$.value", "[lo, hi]"),
            (#"{"attr": "aum", "op": "between", "value": [1, true]}"#, "$.value[1]", "string or number"),
            (#"{"attr": "aum", "op": "between", "value": [null, 1]}"#, "$.value[0]", "string or number"),
            (#"{"attr": "d", "op": "between", "value": ["2026-01-01", "2026-02-01T00:00:00Z"]}"#, "$.value", "dates or both timestamps"),
            (#"{"attr": "aum", "op": "between", "value": [1, "abc"]}"#, "$.value", "comparable"),
            (#"{"attr": "r", "op": "between", "value": ["C1", "100"]}"#, "$.value", "comparable"),
            (#"{"attr": "r", "op": "in", "value": []}"#, "$.value", "non-empty array"),
            (#"{"attr": "r", "op": "in", "value": "C1"}"#, "$.value", "non-empty array"),
            (#"{"attr": "r", "op": "in", "value": [1, {}]}"#, "$.value[1]", "string, number or bool"),
            (#"{"attr": "r", "op": "not_in", "value": [null]}"#, "$.value[0]", "string, number or bool"),
            (#"{"attr": "r", "op": "not_in", "value": ["a", ["b"]]}"#, "$.value[1]", "string, number or bool"),
            (#"{"attr": "a", "op": "is_set", "value": 1}"#, "$.value", "takes no value"),
            (#"{"attr": "a", "op": "is_not_set", "value": null}"#, "$.value", "takes no value"),
            (#"{"attr": "a", "op": "starts_with", "value": 5}"#, "$.value", "non-empty string"),
            (#"{"attr": "a", "op": "starts_with", "value": ""}"#, "$.value", "non-empty string"),
            (#"{"attr": "a", "op": "contains", "value": ""}"#, "$.value", "non-empty string"),
            (#"{"attr": "a", "op": "contains", "value": ["x"]}"#, "$.value", "string, number or bool"),
            (#"{"attr": "a", "op": "within", "value": 30}"#, "$.value", "duration"),
            (#"{"attr": "a", "op": "within", "value": "30"}"#, "$.value", "duration"),
            (#"{"attr": "a", "op": "not_within", "value": "0d"}"#, "$.value", "positive"),
            (#"{"attr": "a", "op": "within", "value": "3651d"}"#, "$.value", "3650d"),
            (#"{"not": []}"#, "$.not", "object"),
            (#"{"not": {"tag": ""}}"#, "$.not.tag", "empty"),
            (#"{"not": {"not": {"all": [{"segment": 1}]}}}"#, "$.not.not.all[0].segment", "string"),
            (#"{"tag": 1}"#, "$.tag", "string"),
            (#"{"tag": "t", "op": "gt", "value": "x"}"#, "$.op", "not allowed"),
            (#"{"tag": "t", "op": "eq", "value": ["a"]}"#, "$.value", "a string"),
            (#"{"tag": "t", "op": "eq", "value": ""}"#, "$.value", "empty"),
            (#"{"tag": "t", "op": "in", "value": "a"}"#, "$.value", "array of strings"),
            (#"{"tag": "t", "op": "in", "value": []}"#, "$.value", "non-empty"),
            (#"{"tag": "t", "op": "not_in", "value": ["a", 1]}"#, "$.value[1]", "strings"),
            (#"{"tag": "t", "op": "in"}"#, "$.value", "needs a value"),
            (#"{"tag": "t", "value": "a"}"#, "$.op", "needs an op"),
            (#"{"tag": "t", "within": "1d"}"#, "$.within", "unknown member"),
            (#"{"event": ""}"#, "$.event", "empty"),
            (#"{"event": "e", "count": {"op": "gte", "value": -1}}"#, "$.count.value", "whole number"),
            (#"{"event": "e", "count": {"op": "gte", "value": 1.5}}"#, "$.count.value", "whole number"),
            (#"{"event": "e", "count": {"op": "gte", "value": "2"}}"#, "$.count.value", "whole number"),
            (#"{"event": "e", "count": {"op": "gte", "value": 1e12}}"#, "$.count.value", "whole number"),
            (#"{"event": "e", "count": {"op": "gte"}}"#, "$.count.value", "required"),
            (#"{"event": "e", "count": {"value": 1}}"#, "$.count.op", "required"),
            (#"{"event": "e", "count": {"op": "between", "value": 1}}"#, "$.count.op", "not allowed"),
            (#"{"event": "e", "count": {"op": "gte", "value": 1, "x": 1}}"#, "$.count.x", "unknown member"),
            (#"{"event": "e", "count": 2}"#, "$.count", "object"),
            (#"{"event": "e", "within": "1y"}"#, "$.within", "duration"),
            (#"{"event": "e", "within": 5}"#, "$.within", "duration"),
            (#"{"event": "e", "within": null}"#, "$.within", "duration"),
            (#"{"event": "e", "where": null}"#, "$.where", "object"),
            (#"{"event": "e", "where": {"tag": "x"}}"#, "$.where", "inside where"),
            (#"{"event": "e", "where": {"all": [{"attr": "amount", "op": "gt", "value": 1}, {"segment": "s"}]}}"#, "$.where.all[1]", "inside where"),
            (#"{"event": "e", "where": {"not": {"event": "f"}}}"#, "$.where.not", "inside where"),
            (#"{"any": [{"event": "login", "where": {"attr": "channel", "op": "in", "value": []}}]}"#, "$.any[0].where.value", "non-empty"),
            (#"{"event": "e", "extra": 1}"#, "$.extra", "unknown member"),
            (#"{"segment": ""}"#, "$.segment", "empty"),
            (#"{"segment": "s", "op": "eq"}"#, "$.op", "unknown member"),
            (#"{"list": 1}"#, "$.list", "string"),
        ]
        for (text, path, word) in cases {
            XCTAssertThrowsError(try Rule(json: json(text)), text) { error in
                guard let error = error as? RuleError else { return XCTFail("\(text): not a RuleError: \(error)") }
                XCTAssertEqual(error.path, path, "\(text): \(error.message)")
                XCTAssertTrue(error.message.contains(word), "\(text): message \"\(error.message)\" lacks \"\(word)\"")
            }
        }
    }

    func testValuesBuiltInCodeAreCheckedToo() {
        XCTAssertThrowsError(try Rule(json: .object(["attr": "aum", "op": "eq", "value": .number(.nan)]))) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.value")
        }
        XCTAssertThrowsError(try Rule(json: .object(["attr": "aum", "op": "in", "value": [1, .number(.infinity)]]))) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.value[1]")
        }
        XCTAssertThrowsError(try AttributeCondition(attribute: "aum", op: .between, value: [3, 2]))
        XCTAssertThrowsError(try TagCondition(tag: "t", op: .gt, values: ["a"]))
        XCTAssertThrowsError(try TagCondition(tag: "t", values: ["a"]))
        XCTAssertThrowsError(try CountCondition(op: .in, value: 1))
        XCTAssertThrowsError(try CountCondition(op: .eq, value: -1))
        XCTAssertThrowsError(try EventCondition(event: "e", where: .segment("s"))) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.where")
        }
    }

    func testLimitsOnSizes() throws {
        let long = String(repeating: "x", count: RuleLimits.maxStringBytes + 1)
        XCTAssertThrowsError(try Rule(json: .object(["attr": "a", "op": "eq", "value": .string(long)]))) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.value")
        }
        let longName = String(repeating: "n", count: RuleLimits.maxNameBytes + 1)
        XCTAssertThrowsError(try Rule(json: .object(["event": .string(longName)]))) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.event")
        }
        XCTAssertNoThrow(try Rule(json: .object(["event": .string(String(repeating: "n", count: RuleLimits.maxNameBytes))])))
        let values = (0 ... RuleLimits.maxListValues).map { JSONValue.number(Double($0)) }
        XCTAssertThrowsError(try Rule(json: .object(["attr": "a", "op": "in", "value": .array(values)]))) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.value")
        }
        XCTAssertNoThrow(try Rule(json: .object(["attr": "a", "op": "in", "value": .array(Array(values.dropLast()))])))
        let hugeKey = String(repeating: "k", count: 10_000)
        XCTAssertThrowsError(try Rule(json: .object(["segment": "s", hugeKey: 1]))) { error in
            let path = (error as? RuleError)?.path ?? ""
            XCTAssertTrue(path.hasPrefix(#"$["kkkk"#) && path.count < 80, "a long key is cut in the path: \(path)")
        }
    }

    func testNestingDeeperThanTheLimitIsAnError() throws {
        func nested(_ levels: Int, leaf: JSONValue) -> JSONValue {
            var value = leaf
            for _ in 0 ..< levels { value = .object(["not": value]) }
            return value
        }
        let leaf: JSONValue = ["segment": "s"]
        // The leaf is at depth levels + 1.
        XCTAssertNoThrow(try Rule(json: nested(RuleLimits.maxDepth - 1, leaf: leaf)))
        XCTAssertThrowsError(try Rule(json: nested(RuleLimits.maxDepth, leaf: leaf))) { error in
            let expected = "$" + String(repeating: ".not", count: RuleLimits.maxDepth)
            XCTAssertEqual((error as? RuleError)?.path, expected)
            XCTAssertTrue((error as? RuleError)?.message.contains("deeper") ?? false)
        }
        // Far too deep: refused at the limit, not by exhausting the stack.
        XCTAssertThrowsError(try Rule(json: nested(2_000, leaf: leaf)))

        var allNest: JSONValue = leaf
        for _ in 0 ..< 40 { allNest = .object(["all": .array([allNest])]) }
        XCTAssertThrowsError(try Rule(json: allNest)) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$" + String(repeating: ".all[0]", count: RuleLimits.maxDepth))
        }

        // A where continues its event's depth.
        // The event is at depth 1, its where at 2: the where's leaf is at depth levels + 2.
        let property: JSONValue = ["attr": "p", "op": "is_set"]
        XCTAssertNoThrow(try Rule(json: ["event": "e", "where": nested(RuleLimits.maxDepth - 2, leaf: property)]))
        XCTAssertThrowsError(try Rule(json: ["event": "e", "where": nested(RuleLimits.maxDepth - 1, leaf: property)])) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.where" + String(repeating: ".not", count: RuleLimits.maxDepth - 1))
        }

        // Deep arrays in a value are refused at their first element.
        var deepValue: JSONValue = 1
        for _ in 0 ..< 2_000 { deepValue = .array([deepValue]) }
        XCTAssertThrowsError(try Rule(json: ["attr": "a", "op": "in", "value": deepValue])) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.value[0]")
        }
    }

    func testMoreConditionsThanTheLimitIsAnError() {
        let leaf: JSONValue = ["segment": "s"]
        // The root counts as one condition.
        XCTAssertNoThrow(try Rule(json: ["all": .array(Array(repeating: leaf, count: RuleLimits.maxNodes - 1))]))
        XCTAssertThrowsError(try Rule(json: ["all": .array(Array(repeating: leaf, count: 1_000_000))])) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.all[\(RuleLimits.maxNodes - 1)]")
            XCTAssertTrue((error as? RuleError)?.message.contains("at most") ?? false)
        }
        // Conditions inside where count too.
        let wide: JSONValue = ["any": .array(Array(repeating: ["attr": "p", "op": "is_set"], count: 600))]
        XCTAssertThrowsError(try Rule(json: ["all": [["event": "e", "where": wide], ["event": "f", "where": wide]]])) { error in
            XCTAssertEqual((error as? RuleError)?.path.hasPrefix("$.all[1].where.any["), true)
        }
    }

    // MARK: Errors as the API sends them

    func testRuleErrorBecomesA422WithThePath() {
        let error = RuleError(path: "$.all[1].op", message: "unknown op")
        let api = error.apiError
        XCTAssertEqual(api.status, 422)
        XCTAssertEqual(api.code, "rule_invalid")
        XCTAssertEqual(api.details, ["path": "$.all[1].op"])
        XCTAssertTrue(api.message.contains("$.all[1].op"))
        XCTAssertEqual(error.rebased(onto: "$.rule").path, "$.rule.all[1].op")
        XCTAssertEqual(RuleError(path: "$", message: "x").rebased(onto: "$.nodes[2].condition").path, "$.nodes[2].condition")
    }

    func testABaseOrDecodingPutsThePathInItsDocument() throws {
        XCTAssertThrowsError(try Rule(json: json(#"{"all": []}"#), base: "$.audience")) { error in
            XCTAssertEqual((error as? RuleError)?.path, "$.audience.all")
        }

        struct Segment: Codable { var name: String; var rule: Rule }
        struct Canvas: Codable { var splits: [Rule] }
        let good = try JSONCoding.decoder().decode(Segment.self, from: Data(#"{"name": "vip", "rule": {"segment": "s"}}"#.utf8))
        XCTAssertEqual(good.rule, .segment("s"))

        XCTAssertThrowsError(try JSONCoding.decoder().decode(Segment.self, from: Data(#"{"name": "vip", "rule": {"all": []}}"#.utf8))) { error in
            guard let api = error as? APIError else { return XCTFail("not an APIError: \(error)") }
            XCTAssertEqual(api.status, 422)
            XCTAssertEqual(api.code, "rule_invalid")
            XCTAssertEqual(api.details, ["path": "$.rule.all"])
        }
        let splits = #"{"splits": [{"segment": "a"}, {"any": [{"tag": "t", "op": "in", "value": [1]}]}]}"#
        XCTAssertThrowsError(try JSONCoding.decoder().decode(Canvas.self, from: Data(splits.utf8))) { error in
            XCTAssertEqual((error as? APIError)?.details, ["path": "$.splits[1].any[0].value[0]"])
        }
    }

    func testHostileDocumentsFailCleanlyWhenDecoded() {
        // Nesting far past any limit, as text: refused by the JSON reader or by the rule limits.
        let deep = String(repeating: #"{"not":"#, count: 5000) + #"{"segment":"s"}"# + String(repeating: "}", count: 5000)
        XCTAssertThrowsError(try JSONCoding.decoder().decode(Rule.self, from: Data(deep.utf8)))
        let deepArray = #"{"attr":"a","op":"in","value":"# + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}"
        XCTAssertThrowsError(try JSONCoding.decoder().decode(Rule.self, from: Data(deepArray.utf8)))
    }

    // MARK: Durations

    func testDurations() throws {
        for (text, seconds) in [("30s", 30), ("10m", 600), ("2h", 7200), ("7d", 604_800), ("3650d", 315_360_000),
                                ("87600h", 315_360_000), ("315360000s", 315_360_000), ("1s", 1)] {
            let duration = try RuleDuration(parsing: text)
            XCTAssertEqual(duration.seconds, seconds, text)
            XCTAssertEqual(duration.description, text)
        }
        for text in ["", "d", "0d", "07d", "-1d", "+1d", "1.5h", "1 d", " 1d", "1d ", "1w", "1D", "1", "dd",
                     "99999999999999999999d", "١d", "3651d", "315360001s", "5256001m", "1e3s", "１d"] {
            XCTAssertThrowsError(try RuleDuration(parsing: text), "\"\(text)\" is not a duration")
        }
        XCTAssertThrowsError(try RuleDuration(0, .seconds))
        XCTAssertThrowsError(try RuleDuration(3651, .days))
        XCTAssertLessThan(try RuleDuration(59, .minutes), try RuleDuration(1, .hours))
        XCTAssertLessThan(try RuleDuration(2, .hours), try RuleDuration(1, .days))
        XCTAssertNotEqual(try RuleDuration(24, .hours), try RuleDuration(1, .days), "equal only when written alike")
    }

    // MARK: Inputs

    func testInputsListEveryNameAndTheShortestWindow() throws {
        let rule = try XCTUnwrap(RuleFixtures.rule(#"""
        {"all": [
          {"attr": "aum", "op": "gte", "value": 1},
          {"not": {"attr": "registeredAt", "op": "within", "value": "7d"}},
          {"tag": "payroll"}, {"tag": "asset_tier", "op": "in", "value": ["L4"]},
          {"any": [{"segment": "s1"}, {"list": "l1"}, {"list": "l2"}]},
          {"event": "fund_purchase", "within": "30d",
           "where": {"any": [{"attr": "amount", "op": "gt", "value": 5}, {"attr": "paidAt", "op": "within", "value": "2h"}]}},
          {"event": "app_login", "count": {"op": "eq", "value": 0}}
        ]}
        """#))
        let inputs = rule.inputs
        XCTAssertEqual(inputs.attributes, ["aum", "registeredAt"], "event properties are not attributes")
        XCTAssertEqual(inputs.tags, ["payroll", "asset_tier"])
        XCTAssertEqual(inputs.events, ["fund_purchase", "app_login"])
        XCTAssertEqual(inputs.eventProperties, ["fund_purchase": ["amount", "paidAt"]])
        XCTAssertEqual(inputs.segments, ["s1"])
        XCTAssertEqual(inputs.lists, ["l1", "l2"])
        XCTAssertEqual(inputs.shortestWindow, try RuleDuration(2, .hours))
        XCTAssertTrue(inputs.hasTimeWindows)

        let timeless = try XCTUnwrap(RuleFixtures.rule(#"{"all": [{"attr": "aum", "op": "gte", "value": 1}, {"event": "login"}]}"#))
        XCTAssertNil(timeless.inputs.shortestWindow)
        XCTAssertFalse(timeless.inputs.hasTimeWindows)

        let eventWindow = try XCTUnwrap(RuleFixtures.rule(#"{"any": [{"event": "login", "within": "90d"}, {"attr": "x", "op": "not_within", "value": "100d"}]}"#))
        XCTAssertEqual(eventWindow.inputs.shortestWindow, try RuleDuration(90, .days))
    }

    // MARK: Robustness

    /// Random documents built from the language's own words: none crashes the parser, every refusal
    /// names a path, and every accepted rule round-trips and evaluates.
    func testRandomDocumentsNeverCrash() {
        var random = SplitMix64(seed: 0x5EED_1A77_1CE)
        let keys = ["all", "any", "not", "attr", "op", "value", "tag", "event", "where", "count", "within",
                    "segment", "list", "x", ""]
        let words = RuleOperator.allCases.map(\.rawValue) + ["aum", "30d", "0d", "7x", "2026-01-31",
                    "2026-01-31T10:00:00Z", "500000.00", "", "L4", "abc", "1h"]

        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0 ..< (depth > 4 ? 5 : 8), using: &random) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &random))
            case 2: return .number([0, 1, 2, -1, 1.5, 1e15, 500000][Int.random(in: 0 ..< 7, using: &random)])
            case 3, 4: return .string(words.randomElement(using: &random)!)
            case 5: return .array((0 ..< Int.random(in: 0 ..< 4, using: &random)).map { _ in value(depth + 1) })
            default:
                var object: [String: JSONValue] = [:]
                for _ in 0 ..< Int.random(in: 0 ..< 4, using: &random) {
                    object[keys.randomElement(using: &random)!] = value(depth + 1)
                }
                return .object(object)
            }
        }

        let evaluator = RuleEvaluator(timeZone: RuleFixtures.shanghai)
        let now = RuleFixtures.date("2026-03-01T00:00:00Z")
        let customer = CustomerSnapshot(
            attributes: ["aum": "500000.00", "x": 1, "value": "2026-01-31"], tags: ["L4": ["abc"]],
            events: [CustomerEvent(name: "aum", occurredAt: now.addingTimeInterval(-3600), properties: ["aum": 1])],
            segments: ["aum"])
        var accepted = 0
        for _ in 0 ..< 20_000 {
            let document = value(0)
            do {
                let rule = try Rule(json: document)
                accepted += 1
                XCTAssertEqual(try? Rule(json: rule.json), rule)
                _ = evaluator.evaluate(rule, for: customer, now: now)
                _ = rule.inputs
            } catch {
                XCTAssertTrue(error.path.hasPrefix("$"))
                XCTAssertFalse(error.message.isEmpty)
            }
        }
        XCTAssertGreaterThan(accepted, 10, "the generator also produces valid rules")
    }

    /// Valid rules with one part replaced at random: the result is either a valid rule or a fault whose
    /// path exists in the document.
    func testMutatedRulesFailAtAPathThatExists() throws {
        var random = SplitMix64(seed: 42)
        let base = json(#"""
        {"all": [{"attr": "aum", "op": "between", "value": [1, 2]},
                 {"any": [{"tag": "t", "op": "in", "value": ["a", "b"]}, {"not": {"segment": "s"}}]},
                 {"event": "e", "where": {"attr": "p", "op": "in", "value": [1, 2]}, "count": {"op": "gte", "value": 2}, "within": "7d"}]}
        """#)
        let replacements: [JSONValue] = [.null, 1, -1, "x", "", [], [:], [1], ["all": []], true, "7d", 1.5]

        func paths(_ value: JSONValue, _ path: String) -> [String] {
            switch value {
            case .object(let o): return [path] + o.flatMap { paths($0.value, RulePath.member(path, $0.key)) }
            case .array(let a): return [path] + a.enumerated().flatMap { paths($0.element, RulePath.element(path, $0.offset)) }
            default: return [path]
            }
        }
        func replacing(_ value: JSONValue, at target: Int, counter: inout Int, with new: JSONValue) -> JSONValue {
            defer { counter += 1 }
            if counter == target { return new }
            switch value {
            case .object(let o):
                var out: [String: JSONValue] = [:]
                for key in o.keys.sorted() { out[key] = replacing(o[key]!, at: target, counter: &counter, with: new) }
                return .object(out)
            case .array(let a):
                return .array(a.map { replacing($0, at: target, counter: &counter, with: new) })
            default:
                return value
            }
        }
        var faults = 0
        for _ in 0 ..< 2000 {
            var counter = 0
            let document = replacing(base, at: Int.random(in: 0 ..< 40, using: &random), counter: &counter,
                                     with: replacements.randomElement(using: &random)!)
            do {
                _ = try Rule(json: document)
            } catch {
                faults += 1
                let known = Set(paths(document, "$"))
                XCTAssertTrue(known.contains(error.path) || known.contains(where: { error.path.hasPrefix($0 + ".") }),
                              "\(error.path) is in the document or names a missing member of it")
            }
        }
        XCTAssertGreaterThan(faults, 100)
    }
}
