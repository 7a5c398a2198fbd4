import Contracts
import Foundation
import TestSupport
import XCTest
@testable import Segment

/// Same answers everywhere (issue 5 item 2): random customer populations and random rules, and the
/// set-based engine must select exactly the customers of the caller's subtree for which the
/// single-customer `RuleEvaluator` of `Contracts`, reading the same documents through
/// `AggregateFacts`, says yes — after the initial load and again after random changes and removals.
final class SegmentEvaluatorDifferentialTests: XCTestCase {
    /// A seedable source (so a failure names a seed that reproduces it), with the draws the
    /// generators below need.
    typealias Random = SplitMix64

    static let timeZone = TimeZone(identifier: "Asia/Shanghai")!
    /// Mid-afternoon local time, so day windows and exact windows differ (and both must still agree).
    static let now = JSONCoding.parseDate("2026-12-02T07:23:45.250Z")!
    static let orgPaths = ["/hq/", "/hq/sh/", "/hq/sh/pd/", "/hq/bj/"]
    static let scopes = ["/hq/", "/hq/sh/", "/hq/bj/", "/hq/gz/"]
    static let eventNames = ["app_login", "fund_purchase", "card_swipe"]

    /// The reference: `AggregateFacts` over the document, with segment and list membership added.
    struct ReferenceFacts: CustomerFacts {
        let facts: AggregateFacts
        let segments: Set<String>
        let lists: Set<String>
        func attribute(_ name: String) -> JSONValue? { facts.attribute(name) }
        func tagValues(_ code: String) -> [String]? { facts.tagValues(code) }
        func eventCount(name: String, matching filter: EventFilter?, since: Date?, until: Date) -> Int {
            facts.eventCount(name: name, matching: filter, since: since, until: until)
        }
        func isMember(segment id: String) -> Bool { segments.contains(id) }
        func isMember(list id: String) -> Bool { lists.contains(id) }
    }

    // MARK: Populations

