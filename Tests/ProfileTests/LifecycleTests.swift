import Contracts
import Foundation
import HTTP
@testable import Profile
import XCTest

/// The built-in `lifecycle` tag: default stages, stage changes published through the outbox and stored
/// as events, and the stage configuration API.
final class LifecycleTests: XCTestCase {
    static let subscribers = ["LATTICE_EVENT_SUBSCRIBERS": "canvas=http://127.0.0.1:9/events,analytics=http://127.0.0.1:9/a"]

    func login(_ h: ProfileHarness, _ customer: String, at date: Date) throws {
        let r = try h.call(.POST, "/api/v1/events", as: ProfileHarness.hqAdmin, json: """
            {"eventId": "login-\(customer)-\(Int(date.timeIntervalSince1970))", "customerId": "\(customer)", "name": "app_login",
             "occurredAt": "\(JSONCoding.formatDate(date))", "properties": {}}
            """)
        XCTAssertLessThan(r.status, 300, r.text)
    }

    static func stage(_ index: Int, of response: TestResponse) -> JSONValue? {
        guard case .array(let stages)? = response.json["stages"], stages.indices.contains(index) else { return nil }
        return stages[index]
    }

    func stage(_ h: ProfileHarness, _ id: String) throws -> String? {
        try h.pool.query("SELECT value FROM customer_tags WHERE customer_id = $1 AND tag_code = 'lifecycle'", id).first?.decode("value")
    }

