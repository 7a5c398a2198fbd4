import Contracts
import Foundation
import HTTP
@testable import Profile
import ServiceKit
import TestSupport
import XCTest

/// Behaviour events through the profile service's real router: single and batch ingestion, idempotency
/// by eventId, catalog checks naming the field, org scope per event, monthly partitions, daily counts in
/// the bank's time zone, outbox rows per subscriber, and the event-type catalog.
final class EventTests: XCTestCase {
    var harness: ProfileHarness!

    override func setUpWithError() throws {
        harness = try ProfileHarness(environment: ["LATTICE_ACCEPT_UNKNOWN_EVENTS": "false"])
        for (id, org) in [("C1", "sh"), ("C2", "sh"), ("B1", "bj")] {
            let r = try harness.call(.PUT, "/api/v1/customers/\(id)", as: ProfileHarness.hqAdmin, json: #"{"orgId":"\#(org)"}"#)
            XCTAssertEqual(r.status, 201, r.text)
        }
    }

    override func tearDown() { harness = nil }

    /// An RFC 3339 time `secondsAgo` before now.
    func ago(_ secondsAgo: TimeInterval) -> String { JSONCoding.formatDate(Date().addingTimeInterval(-secondsAgo)) }

    func event(_ id: String, customer: String = "C1", name: String = "app_login", at: String? = nil,
               properties: String = "{}") -> String {
        Self.eventJSON(id, customer: customer, name: name, at: at ?? ago(60), properties: properties)
    }

    static func eventJSON(_ id: String, customer: String, name: String, at: String, properties: String = "{}") -> String {
        #"{"eventId":"\#(id)","customerId":"\#(customer)","name":"\#(name)","occurredAt":"\#(at)","properties":\#(properties)}"#
    }

    func post(_ json: String, as caller: CallerIdentity = ProfileHarness.shOperator) throws -> TestResponse {
        try harness.call(.POST, "/api/v1/events", as: caller, json: json)
    }

    func batch(_ events: [String]) -> String { #"{"events":[\#(events.joined(separator: ","))]}"# }

    func count(_ sql: String) throws -> Int { try harness.pool.query(sql)[0].decode(0, as: Int.self) }

    func testSingleEventIsStoredWithAggregates() throws {
        let r = try post(event("e1", name: "fund_purchase", properties: #"{"amount":"1000.50","productCode":"F001","productRiskLevel":"R2"}"#))
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json["accepted"], 1)
        XCTAssertEqual(r.json["duplicates"], 0)
        XCTAssertEqual(r.json["rejected"], .array([]))
        let row = try harness.pool.query("SELECT org_path, properties->>'amount' AS amount, jsonb_typeof(properties->'amount') AS t FROM events WHERE event_id = 'e1'")
        XCTAssertEqual(try row[0].decode("org_path", as: String.self), "/hq/sh/")
        XCTAssertEqual(try row[0].decode("amount", as: String.self), "1000.5")
        XCTAssertEqual(try row[0].decode("t", as: String.self), "number")   // typed by the catalog, not kept as text
        XCTAssertEqual(try count("SELECT total FROM event_summaries WHERE customer_id = 'C1' AND name = 'fund_purchase'"), 1)
        XCTAssertEqual(try count("SELECT sum(count) FROM event_daily_counts WHERE customer_id = 'C1'"), 1)
        XCTAssertEqual(try count("SELECT count(*) FROM events_default"), 0)   // its month's partition was made first
        // Aggregates feed the change feed.
        XCTAssertGreaterThan(try count("SELECT count(*) FROM customer_changes WHERE customer_id = 'C1'"), 1)
    }

    func testDuplicatesInOneBatchAndAcrossBatchesCountOnce() throws {
        let first = try post(batch([event("d1"), event("d2"), event("d1", at: ago(30))]))
        XCTAssertEqual(first.status, 200, first.text)
        XCTAssertEqual(first.json["accepted"], 2)
        XCTAssertEqual(first.json["duplicates"], 1)
        let again = try post(batch([event("d2"), event("d3")]))
        XCTAssertEqual(again.json["accepted"], 1)
        XCTAssertEqual(again.json["duplicates"], 1)
        let single = try post(event("d1"))
        XCTAssertEqual(single.status, 200, single.text)
        XCTAssertEqual(single.json["accepted"], 0)
        XCTAssertEqual(single.json["duplicates"], 1)
        XCTAssertEqual(try count("SELECT count(*) FROM events"), 3)
        XCTAssertEqual(try count("SELECT total FROM event_summaries WHERE customer_id = 'C1' AND name = 'app_login'"), 3)
        XCTAssertEqual(try count("SELECT sum(count) FROM event_daily_counts WHERE customer_id = 'C1' AND name = 'app_login'"), 3)
    }

    /// Concurrent single events are stored together (`SingleEventBatcher`), yet each caller is answered
    /// for its own event as if it had been alone: a repeat races to one store and one duplicate, refusals
    /// are the caller's 422, and a caller's scope is its own (head office's B1 beside a branch's refusal).
    func testConcurrentSingleEventsAreEachAnsweredForThemselves() throws {
        let threads = 8, perThread = 30
        let answers = ConcurrentAnswers()
        let harness = self.harness!
        let at = ago(60)
        TestThreads.run(threads) { t in
            for i in 0..<perThread { answers.add(Self.postConcurrent(harness, thread: t, step: i, at: at)) }
        }
        var stored = 0
        for (id, got) in answers.byId {
            if id.hasPrefix("shared-") {
                XCTAssertEqual(got.sorted(), [0, 1], "\(id): one store and one duplicate")
                stored += 1
            } else if id.hasPrefix("scope-") || id.hasPrefix("name-") {
                XCTAssertEqual(got, [-422], id)
            } else {
                XCTAssertEqual(got, [1], id)
                stored += 1
            }
        }
        XCTAssertEqual(try count("SELECT count(*) FROM events"), stored)
        XCTAssertEqual(try count("SELECT count(*) FROM events WHERE customer_id = 'B1'"), threads * (perThread / 10))
        XCTAssertEqual(try count("SELECT coalesce(sum(total), 0)::int FROM event_summaries"), stored, "aggregates count each event once")
    }

    /// One event of `testConcurrentSingleEventsAreEachAnsweredForThemselves`: its id and its answer
    /// (1 stored, 0 duplicate, minus the status when refused).
    static func postConcurrent(_ harness: ProfileHarness, thread t: Int, step i: Int, at: String) -> (String, Int) {
        let id: String, customer: String, name: String, caller: CallerIdentity
        switch i % 10 {
        case 3: (id, customer, name, caller) = ("shared-\(t / 2)-\(i)", "C2", "app_login", ProfileHarness.shOperator)
        case 5: (id, customer, name, caller) = ("hq-\(t)-\(i)", "B1", "app_login", ProfileHarness.hqAdmin)
        case 6: (id, customer, name, caller) = ("scope-\(t)-\(i)", "B1", "app_login", ProfileHarness.shOperator)
        case 7: (id, customer, name, caller) = ("name-\(t)-\(i)", "C1", "no_such_event", ProfileHarness.shOperator)
        default: (id, customer, name, caller) = ("own-\(t)-\(i)", "C1", "app_login", ProfileHarness.shOperator)
        }
        let json = eventJSON(id, customer: customer, name: name, at: at)
        let response: TestResponse
        do {
            response = try harness.call(.POST, "/api/v1/events", as: caller, json: json)
        } catch {
            return (id, -1)
        }
        guard response.status == 200, let body = try? response.json(JSONValue.self) else { return (id, -response.status) }
        XCTAssertEqual(body["rejected"], JSONValue.array([]), response.text)
        if body["accepted"]?.doubleValue == 1 { return (id, 1) }
        if body["duplicates"]?.doubleValue == 1 { return (id, 0) }
        return (id, -999)
    }

    func testRejectionsArePerEventAndNameTheField() throws {
        let r = try post(batch([
            event("ok1"),
            event("r1", customer: "NOPE"),                                          // unknown customer
            event("r2", customer: "B1"),                                            // another branch's customer
            event("r3", name: "fund_purchase", properties: #"{"amount":"lots"}"#),  // catalog type
            event("r4", name: "no_such_event"),                                     // not in the catalog
            event("r5", at: JSONCoding.formatDate(Date().addingTimeInterval(3_600))), // future
            #"{"customerId":"C1","name":"app_login","occurredAt":"\#(ago(5))"}"#,   // no eventId
            event("r7", at: "yesterday"),
            event("r8", properties: #"{"channel":"fax"}"#),                         // enum value
        ]))
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json["accepted"], 1)
        guard case .array(let rejected)? = r.json["rejected"] else { return XCTFail(r.text) }
        let byIndex = Dictionary(uniqueKeysWithValues: rejected.compactMap { item -> (Int, JSONValue)? in
            guard case .number(let i)? = item["index"] else { return nil }
            return (Int(i), item)
        })
        func field(_ i: Int) -> JSONValue? { byIndex[i]?["error"]?["details"]?["field"] }
        func code(_ i: Int) -> JSONValue? { byIndex[i]?["error"]?["code"] }
        XCTAssertEqual(byIndex.count, 8)
        XCTAssertEqual(code(1), "customer_not_found"); XCTAssertEqual(field(1), "customerId")
        XCTAssertEqual(code(2), "customer_not_found"); XCTAssertEqual(byIndex[2]?["eventId"], "r2")
        XCTAssertEqual(code(3), "event_property_invalid"); XCTAssertEqual(field(3), "properties.amount")
        XCTAssertEqual(code(4), "event_type_unknown"); XCTAssertEqual(field(4), "name")
        XCTAssertEqual(field(5), "occurredAt")
        XCTAssertEqual(field(6), "eventId")
        XCTAssertEqual(field(7), "occurredAt")
        XCTAssertEqual(field(8), "properties.channel")
        XCTAssertEqual(try count("SELECT count(*) FROM events"), 1)
        XCTAssertEqual(try count("SELECT count(*) FROM event_ids"), 1)   // refused ids are not burnt
    }

    func testOutOfScopeCustomerIsRefusedAndNothingStored() throws {
        let r = try post(event("x1", customer: "C1"), as: ProfileHarness.bjOperator)
        XCTAssertEqual(r.status, 422, r.text)
        XCTAssertEqual(r.json["error"]?["code"], "customer_not_found")
        XCTAssertEqual(r.json["error"]?["details"]?["field"], "customerId")
        XCTAssertEqual(try count("SELECT count(*) FROM events"), 0)
        XCTAssertEqual(try count("SELECT count(*) FROM event_summaries"), 0)
        // The id was not consumed: the right caller can still send it.
        XCTAssertEqual(try post(event("x1", customer: "C1")).json["accepted"], 1)
    }

    func testSingleEventTypeErrorAnswers422NamingTheProperty() throws {
        let r = try post(event("t1", name: "fund_purchase", properties: #"{"amount":true}"#))
        XCTAssertEqual(r.status, 422, r.text)
        XCTAssertEqual(r.json["error"]?["details"]?["field"], "properties.amount")
        let unknown = try post(event("t2", name: "unheard_of"))
        XCTAssertEqual(unknown.status, 422, unknown.text)
        XCTAssertEqual(unknown.json["error"]?["code"], "event_type_unknown")
    }

    func testUnknownNamesAcceptedWhenTheCatalogAllowsIt() throws {
        let open = try ProfileHarness(environment: ["LATTICE_ACCEPT_UNKNOWN_EVENTS": "true"])
        XCTAssertEqual(try open.call(.PUT, "/api/v1/customers/C9", as: ProfileHarness.hqAdmin, json: #"{"orgId":"sh"}"#).status, 201)
        let r = try open.call(.POST, "/api/v1/events", as: ProfileHarness.shOperator,
                              json: event("u1", customer: "C9", name: "branch_visit", properties: #"{"desk":3,"vip":true}"#))
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json["accepted"], 1)
        let nested = try open.call(.POST, "/api/v1/events", as: ProfileHarness.shOperator,
                                   json: event("u2", customer: "C9", name: "branch_visit", properties: #"{"desk":{"a":1}}"#))
        XCTAssertEqual(nested.status, 422, nested.text)
        XCTAssertEqual(nested.json["error"]?["details"]?["field"], "properties.desk")
    }

    func testPartitionIsCreatedForANewMonth() throws {
        let r = try post(batch([event("p1", at: "2025-03-10T08:00:00Z"), event("p2", at: "2025-04-30T23:59:59Z")]))
        XCTAssertEqual(r.json["accepted"], 2, r.text)
        let parts = try harness.pool.query("""
            SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'events'::regclass ORDER BY 1
            """).map { try $0.decode("name", as: String.self) }
        XCTAssertTrue(parts.contains("events_y2025m03"), "\(parts)")
        XCTAssertTrue(parts.contains("events_y2025m04"), "\(parts)")
        XCTAssertEqual(try count("SELECT count(*) FROM events_y2025m03"), 1)
        XCTAssertEqual(try count("SELECT count(*) FROM events_default"), 0)
    }

    func testDailyCountsUseTheBankTimeZone() throws {
        let r = try post(batch([event("z1", at: "2026-01-01T17:00:00Z"), event("z2", at: "2026-01-01T15:59:59Z")]))
        XCTAssertEqual(r.json["accepted"], 2, r.text)
        let days = try harness.pool.query("SELECT day::text AS d, count FROM event_daily_counts WHERE customer_id = 'C1' ORDER BY day")
        XCTAssertEqual(try days.map { try $0.decode("d", as: String.self) }, ["2026-01-01", "2026-01-02"])
        let summary = try harness.pool.query("SELECT first_at, last_at FROM event_summaries WHERE customer_id = 'C1'")[0]
        XCTAssertEqual(try summary.decode("first_at", as: Date.self), JSONCoding.parseDate("2026-01-01T15:59:59Z"))
        XCTAssertEqual(try summary.decode("last_at", as: Date.self), JSONCoding.parseDate("2026-01-01T17:00:00Z"))
    }

    func testOutboxRowsPerSubscriber() throws {
        let subscribed = try ProfileHarness(environment: [
            "LATTICE_EVENT_SUBSCRIBERS": "canvas=http://127.0.0.1:9/internal/v1/events,analytics=http://127.0.0.1:9/internal/v1/events",
            "LATTICE_ACCEPT_UNKNOWN_EVENTS": "false",
        ])
        XCTAssertEqual(try subscribed.call(.PUT, "/api/v1/customers/C1", as: ProfileHarness.hqAdmin, json: #"{"orgId":"sh"}"#).status, 201)
        let body = batch([event("o1"), event("o2"), event("o1")])
        let r = try subscribed.call(.POST, "/api/v1/events", as: ProfileHarness.shOperator, json: body)
        XCTAssertEqual(r.json["accepted"], 2, r.text)
        _ = try subscribed.call(.POST, "/api/v1/events", as: ProfileHarness.shOperator, json: body)   // all repeats
        let rows = try subscribed.pool.query("""
            SELECT destination, event_type, payload->>'eventId' AS e, payload->>'orgPath' AS p FROM outbox_events ORDER BY 1, 3
            """)
        XCTAssertEqual(try rows.map { "\(try $0.decode("destination", as: String.self)):\(try $0.decode("e", as: String.self))" },
                       ["analytics:o1", "analytics:o2", "canvas:o1", "canvas:o2"])
        XCTAssertEqual(try rows[0].decode("event_type", as: String.self), "profile.event")
        XCTAssertEqual(try rows[0].decode("p", as: String.self), "/hq/sh/")
        // Without subscribers nothing is enqueued.
        XCTAssertEqual(try post(event("o9")).json["accepted"], 1)
        XCTAssertEqual(try count("SELECT count(*) FROM outbox_events"), 0)
    }

    func testMalformedBodiesAndLimits() throws {
        let broken = try post(#"{"eventId": "#)
        XCTAssertEqual(broken.status, 400, broken.text)
        XCTAssertEqual(try post("[1,2]").status, 400)
        XCTAssertEqual(try post(#"{"events": {}}"#).json["error"]?["details"]?["field"], "events")
        XCTAssertEqual(try post(#"{"events": []}"#).status, 400)
        let tooMany = try post(batch((0...1_000).map { event("m\($0)") }))
        XCTAssertEqual(tooMany.status, 413, tooMany.text)
        XCTAssertEqual(try count("SELECT count(*) FROM events"), 0)
        XCTAssertEqual(try harness.call(.POST, "/api/v1/events", as: nil, json: event("n1")).status, 401)
    }

    func testEventTypeCatalog() throws {
        let list = try harness.call(.GET, "/api/v1/event-types", as: ProfileHarness.shViewer)
        XCTAssertEqual(list.status, 200, list.text)
        guard case .array(let items)? = list.json["items"] else { return XCTFail(list.text) }
        let names = items.compactMap { $0["name"]?.stringValue }
        for builtIn in ["app_login", "account_opened", "card_bind_start", "card_bind_success", "fund_purchase",
                        "message_clicked", "lifecycle_changed"] {
            XCTAssertTrue(names.contains(builtIn), builtIn)
        }
        XCTAssertEqual(list.json["nextCursor"], .null)

        let body = #"{"name":"loan_applied","displayName":"申请贷款","properties":{"amount":{"type":"decimal"},"term":{"type":"enum","values":["12m","24m"]}}}"#
        let created = try harness.call(.POST, "/api/v1/event-types", as: ProfileHarness.shOperator, json: body)
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(created.json["properties"]?["term"]?["values"], ["12m", "24m"])
        XCTAssertEqual(created.json["orgId"], "sh")
        XCTAssertEqual(try harness.call(.POST, "/api/v1/event-types", as: ProfileHarness.shOperator, json: body).status, 409)

        func field(_ json: String) throws -> JSONValue? {
            let r = try harness.call(.POST, "/api/v1/event-types", as: ProfileHarness.shOperator, json: json)
            XCTAssertEqual(r.status, 400, r.text)
            return r.json["error"]?["details"]?["field"]
        }
        XCTAssertEqual(try field(#"{"name":"Bad-Name","displayName":"x"}"#), "name")
        XCTAssertEqual(try field(#"{"name":"ok_name","displayName":""}"#), "displayName")
        XCTAssertEqual(try field(#"{"name":"ok_name","displayName":"x","properties":{"a":{"type":"money"}}}"#), "properties.a.type")
        XCTAssertEqual(try field(#"{"name":"ok_name","displayName":"x","properties":{"a":{"type":"enum"}}}"#), "properties.a.values")
        XCTAssertEqual(try field(#"{"displayName":"x"}"#), "name")

        // The new type is usable at once, its properties typed.
        let typed = try post(event("l1", name: "loan_applied", properties: #"{"amount":"abc"}"#))
        XCTAssertEqual(typed.status, 422, typed.text)
        XCTAssertEqual(typed.json["error"]?["details"]?["field"], "properties.amount")
        XCTAssertEqual(try post(event("l2", name: "loan_applied", properties: #"{"amount":12000,"term":"24m"}"#)).json["accepted"], 1)
    }
}

/// Answers gathered from several threads. Thread-safety: `lock` guards `byId`.
final class ConcurrentAnswers: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var byId: [String: [Int]] = [:]

    func add(_ answer: (String, Int)) { lock.withLock { byId[answer.0, default: []].append(answer.1) } }
}
