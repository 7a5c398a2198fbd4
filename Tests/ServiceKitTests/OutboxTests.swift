import Contracts
import Foundation
import HTTP
import Postgres
@testable import ServiceKit
import TestSupport
import XCTest

final class OutboxTests: XCTestCase {
    private var schemas: [String] = []
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        cleanups.reversed().forEach { $0() }
        cleanups.removeAll()
        schemas.forEach(DataPlaneTestDatabase.drop)
        schemas.removeAll()
        super.tearDown()
    }

    private func makeSchema(_ prefix: String) throws -> (String, PostgresPool) {
        let schema = try DataPlaneTestDatabase.makeSchema(prefix, extra: TestSubscriber.tableSQL)
        schemas.append(schema)
        let pool = try DataPlaneTestDatabase.pool(schema: schema, size: 8)
        cleanups.append { pool.close() }
        return (schema, pool)
    }

    private func subscriber(schema: String, pool: PostgresPool) throws -> TestSubscriber {
        let subscriber = try TestSubscriber(schema: schema, pool: pool)
        cleanups.append { subscriber.shutdown() }
        return subscriber
    }

    private func relay(schema: String, pool: PostgresPool, subscribers: [String: String], maxAttempts: Int = 10,
                       pollInterval: TimeInterval = 0.1, lease: TimeInterval = 2, batchSize: Int = 10,
                       eventsPerRequest: Int = 100, metrics: MetricsRegistry? = nil, sink: InMemoryLogSink = InMemoryLogSink()) throws -> OutboxRelay {
        let configuration = OutboxRelayConfiguration(
            schema: schema, subscribers: subscribers, deliveryThreads: 2, batchSize: batchSize, eventsPerRequest: eventsPerRequest,
            pollInterval: pollInterval,
            lease: lease, deliveryTimeout: 1, maxAttempts: maxAttempts, backoff: RetryBackoff(base: 0.05, maximum: 0.2),
            backlogRefreshInterval: 0.1)
        let client = HTTPClient(configuration: .init(connectTimeoutMs: 500, timeoutMs: 1_000,
                                                     internalCredential: "test-credential", retry: .none))
        let relay = try OutboxRelay(configuration: configuration, pool: pool, client: client, logger: dataPlaneLogger(sink),
                                    metrics: metrics)
        cleanups.append { relay.stop(timeout: 5) }
        return relay
    }

    private func enqueue(_ outbox: Outbox, pool: PostgresPool, count: Int, destination: String = "subscriber") throws -> [UUID] {
        var ids: [UUID] = []
        try pool.transaction { conn in
            let events = try (0..<count).map { n in
                try OutboxEvent(type: "test.happened", destination: destination, payload: ["n": n])
            }
            ids = events.map(\.id)
            XCTAssertEqual(try outbox.enqueue(on: conn, events: events), count)
        }
        return ids
    }

    // MARK: Writing events

    func testEventCommitsOnlyWithTheCallersTransaction() throws {
        let (schema, pool) = try makeSchema("commit")
        let outbox = try Outbox(schema: schema)
        struct Abort: Error {}

        XCTAssertThrowsError(try pool.transaction { conn in
            try conn.execute("INSERT INTO received (event_id, type, n) VALUES ($1, 'business', 1)", UUID())
            try outbox.enqueue(on: conn, event: OutboxEvent(type: "t", destination: "subscriber", payload: ["n": 1]))
            throw Abort()
        })
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events"), 0, "rolled back with the caller")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received"), 0)

        let event = try OutboxEvent(type: "t", destination: "subscriber", payload: ["n": 2])
        try pool.transaction { conn in
            try conn.execute("INSERT INTO received (event_id, type, n) VALUES ($1, 'business', 2)", UUID())
            XCTAssertTrue(try outbox.enqueue(on: conn, event: event))
            // The same event again (a retried caller) changes nothing.
            XCTAssertFalse(try outbox.enqueue(on: conn, event: event))
        }
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events WHERE status = 'pending'"), 1)

        // Outside a transaction the event would commit on its own: refused.
        try pool.withConnection { conn in
            XCTAssertThrowsError(try outbox.enqueue(on: conn, event: event)) { error in
                guard case OutboxError.notInTransaction = error else { return XCTFail("\(error)") }
            }
        }
    }

    func testInvalidEventsAndConfigurationsAreRejected() throws {
        XCTAssertThrowsError(try OutboxEvent(type: "", destination: "a", payload: [1]))
        XCTAssertThrowsError(try OutboxEvent(type: "bad\ntype", destination: "a", payload: [1]))
        XCTAssertThrowsError(try OutboxEvent(type: "t", destination: "http://evil.example/", payload: [1]))
        XCTAssertThrowsError(try OutboxEvent(type: "t", destination: "a", payloadJSON: "{not json"))
        XCTAssertThrowsError(try Outbox(schema: "bad-schema;drop"))
        XCTAssertThrowsError(try Outbox(schema: String(repeating: "s", count: 60)), "channel name would be too long")
        XCTAssertEqual(try Outbox(schema: "profile").notificationChannel, "outbox_profile")

        let (schema, pool) = try makeSchema("limits")
        var outbox = try Outbox(schema: schema)
        outbox.maximumPayloadBytes = 100
        let big = try OutboxEvent(type: "t", destination: "a", payload: ["text": String(repeating: "x", count: 200)])
        XCTAssertThrowsError(try pool.transaction { conn in try outbox.enqueue(on: conn, event: big) }) { error in
            guard case OutboxError.invalidEvent = error else { return XCTFail("\(error)") }
        }

        let client = HTTPClient()
        func relayConfig(_ change: (inout OutboxRelayConfiguration) -> Void) -> OutboxRelayConfiguration {
            var c = OutboxRelayConfiguration(schema: schema, subscribers: ["a": "http://127.0.0.1:1/x"])
            change(&c)
            return c
        }
        for bad in [relayConfig { $0.lease = 1; $0.deliveryTimeout = 1 }, relayConfig { $0.batchSize = 0 },
                    relayConfig { $0.subscribers = ["a": "ftp://host/x"] }, relayConfig { $0.subscribers = ["bad name": "http://h/x"] },
                    relayConfig { $0.maxAttempts = 0 }, relayConfig { $0.schema = "no such; schema" }] {
            XCTAssertThrowsError(try OutboxRelay(configuration: bad, pool: pool, client: client, logger: dataPlaneLogger()))
        }
        XCTAssertEqual(try OutboxRelayConfiguration.parseSubscribers("a=http://h:1/e, b=https://x/y"),
                       ["a": "http://h:1/e", "b": "https://x/y"])
        XCTAssertThrowsError(try OutboxRelayConfiguration.parseSubscribers("a=http://h/e,a=http://h/f"))
        XCTAssertThrowsError(try OutboxRelayConfiguration.parseSubscribers("novalue"))
    }

    func testEnvelopeCarriesPayloadUnchangedAndEscapesTheType() throws {
        let id = UUID()
        let payload = #"{"amount": 12345678901234567890.123, "name": "张三 \"q\""}"#
        let bytes = OutboxEnvelope.encode(id: id, type: "a\"b\\c 张", occurredAt: Date(timeIntervalSince1970: 1_700_000_000.5),
                                          payloadJSON: payload)
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains(#""payload":{"amount": 12345678901234567890.123"#), "numbers keep their precision: \(text)")
        let event = try ReceivedEvent(envelope: bytes)
        XCTAssertEqual(event.id, id)
        XCTAssertEqual(event.type, "a\"b\\c 张")
        XCTAssertEqual(event.occurredAt.timeIntervalSince1970, 1_700_000_000.5, accuracy: 0.001)
        XCTAssertEqual(try event.payload(as: JSONValue.self)["name"]?.stringValue, "张三 \"q\"")

        XCTAssertThrowsError(try ReceivedEvent(envelope: Array("[]".utf8)))
        XCTAssertThrowsError(try ReceivedEvent(envelope: Array(#"{"id":"nope","type":"t","occurredAt":"2024-01-01T00:00:00Z","payload":1}"#.utf8))) { error in
            XCTAssertEqual((error as? APIError)?.status, 400)
        }
        XCTAssertThrowsError(try ReceivedEvent(envelope: Array(#"{"id":"\#(id)","type":"t","occurredAt":"2024-01-01T00:00:00Z"}"#.utf8))) { error in
            XCTAssertEqual((error as? APIError)?.details?["field"]?.stringValue, "payload")
        }
    }

    // MARK: Inbox

    func testInboxRecordsEachEventOncePerConsumerInTheCallersTransaction() throws {
        let (schema, pool) = try makeSchema("inbox")
        let inbox = try Inbox(schema: schema)
        let id = UUID()
        struct Abort: Error {}
        XCTAssertThrowsError(try pool.transaction { conn in
            XCTAssertTrue(try inbox.receive(on: conn, eventId: id, consumer: "c1"))
            throw Abort()
        })
        try pool.transaction { conn in
            XCTAssertTrue(try inbox.receive(on: conn, eventId: id, consumer: "c1"), "the rolled-back record does not count")
            XCTAssertFalse(try inbox.receive(on: conn, eventId: id, consumer: "c1"))
            XCTAssertTrue(try inbox.receive(on: conn, eventId: id, consumer: "c2"), "another consumer processes it too")
        }
        try pool.withConnection { conn in
            XCTAssertThrowsError(try inbox.receive(on: conn, eventId: UUID(), consumer: "c1"))
        }
        XCTAssertThrowsError(try pool.transaction { conn in try inbox.receive(on: conn, eventId: id, consumer: "bad consumer") })
        try pool.withConnection { conn in
            XCTAssertEqual(try inbox.purge(on: conn, olderThan: 3_600), 0)
            XCTAssertEqual(try inbox.purge(on: conn, olderThan: 0), 2)
        }
    }

    // MARK: Relay

    func testRelayDeliversOverHTTPWokenByNotifyAndTheReceiverDeduplicates() throws {
        let (schema, pool) = try makeSchema("deliver")
        let subscriber = try subscriber(schema: schema, pool: pool)
        let metrics = MetricsRegistry()
        // A poll interval of a minute: only NOTIFY can make delivery fast.
        let relay = try relay(schema: schema, pool: pool, subscribers: ["subscriber": subscriber.url], pollInterval: 60,
                              metrics: metrics)
        try relay.start()
        Thread.sleep(forTimeInterval: 0.3)  // the first empty claims pass; the threads now sleep

        let outbox = try Outbox(schema: schema)
        let started = Date()
        let ids = try enqueue(outbox, pool: pool, count: 20)
        XCTAssertTrue(try dataPlaneWait(timeout: 10) {
            try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events WHERE status = 'delivered'") == 20
        }, "all events delivered")
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "woken by NOTIFY, not the 60 s poll")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received"), 20)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(DISTINCT n) FROM received"), 20)
        XCTAssertEqual(Set(subscriber.deliveries.current.keys), Set(ids))

        let headers = try XCTUnwrap(subscriber.lastHeaders.current)
        XCTAssertEqual(headers.first("x-lattice-internal"), "test-credential", "the internal credential is sent")
        XCTAssertEqual(headers.first("content-type"), OutboxEnvelope.batchContentType, "events go out in batches")
        XCTAssertTrue(headers.first("x-request-id")?.hasPrefix("events-") == true)
        XCTAssertLessThan(subscriber.requests.current, 20, "20 events in fewer than 20 requests")
        let text = metrics.render()
        XCTAssertTrue(text.contains("outbox_events_delivered_total{destination=\"subscriber\"} 20"), text)

        // A redelivery of the same envelope (as after a relay crash) is answered 200 and changes nothing.
        let row = try pool.withConnection { conn in
            try conn.query("SELECT event_id, event_type, occurred_at, payload::text AS p FROM outbox_events LIMIT 1")[0]
        }
        let body = OutboxEnvelope.encode(id: try row.decode("event_id"), type: try row.decode("event_type"),
                                         occurredAt: try row.decode("occurred_at"), payloadJSON: try row.decode("p"))
        let answer = try HTTPClient().sendJSON(method: "POST", url: subscriber.url, body: body)
        XCTAssertEqual(answer.status, 200)
        XCTAssertTrue(answer.bodyText.contains("\"duplicate\""), answer.bodyText)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received"), 20)

        // Malformed deliveries are 400s and leave no trace.
        XCTAssertEqual(try HTTPClient().sendJSON(method: "POST", url: subscriber.url, body: Array("{}".utf8)).status, 400)
        var mismatched = HTTPHeaders()
        mismatched.add(OutboxEnvelope.eventIdHeader, UUID().uuidString)
        XCTAssertEqual(try HTTPClient().sendJSON(method: "POST", url: subscriber.url, body: body, extraHeaders: mismatched).status, 400)
        XCTAssertTrue(try dataPlaneWait(timeout: 3) {
            metrics.render().contains("outbox_backlog 0")
        }, "backlog gauge refreshed")
    }

    func testAPoisonEventInABatchIsRetriedAloneWhileTheOthersCommit() throws {
        let (schema, pool) = try makeSchema("poison")
        let subscriber = try subscriber(schema: schema, pool: pool)
        subscriber.poison.update { $0 = [3] }
        let relay = try relay(schema: schema, pool: pool, subscribers: ["subscriber": subscriber.url], maxAttempts: 2)
        _ = try enqueue(try Outbox(schema: schema), pool: pool, count: 10)
        try relay.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 15) {
            try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events WHERE status = 'dead'") == 1
        }, "the poison event is dead-lettered after its attempts")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events WHERE status = 'delivered'"), 9)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received"), 9, "the others committed")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received WHERE n = 3"), 0, "the poison event left nothing")
        let error = try pool.withConnection { conn in
            try conn.query("SELECT last_error FROM outbox_events WHERE status = 'dead'")[0].decode("last_error", as: String.self)
        }
        XCTAssertTrue(error.contains("422") && error.contains("cannot be applied"), error)
        // Its inbox record was undone with it: once mended, the event is processed, not a duplicate.
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM inbox_events"), 9)
    }

    func testABatchAnswersEachLineAndRefusesMalformedBatches() throws {
        let (schema, pool) = try makeSchema("batch")
        let subscriber = try subscriber(schema: schema, pool: pool)
        let good = OutboxEnvelope.encode(id: UUID(), type: "test.happened", occurredAt: Date(), payloadJSON: #"{"n":1}"#)
        var body = good + [0x0A] + Array("not json".utf8) + [0x0A] + good + [0x0A]
        var headers = HTTPHeaders()
        headers.add("content-type", OutboxEnvelope.batchContentType)
        let answer = try HTTPClient().send(HTTPClientRequest(method: "POST", url: subscriber.url, headers: headers, body: body))
        XCTAssertEqual(answer.status, 200, answer.bodyText)
        let results = try answer.decode(OutboxEnvelope.BatchAnswer.self).results
        XCTAssertEqual(results.map(\.outcome), ["processed", "failed", "duplicate"])
        XCTAssertEqual(results[1].status, 400)
        XCTAssertNil(results[1].eventId)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received"), 1)
        // Empty and oversized batches are refused whole.
        body = [0x0A, 0x0A]
        XCTAssertEqual(try HTTPClient().send(HTTPClientRequest(method: "POST", url: subscriber.url, headers: headers, body: body)).status, 400)
        body = Array(repeating: good + [0x0A], count: OutboxEnvelope.maxBatchEvents + 1).flatMap { $0 }
        let tooMany = try HTTPClient().send(HTTPClientRequest(method: "POST", url: subscriber.url, headers: headers, body: body))
        XCTAssertEqual(tooMany.status, 400, tooMany.bodyText)
        XCTAssertTrue(tooMany.bodyText.contains("batch_too_large"), tooMany.bodyText)
    }

    func testABatchHandlerAppliesTheNewEventsTogetherAndFallsBackOneByOne() throws {
        let (schema, pool) = try makeSchema("together")
        final class Calls: @unchecked Sendable {   // Thread-safety: `lock` guards `sizes` and `single`.
            let lock = NSLock()
            var sizes: [Int] = []
            var single = 0
        }
        let calls = Calls()
        let insert: @Sendable (ReceivedEvent, PostgresConnection) throws -> Void = { event, conn in
            let n = try event.payload(as: [String: Int].self)["n"] ?? -1
            if n == 13 { throw APIError(status: 422, code: "poison", message: "13 cannot be applied") }
            try conn.execute("INSERT INTO received (event_id, type, n) VALUES ($1, $2, $3)", event.id, event.type, n)
        }
        let receiver = try InboxReceiver(schema: schema, consumer: "test.together", pool: pool, batchHandler: { events, conn, _ in
            calls.lock.lock(); calls.sizes.append(events.count); calls.lock.unlock()
            for event in events { try insert(event, conn) }
        }) { event, conn, _ in
            calls.lock.lock(); calls.single += 1; calls.lock.unlock()
            try insert(event, conn)
        }
        let router = Router()
        receiver.register(on: router, path: "/events")
        let client = TestClient(router: router)
        func envelope(_ id: UUID, _ n: Int) -> [UInt8] {
            OutboxEnvelope.encode(id: id, type: "test.happened", occurredAt: Date(), payloadJSON: #"{"n":\#(n)}"#) + [0x0A]
        }
        var headers = HTTPHeaders()
        headers.add("content-type", OutboxEnvelope.batchContentType)
        let ids = (0..<5).map { _ in UUID() }
        // Five new events, one of them twice: the handler runs once with the five.
        var body = ids.enumerated().flatMap { envelope($1, $0) } + envelope(ids[2], 2)
        var answer = client.execute(.POST, "/events", headers: headers, body: body)
        XCTAssertEqual(answer.status, 200, answer.text)
        XCTAssertEqual(try answer.json(OutboxEnvelope.BatchAnswer.self).results.map(\.outcome),
                       ["processed", "processed", "processed", "processed", "processed", "duplicate"])
        XCTAssertEqual(calls.sizes, [5])
        // Two known and two new: the handler sees only the new ones.
        let more = [UUID(), UUID()]
        body = envelope(ids[0], 0) + envelope(more[0], 5) + envelope(ids[1], 1) + envelope(more[1], 6)
        answer = client.execute(.POST, "/events", headers: headers, body: body)
        XCTAssertEqual(try answer.json(OutboxEnvelope.BatchAnswer.self).results.map(\.outcome),
                       ["duplicate", "processed", "duplicate", "processed"])
        XCTAssertEqual(calls.sizes, [5, 2])
        // A poison event: the batch handler's work is undone and each event is applied alone.
        let poisoned = [UUID(), UUID(), UUID()]
        body = envelope(poisoned[0], 7) + envelope(poisoned[1], 13) + envelope(poisoned[2], 8)
        answer = client.execute(.POST, "/events", headers: headers, body: body)
        let results = try answer.json(OutboxEnvelope.BatchAnswer.self).results
        XCTAssertEqual(results.map(\.outcome), ["processed", "failed", "processed"])
        XCTAssertEqual(results[1].status, 422)
        XCTAssertEqual(calls.single, 3)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received"), 9)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received WHERE n = 7"), 1, "applied once, not by both paths")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM inbox_events WHERE consumer = 'test.together'"), 9)
    }

    func testRequestsGroupEventsByDestinationWithinTheirLimits() {
        func event(_ seq: Int64, _ destination: String, bytes: Int = 10) -> OutboxRelay.ClaimedEvent {
            OutboxRelay.ClaimedEvent(seq: seq, id: UUID(), type: "t", destination: destination,
                                     payloadJSON: "\"" + String(repeating: "x", count: bytes) + "\"", occurredAt: Date(), attempts: 1)
        }
        let events = [event(1, "a"), event(2, "b"), event(3, "a"), event(4, "a"), event(5, "b", bytes: 5_000), event(6, "b")]
        let requests = OutboxRelay.requests(events, maxEvents: 2, maxBytes: 2_000)
        XCTAssertEqual(requests.map { $0.events.map(\.seq) }, [[1, 3], [2], [4], [5], [6]])
        XCTAssertEqual(requests.map(\.destination), ["a", "b", "a", "b", "b"])
    }

    func testFailingReceiverIsRetriedWithBackoffThenDeadLettered() throws {
        let (schema, pool) = try makeSchema("dead")
        let subscriber = try subscriber(schema: schema, pool: pool)
        subscriber.failWithStatus.update { $0 = 503 }
        let metrics = MetricsRegistry()
        let sink = InMemoryLogSink()
        let relay = try relay(schema: schema, pool: pool, subscribers: ["subscriber": subscriber.url], maxAttempts: 3,
                              metrics: metrics, sink: sink)
        let outbox = try Outbox(schema: schema)
        let ids = try enqueue(outbox, pool: pool, count: 1)
        let waiting = try pool.withConnection { conn in try outbox.statistics(on: conn) }
        XCTAssertEqual([waiting.pending, waiting.dead], [1, 0])
        XCTAssertGreaterThan(waiting.oldestPendingAge, 0)
        try relay.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 10) {
            try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events WHERE status = 'dead'") == 1
        }, "dead-lettered")
        let row = try pool.withConnection { conn in
            try conn.query("SELECT attempts, last_error, lease_token IS NULL AS free FROM outbox_events")[0]
        }
        XCTAssertEqual(try row.decode("attempts", as: Int.self), 3)
        XCTAssertTrue(try row.decode("last_error", as: String.self).contains("503"))
        XCTAssertTrue(try row.decode("free", as: Bool.self))
        XCTAssertEqual(subscriber.deliveries.current[ids[0]], 3, "exactly maxAttempts deliveries")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received"), 0)
        let text = metrics.render()
        XCTAssertTrue(text.contains("outbox_delivery_failures_total{destination=\"subscriber\"} 2"), text)
        XCTAssertTrue(text.contains("outbox_events_dead_total{destination=\"subscriber\"} 1"), text)
        XCTAssertTrue(sink.lines.contains { $0.contains("dead-lettered") })
        let dead = try pool.withConnection { conn in try outbox.statistics(on: conn) }
        XCTAssertEqual([dead.pending, dead.dead], [0, 1])
        XCTAssertEqual(dead.oldestPendingAge, 0)

        // Once the receiver works again an operator requeues it and it is delivered.
        subscriber.failWithStatus.update { $0 = nil }
        try pool.withConnection { conn in XCTAssertEqual(try Outbox(schema: schema).requeueDead(on: conn, eventIds: ids), 1) }
        relay.wakeUp()
        XCTAssertTrue(try dataPlaneWait(timeout: 10) {
            try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received") == 1
        })
        XCTAssertTrue(try dataPlaneWait(timeout: 5) {
            let settled = try pool.withConnection { conn in try outbox.statistics(on: conn) }
            return [settled.pending, settled.dead] == [0, 0] && settled.oldestPendingAge == 0
        }, "delivered events are not counted as waiting")
    }

    func testRetriesAreSpacedByTheBackoffAndUnknownDestinationsFail() throws {
        let (schema, pool) = try makeSchema("backoff")
        let relay = try relay(schema: schema, pool: pool, subscribers: ["known": "http://127.0.0.1:1/refused"], maxAttempts: 5)
        _ = try enqueue(try Outbox(schema: schema), pool: pool, count: 1, destination: "unknown")
        XCTAssertEqual(try relay.deliverDueEvents(), 1)
        let row = try pool.withConnection { conn in
            try conn.query("""
                SELECT status, attempts, last_error, extract(epoch FROM next_attempt_at - now())::float8 AS wait
                FROM outbox_events
                """)[0]
        }
        XCTAssertEqual(try row.decode("status", as: String.self), "pending")
        XCTAssertEqual(try row.decode("attempts", as: Int.self), 1)
        XCTAssertTrue(try row.decode("last_error", as: String.self).contains("no subscriber URL"))
        let wait = try row.decode("wait", as: Double.self)
        XCTAssertGreaterThan(wait, 0.0, "not due again at once")
        XCTAssertLessThanOrEqual(wait, 0.06)
        XCTAssertEqual(try relay.deliverDueEvents(), 0, "nothing due during the backoff")
    }

    func testRowsOfARelayThatDiedBecomeDueWhenTheLeaseEnds() throws {
        let (schema, pool) = try makeSchema("lease")
        let subscriber = try subscriber(schema: schema, pool: pool)
        let ids = try enqueue(try Outbox(schema: schema), pool: pool, count: 3)
        // A relay claimed them and died: its lease runs for another 0.8 s.
        try pool.withConnection { conn in
            try conn.execute("""
                UPDATE outbox_events SET attempts = 1, lease_owner = 'dead-relay', lease_token = $1,
                       next_attempt_at = now() + interval '0.8 seconds'
                """, UUID())
        }
        let relay = try relay(schema: schema, pool: pool, subscribers: ["subscriber": subscriber.url])
        XCTAssertEqual(try relay.deliverDueEvents(), 0, "held by the other relay's lease")
        try relay.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 10) {
            try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events WHERE status = 'delivered'") == 3
        })
        XCTAssertEqual(Set(subscriber.deliveries.current.keys), Set(ids))
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT min(attempts) FROM outbox_events"), 2)
    }

    func testTwoRelaysNeverDeliverTheSameEventTwice() throws {
        let (schema, pool) = try makeSchema("replicas")
        let subscriber = try subscriber(schema: schema, pool: pool)
        let otherPool = try DataPlaneTestDatabase.pool(schema: schema, size: 4)
        cleanups.append { otherPool.close() }
        let first = try relay(schema: schema, pool: pool, subscribers: ["subscriber": subscriber.url], batchSize: 5)
        let second = try relay(schema: schema, pool: otherPool, subscribers: ["subscriber": subscriber.url], batchSize: 5)
        let ids = try enqueue(try Outbox(schema: schema), pool: pool, count: 200)
        try first.start()
        try second.start()
        XCTAssertTrue(try dataPlaneWait(timeout: 30) {
            try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events WHERE status = 'delivered'") == 200
        })
        let deliveries = subscriber.deliveries.current
        XCTAssertEqual(Set(deliveries.keys), Set(ids))
        XCTAssertEqual(deliveries.values.filter { $0 != 1 }.count, 0, "no event was sent twice")
        let owners = try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received")
        XCTAssertEqual(owners, 200)
    }

    func testGracefulStopGivesBackClaimedRowsNotYetAttempted() throws {
        let (schema, pool) = try makeSchema("stop")
        let subscriber = try subscriber(schema: schema, pool: pool)
        subscriber.handlerDelay.update { $0 = 0.3 }
        // One event a request, so that the stop falls between requests of one claimed batch.
        let relay = try relay(schema: schema, pool: pool, subscribers: ["subscriber": subscriber.url], lease: 30, batchSize: 10,
                              eventsPerRequest: 1)
        _ = try enqueue(try Outbox(schema: schema), pool: pool, count: 10)
        try relay.start()
        XCTAssertTrue(dataPlaneWait(timeout: 5) { subscriber.inFlight.current > 0 })
        XCTAssertTrue(relay.stop(timeout: 10))
        let delivered = try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events WHERE status = 'delivered'")
        XCTAssertGreaterThan(delivered, 0)
        XCTAssertLessThan(delivered, 10)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, """
            SELECT count(*) FROM outbox_events
            WHERE status = 'pending' AND lease_token IS NULL AND attempts = 0 AND next_attempt_at <= now()
            """), 10 - delivered, "the rest is due again at once, its attempt not counted")
        XCTAssertThrowsError(try relay.start()) { error in
            guard case OutboxError.alreadyStopped = error else { return XCTFail("\(error)") }
        }
    }

    /// The relay runs as a separate process that is killed with SIGKILL while a delivery is in flight;
    /// a second process takes over. Every event arrives, and the inbox holds each exactly once.
    func testRelayProcessKilledWithSIGKILLMidDeliveryLosesNothing() throws {
        let binary = FixtureProcess.productsDirectory.appendingPathComponent("OutboxRelayFixture")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            return XCTFail("OutboxRelayFixture not found at \(binary.path): build it with `swift build --build-tests` (scripts/test does)")
        }
        let (schema, pool) = try makeSchema("sigkill")
        let subscriber = try subscriber(schema: schema, pool: pool)
        subscriber.handlerDelay.update { $0 = 0.15 }
        let ids = try enqueue(try Outbox(schema: schema), pool: pool, count: 30)
        let environment = [
            "OUTBOX_FIXTURE_DATABASE_URL": try DataPlaneTestDatabase.url(),
            "OUTBOX_FIXTURE_SCHEMA": schema,
            "OUTBOX_FIXTURE_SUBSCRIBERS": "subscriber=\(subscriber.url)",
            "OUTBOX_FIXTURE_LEASE": "2s",
            "OUTBOX_FIXTURE_DELIVERY_TIMEOUT": "1s",
            "OUTBOX_FIXTURE_POLL_INTERVAL": "100ms",
            "OUTBOX_FIXTURE_THREADS": "2",
            "OUTBOX_FIXTURE_BATCH_SIZE": "5",
        ]
        let first = try FixtureProcess("OutboxRelayFixture", environment: environment)
        XCTAssertTrue(first.waitForOutput("ready", timeout: 20), "first relay started: \(first.standardError)")
        // Let it deliver a few, then kill it while a delivery is in the receiver's hands.
        XCTAssertTrue(dataPlaneWait(timeout: 20) { subscriber.deliveries.current.count >= 5 && subscriber.inFlight.current > 0 },
                      "first relay delivering")
        first.signal(SIGKILL)
        XCTAssertEqual(first.waitForExit(timeout: 10).map { _ in first.process.terminationReason }, .uncaughtSignal)
        let deliveredByFirst = subscriber.deliveries.current.count
        XCTAssertLessThan(deliveredByFirst, 30, "killed before it finished")

        let second = try FixtureProcess("OutboxRelayFixture", environment: environment)
        XCTAssertTrue(second.waitForOutput("ready", timeout: 20), "second relay started: \(second.standardError)")
        XCTAssertTrue(try dataPlaneWait(timeout: 30) {
            try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM outbox_events WHERE status = 'delivered'") == 30
        }, "the second relay delivered everything: \(second.standardError)")
        second.signal(SIGTERM)
        XCTAssertEqual(second.waitForExit(timeout: 10), 0, "graceful stop on SIGTERM")

        XCTAssertEqual(Set(subscriber.deliveries.current.keys), Set(ids), "every event arrived at least once")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM inbox_events"), 30)
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(*) FROM received"), 30, "effects applied once each")
        XCTAssertEqual(try DataPlaneTestDatabase.integer(pool, "SELECT count(DISTINCT event_id) FROM received"), 30)
        // The delivery in flight at the kill was processed by the receiver but never marked delivered:
        // it was sent again and answered as a duplicate.
        XCTAssertGreaterThanOrEqual(subscriber.duplicatesAnswered.current, 1)
    }
}