    func testDefaultStagesAndStageChangeEvents() throws {
        let h = try ProfileHarness(environment: Self.subscribers)
        let now = Date()
        let old = JSONCoding.formatDate(now.addingTimeInterval(-400 * 86_400))
        try TagTests.customer(h, "n1", #"{"orgId": "sh", "registeredAt": "\#(JSONCoding.formatDate(now.addingTimeInterval(-5 * 86_400)))"}"#)
        try TagTests.customer(h, "m1", #"{"orgId": "sh", "registeredAt": "\#(old)", "aum": 600000}"#)
        try TagTests.customer(h, "g1", #"{"orgId": "bj", "registeredAt": "\#(old)", "aum": 20000}"#)
        try TagTests.customer(h, "d1", #"{"orgId": "sh", "registeredAt": "\#(old)", "aum": 600000}"#)
        try TagTests.customer(h, "c1", #"{"orgId": "sh_pd", "registeredAt": "\#(old)", "aum": 100}"#)
        try login(h, "m1", at: now.addingTimeInterval(-10 * 86_400))
        try login(h, "g1", at: now.addingTimeInterval(-10 * 86_400))
        try login(h, "d1", at: now.addingTimeInterval(-120 * 86_400))   // within 180 days, not within 90

        try h.app.ruleTags.drain(now: now)
        XCTAssertEqual(try stage(h, "n1"), "new")
        XCTAssertEqual(try stage(h, "m1"), "mature")
        XCTAssertEqual(try stage(h, "g1"), "growing")
        XCTAssertEqual(try stage(h, "d1"), "dormant")
        XCTAssertEqual(try stage(h, "c1"), "churned")

        // One outbox event per change per subscriber, all in the transactions that wrote the tags.
        let count: Int = try h.pool.query("""
            SELECT count(*)::int AS n FROM outbox_events WHERE event_type = 'profile.lifecycle_changed'
            """)[0].decode("n")
        XCTAssertEqual(count, 10)
        // Re-reading the feed (the worker's own tag writes, the stored lifecycle events) changes nothing.
        try h.app.ruleTags.drain(now: now)
        XCTAssertEqual(try h.pool.query("""
            SELECT count(*)::int AS n FROM outbox_events WHERE event_type = 'profile.lifecycle_changed'
            """)[0].decode("n", as: Int.self), 10)

        // 100 days on, g1's last login is 110 days old: growing → dormant.
        try h.app.ruleTags.sweep(now: now.addingTimeInterval(100 * 86_400), force: true)
        XCTAssertEqual(try stage(h, "g1"), "dormant")
        let rows = try h.pool.query("""
            SELECT payload::text AS p FROM outbox_events
             WHERE event_type = 'profile.lifecycle_changed' AND destination = 'canvas' AND payload->>'customerId' = 'g1'
             ORDER BY seq
            """)
        XCTAssertEqual(rows.count, 2)
        let payload = try JSONCoding.decoder().decode(LifecycleChange.self, from: Data(try rows[1].decode("p", as: String.self).utf8))
        XCTAssertEqual(payload.from, .growing)
        XCTAssertEqual(payload.to, .dormant)
        XCTAssertEqual(payload.orgPath, "/hq/bj/")
        // Also a behaviour event of the customer, with its aggregates.
        let events = try h.pool.query("""
            SELECT properties->>'from' AS f, properties->>'to' AS t FROM events
             WHERE customer_id = 'g1' AND name = 'lifecycle_changed' ORDER BY occurred_at
            """)
        XCTAssertEqual(events.count, 2)
        XCTAssertEqual(try events[1].decode("f", as: String.self), "growing")
        XCTAssertEqual(try events[1].decode("t", as: String.self), "dormant")
        let total: Int64 = try h.pool.query("SELECT total FROM event_summaries WHERE customer_id = 'g1' AND name = 'lifecycle_changed'")[0]
            .decode("total")
        XCTAssertEqual(total, 2)
    }

    func testConfigurationReadAndValidatedUpdate() throws {
        let h = try ProfileHarness()
        let got = try h.call(.GET, "/api/v1/lifecycle", as: ProfileHarness.shViewer)
        XCTAssertEqual(got.status, 200)
        guard case .array(let stages)? = got.json["stages"] else { return XCTFail(got.text) }
        XCTAssertEqual(stages.compactMap { $0["stage"]?.stringValue }, ["new", "churned", "dormant", "mature", "growing"])
        XCTAssertEqual(stages[4]["rule"], .null)
        XCTAssertEqual(stages[2]["label"]?["zh"], "休眠期")
        // The seeded defaults are valid rules.
        for stage in stages where stage["rule"] != .null { XCTAssertNoThrow(try Rule(json: stage["rule"] ?? .null)) }

        func put(_ json: String, as caller: CallerIdentity = ProfileHarness.hqAdmin) throws -> TestResponse {
            try h.call(.PUT, "/api/v1/lifecycle", as: caller, json: json)
        }
        let valid = """
            {"stages": [{"stage": "new", "rule": {"attr": "registeredAt", "op": "within", "value": "60d"}},
                        {"stage": "churned", "rule": {"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "365d"}},
                        {"stage": "dormant", "rule": {"event": "app_login", "count": {"op": "eq", "value": 0}, "within": "120d"}},
                        {"stage": "mature", "rule": {"attr": "aum", "op": "gte", "value": 1000000}},
                        {"stage": "growing", "rule": null}]}
            """
        XCTAssertEqual(try put(valid, as: ProfileHarness.shOperator).status, 403)
        let missing = try put(#"{"stages": [{"stage": "new", "rule": null}]}"#)
        XCTAssertEqual(missing.status, 422)
        XCTAssertEqual(missing.json["error"]?["code"], "lifecycle_invalid")
        let badRule = try put(valid.replacingOccurrences(of: #""op": "gte""#, with: #""op": "greater""#))
        XCTAssertEqual(badRule.status, 422)
        XCTAssertEqual(badRule.json["error"]?["details"]?["path"], "$.stages[3].rule.op")
        let unknownAttr = try put(valid.replacingOccurrences(of: #""attr": "aum""#, with: #""attr": "wealth""#))
        XCTAssertEqual(unknownAttr.json["error"]?["details"]?["path"], "$.stages[3].rule.attr")
        let selfRef = try put(valid.replacingOccurrences(of: #"{"attr": "aum", "op": "gte", "value": 1000000}"#,
                                                         with: #"{"tag": "lifecycle", "op": "eq", "value": "mature"}"#))
        XCTAssertEqual(selfRef.json["error"]?["details"]?["path"], "$.stages[3].rule.tag")
        let earlyFallback = try put(valid.replacingOccurrences(of: #"{"attr": "registeredAt", "op": "within", "value": "60d"}"#, with: "null"))
        XCTAssertEqual(earlyFallback.json["error"]?["details"]?["field"], "stages[0].rule")
        let repeated = try put(valid.replacingOccurrences(of: #""stage": "mature""#, with: #""stage": "new""#))
        XCTAssertEqual(repeated.json["error"]?["details"]?["field"], "stages[3].stage")
        XCTAssertEqual(try put(#"{"stages": [], "extra": 1}"#).status, 400)

        // Nothing changed so far.
        XCTAssertEqual(Self.stage(3, of: try h.call(.GET, "/api/v1/lifecycle", as: ProfileHarness.hqAdmin))?["rule"]?["value"], 500000)
        let ok = try put(valid)
        XCTAssertEqual(ok.status, 200, ok.text)
        XCTAssertEqual(Self.stage(3, of: ok)?["rule"]?["value"], 1000000)
        XCTAssertEqual(ok.json["updatedBy"], "u_hq")
        XCTAssertEqual(Self.stage(1, of: try h.call(.GET, "/api/v1/lifecycle", as: ProfileHarness.bjOperator))?["rule"]?["within"], "365d")
        let full: Bool = try h.pool.query("SELECT full_pending FROM rule_tag_sweeps")[0].decode("full_pending")
        XCTAssertTrue(full, "a change of the stages asks for a full re-evaluation")

        // The new thresholds apply.
        try TagTests.customer(h, "x1", #"{"orgId": "sh", "registeredAt": "\#(JSONCoding.formatDate(Date().addingTimeInterval(-45 * 86_400)))", "aum": 800000}"#)
        try h.app.ruleTags.drain()
        XCTAssertEqual(try stage(h, "x1"), "new")   // registered 45 days ago: new under the 60-day rule
    }
}