    static func day(_ offset: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let date = calendar.date(byAdding: .day, value: offset, to: now)!
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    static func document(_ id: String, _ r: inout Random) -> CustomerFactsDocument {
        var attributes: [String: JSONValue] = [:]
        if r.chance(0.85) {
            // Mostly keyable (numbers, decimals of up to 15 digits), some not: long decimals, negative zero.
            attributes["aum"] = r.pick([.number(Double(r.int(0...2_000_000))), .string("\(r.int(0...2_000_000)).\(r.int(10...99))"),
                                        .string("\(r.int(0...2_000_000)).00"), .number(Double(r.int(-50...50)) / 4),
                                        .string("-\(r.int(0...9)).5"), .string("-0"), .string("1000000.0000000001"),
                                        .string("\(r.int(0...2_000_000)).0000000000000001"), .string("0101"), .string("1e5")])
        }
        if r.chance(0.8) { attributes["city"] = .string(r.pick(["上海", "北京", "广州", "深圳", "上海市"])) }
        if r.chance(0.9) { attributes["riskLevel"] = .string("C\(r.int(1...5))") }
        if r.chance(0.7) { attributes["birthDate"] = .string(day(-r.int(7_000...25_000))) }
        if r.chance(0.7) {
            let t = now.addingTimeInterval(-Double(r.int(0...200 * 86_400)) + (r.chance(0.1) ? 86_400 * 3 : 0))
            // Mostly as services write timestamps, some in other RFC 3339 forms (kept in the dictionary).
            attributes["lastActiveAt"] = r.chance(0.85) ? .string(JSONCoding.formatDate(t))
                : .string(r.pick(["2026-11-30T08:00:00+08:00", "2026-12-01t00:00:00z", "2026-11-15T10:00:00Z", "2026-12-02T07:23:45.250Z"]))
        }
        if r.chance(0.8) { attributes["isPayroll"] = .bool(r.chance(0.4)) }
        if r.chance(0.6) {
            // A custom attribute of every kind at once: the engine must mirror every comparison rule.
            attributes["score"] = r.pick([.number(Double(r.int(0...10))), .string("\(r.int(0...10))"), .string("high"),
                                          .bool(true), .null, .array([.string("a"), .number(3)]), .object(["k": .number(1)]),
                                          .string(day(-r.int(0...40))), .number(2.5)])
        }
        var tags: [String: String] = [:]
        if r.chance(0.4) { tags["payroll_customer"] = "" }
        if r.chance(0.6) { tags["asset_tier"] = "L\(r.int(1...5))" }
        if r.chance(0.7) { tags["lifecycle"] = r.pick(["new", "growing", "mature", "dormant", "churned"]) }
        if r.chance(0.1) { tags["vip"] = "" }
        var events: [String: CustomerFactsDocument.EventAggregate] = [:]
        for name in eventNames where r.chance(0.6) {
            var daily: [String: Int] = [:]
            for _ in 0..<r.int(1...6) { daily[day(-r.int(0...120)), default: 0] += r.int(1...3) }
            let older = r.chance(0.3) ? r.int(1...20) : 0
            let total = Int64(daily.values.reduce(0, +) + older)
            let oldest = older > 0 ? r.int(121...900) : r.int(0...120)
            let firstAt = now.addingTimeInterval(-Double(oldest * 86_400 + r.int(0...86_399)))
            let lastAt = now.addingTimeInterval(-Double(r.int(0...(r.chance(0.3) ? 7_200 : 86_400 * 30))))
            events[name] = .init(total: total, firstAt: min(firstAt, lastAt), lastAt: lastAt, daily: daily)
        }
        return CustomerFactsDocument(customerId: id, exists: true, orgPath: r.pick(orgPaths),
                                     attributes: attributes, tags: tags, events: events)
    }

    // MARK: Rules

    static func scalar(_ r: inout Random) -> JSONValue {
        r.pick([.string("1000000.00000000001"), .number(1_000_000), .string("-0.0"), .number(-2.5), .string("2026-12-02T07:23:45.250Z"),
                .number(Double(r.int(-50...50)) / 4), .string("\(r.int(-9...9)).5"), .string("\(r.int(-9...9)).50"),
                .string(day(-r.int(0...200))),.number(Double(r.int(0...2_000_000))), .string("\(r.int(0...2_000_000)).00"), .string("上海"), .string("C\(r.int(1...5))"),
                .number(Double(r.int(0...10))), .string("\(r.int(0...10))"), .string("high"), .string(day(-r.int(0...20_000))),
                .string(JSONCoding.formatDate(now.addingTimeInterval(-Double(r.int(0...100 * 86_400))))), .number(2.5)])
    }

    static func attributeCondition(_ r: inout Random) -> AttributeCondition? {
        let name = r.pick(["aum", "city", "riskLevel", "birthDate", "lastActiveAt", "isPayroll", "score", "nobodyHasThis"])
        let op = r.pick([RuleOperator.eq, .ne, .gt, .gte, .lt, .lte, .between, .in, .notIn, .contains, .startsWith,
                         .isSet, .isNotSet, .within, .notWithin])
        let value: JSONValue?
        switch op {
        case .isSet, .isNotSet: value = nil
        case .eq, .ne: value = r.chance(0.2) ? .bool(r.chance(0.5)) : scalar(&r)
        case .between:
            let a = scalar(&r), b = scalar(&r)
            value = .array([a, b])
        case .in, .notIn: value = .array((0..<r.int(1...3)).map { _ in r.chance(0.1) ? .bool(true) : scalar(&r) })
        case .contains: value = r.pick([.string("海"), .string("C"), .string("a"), .number(3), .bool(true)])
        case .startsWith: value = r.pick([.string("上"), .string("C1"), .string("19"), .string("h")])
        case .within, .notWithin: value = .string(r.pick(["1h", "12h", "1d", "7d", "30d", "90d", "400d"]))
        default: value = scalar(&r)
        }
        return try? AttributeCondition(attribute: name, op: op, value: value)
    }

    static func rule(_ r: inout Random, depth: Int = 0) -> Rule {
        let leafOnly = depth >= 3
        switch r.int(0...(leafOnly ? 4 : 7)) {
        case 0, 1:
            while true { if let c = attributeCondition(&r) { return .attribute(c) } }
        case 2:
            let tag = r.pick(["payroll_customer", "asset_tier", "lifecycle", "vip", "unknown_tag"])
            switch r.int(0...4) {
            case 0: return .tag(try! TagCondition(tag: tag))
            case 1: return .tag(try! TagCondition(tag: tag, op: .eq, values: [r.pick(["L1", "L3", "new", "dormant"])]))
            case 2: return .tag(try! TagCondition(tag: tag, op: .ne, values: [r.pick(["L1", "L5", "mature"])]))
            case 3: return .tag(try! TagCondition(tag: tag, op: .in, values: ["L4", "L5", "growing"]))
            default: return .tag(try! TagCondition(tag: tag, op: .notIn, values: ["L1", "churned"]))
            }
        case 3:
            let within = r.chance(0.2) ? nil : try! RuleDuration(parsing: r.pick(["1h", "6h", "1d", "2d", "7d", "30d", "90d", "500d"]))
            let count = try! CountCondition(op: r.pick([.eq, .ne, .gt, .gte, .lt, .lte]), value: r.int(0...4))
            return .event(try! EventCondition(event: r.pick(eventNames + ["never_happens"]), count: count, within: within))
        case 4:
            return r.chance(0.5) ? .segment(r.pick(["seg_a", "seg_b", "seg_missing"])) : .list(r.pick(["list_white", "list_black"]))
        case 5:
            return .all((0..<r.int(0...3)).map { _ in rule(&r, depth: depth + 1) })
        case 6:
            return .any((0..<r.int(0...3)).map { _ in rule(&r, depth: depth + 1) })
        default:
            return .not(rule(&r, depth: depth + 1))
        }
    }

    static func text(_ rule: Rule) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(rule.json)).map { String(decoding: $0, as: UTF8.self) } ?? "\(rule)"
    }

    // MARK: The test

    func testTheEngineAgreesWithTheSingleCustomerEvaluator() throws {
        let evaluator = RuleEvaluator(timeZone: Self.timeZone)
        var disagreements: [String] = []
        var partial = 0, total = 0   // rules selecting some but not every customer of their scope
        // With the default threshold the columns stay dictionaries; with a low one the numeric and time
        // columns become keyed, the path large populations take.
        for (seed, keyedAfter) in [(UInt64(1), 4_096), (2, 4_096), (3, 8), (4, 8), (5, 40), (6, 1)] {
            var r = Random(seed: seed)
            var index = CustomerIndex(timeZone: Self.timeZone, keyedAfter: keyedAfter)
            var documents: [String: CustomerFactsDocument] = [:]
            for i in 0..<400 {
                let document = Self.document(String(format: "C%05d", i), &r)
                documents[document.customerId] = document
                index.apply(document)
            }
            for round in 0..<3 {
                if round > 0 {
                    // Changes and removals, as the change feed delivers them.
                    for id in documents.keys.sorted() where r.chance(0.35) {
                        if r.chance(0.25) {
                            documents[id] = nil
                            index.apply(CustomerFactsDocument(customerId: id, exists: false, orgPath: nil))
                        } else {
                            let fresh = Self.document(id, &r)
                            documents[id] = fresh
                            index.apply(fresh)
                        }
                    }
                    for i in 0..<20 {
                        let fresh = Self.document("N\(round)-\(i)", &r)
                        documents[fresh.customerId] = fresh
                        index.apply(fresh)
                    }
                }
                XCTAssertEqual(index.count, documents.count)
                XCTAssertEqual(index.attributes["aum"]?.isKeyed, keyedAfter < 400, "keyedAfter \(keyedAfter)")
                XCTAssertEqual(index.attributes["lastActiveAt"]?.isKeyed, keyedAfter < 400, "keyedAfter \(keyedAfter)")
                // Memberships of other segments and lists, by customer id.
                var members: [String: Set<String>] = [:]
                for name in ["seg_a", "seg_b", "list_white", "list_black"] {
                    members[name] = Set(documents.keys.filter { _ in r.chance(0.3) })
                }
                var memberships = SegmentEvaluator.Memberships()
                for (name, ids) in members {
                    var bitmap = Bitmap()
                    for id in ids { bitmap.insert(index.slot(of: id)!) }
                    if name.hasPrefix("seg") { memberships.segments[name] = bitmap } else { memberships.lists[name] = bitmap }
                }
                let engine = SegmentEvaluator(index: index, evaluator: evaluator, memberships: memberships)
                for _ in 0..<250 {
                    let rule = Self.rule(&r)
                    let scope = r.pick(Self.scopes)
                    let selected = Set(engine.select(rule, orgPath: scope, now: Self.now).slots().map { index.customerId(at: $0) })
                    var expected = Set<String>()
                    for (id, document) in documents where document.orgPath!.hasPrefix(scope) {
                        let facts = ReferenceFacts(
                            facts: AggregateFacts(document: document, timeZone: Self.timeZone),
                            segments: Set(["seg_a", "seg_b"].filter { members[$0]!.contains(id) }),
                            lists: Set(["list_white", "list_black"].filter { members[$0]!.contains(id) }))
                        if evaluator.evaluate(rule, for: facts, now: Self.now) { expected.insert(id) }
                    }
                    total += 1
                    let inScope = documents.values.filter { $0.orgPath!.hasPrefix(scope) }.count
                    if !expected.isEmpty && expected.count < inScope { partial += 1 }
                    if selected != expected {
                        let extra = selected.subtracting(expected).sorted().prefix(3)
                        let missing = expected.subtracting(selected).sorted().prefix(3)
                        disagreements.append("seed \(seed) round \(round) scope \(scope) rule \(Self.text(rule)): extra \(Array(extra)) missing \(Array(missing))")
                    }
                }
            }
        }
        XCTAssertTrue(disagreements.isEmpty, "\(disagreements.count) disagreements; first: \(disagreements.prefix(3).joined(separator: "\n"))")
        XCTAssertGreaterThan(partial, total / 3, "the random rules must mostly split their populations to test anything")
    }

    func testEventWindowsCountLocalDaysLikeTheAggregates() throws {
        // 30d on 2026-12-02 (Shanghai): the local days 2026-11-03 … 2026-12-02.
        var index = CustomerIndex(timeZone: Self.timeZone)
        let first = JSONCoding.parseDate("2026-06-01T00:00:00Z")!
        func customer(_ id: String, _ daily: [String: Int]) -> CustomerFactsDocument {
            CustomerFactsDocument(customerId: id, exists: true, orgPath: "/hq/", events: [
                "fund_purchase": .init(total: Int64(daily.values.reduce(0, +)), firstAt: first, lastAt: Self.now, daily: daily)])
        }
        index.apply(customer("inside", ["2026-11-03": 1, "2026-12-02": 1]))
        index.apply(customer("edge", ["2026-11-02": 5, "2026-11-20": 1]))
        index.apply(CustomerFactsDocument(customerId: "never", exists: true, orgPath: "/hq/"))
        let engine = SegmentEvaluator(index: index, evaluator: RuleEvaluator(timeZone: Self.timeZone))
        func ids(_ rule: Rule) -> [String] { engine.select(rule, orgPath: "/hq/", now: Self.now).slots().map { index.customerId(at: $0) } }
        let twice = Rule.event(try EventCondition(event: "fund_purchase", count: try CountCondition(op: .gte, value: 2), within: try RuleDuration(parsing: "30d")))
        XCTAssertEqual(ids(twice), ["inside"])
        let didNot = Rule.event(try EventCondition(event: "fund_purchase", count: .none, within: try RuleDuration(parsing: "7d")))
        XCTAssertEqual(ids(didNot), ["edge", "never"])
    }

    func testRemovedCustomersLeaveEveryColumn() {
        var index = CustomerIndex(timeZone: Self.timeZone)
        index.apply(CustomerFactsDocument(customerId: "a", exists: true, orgPath: "/hq/sh/", attributes: ["city": .string("上海")],
                                          tags: ["vip": ""], events: ["app_login": .init(total: 1, firstAt: Self.now, lastAt: Self.now)]))
        index.apply(CustomerFactsDocument(customerId: "a", exists: false, orgPath: nil))
        let engine = SegmentEvaluator(index: index, evaluator: RuleEvaluator(timeZone: Self.timeZone))
        for rule: Rule in [.all([]), .tag(try! TagCondition(tag: "vip")), .not(.tag(try! TagCondition(tag: "vip"))),
                           .attribute(try! AttributeCondition(attribute: "city", op: .isNotSet, value: nil))] {
            XCTAssertTrue(engine.select(rule, orgPath: "/hq/", now: Self.now).isEmpty, "\(rule.json)")
        }
        XCTAssertEqual(index.count, 0)
        // Back again, in another branch: only the new facts count.
        index.apply(CustomerFactsDocument(customerId: "a", exists: true, orgPath: "/hq/bj/"))
        let again = SegmentEvaluator(index: index, evaluator: RuleEvaluator(timeZone: Self.timeZone))
        XCTAssertEqual(again.select(.all([]), orgPath: "/hq/bj/", now: Self.now).count, 1)
        XCTAssertEqual(again.select(.all([]), orgPath: "/hq/sh/", now: Self.now).count, 0)
        XCTAssertTrue(again.select(.tag(try! TagCondition(tag: "vip")), orgPath: "/hq/", now: Self.now).isEmpty)
    }
}

extension SplitMix64 {
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < p }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}
