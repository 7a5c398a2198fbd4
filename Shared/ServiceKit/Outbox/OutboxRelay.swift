import Contracts
import Foundation
import HTTP
import Postgres

/// Delivers the service's outbox events over HTTP, at least once, from threads of its own.
///
/// How it works:
/// - Each delivery thread claims up to `batchSize` due rows in one autocommit statement
///   (`SELECT … WHERE status = 'pending' AND next_attempt_at <= now() … FOR UPDATE SKIP LOCKED`, then
///   `attempts + 1`, `next_attempt_at = now() + lease`, a fresh `lease_token`). The claim commits at
///   once: no transaction stays open across an HTTP call, and replicas never hold the same row.
/// - It POSTs the batch's envelopes, grouped by destination (`eventsPerRequest`, `maxRequestBytes` a
///   request), as one `OutboxEnvelope` batch to the destination's configured URL with the service's
///   `HTTPClient` (which adds the internal credential). Events the receiver answers `processed` or
///   `duplicate` are marked delivered in one statement; any other result, a non-2xx answer or no
///   answer schedules a retry with `backoff`, or dead-letters after `maxAttempts` attempts.
/// - If the relay is killed, its rows become due again when the lease ends and another relay (or the
///   restarted one) delivers them: an event may arrive twice, never zero times. Receivers de-duplicate
///   by event id (`Inbox`, `InboxReceiver`).
/// - A thread that could not finish its batch within the lease (slow receivers) gives the rest back
///   instead of delivering on an expired lease.
/// - Woken at once by NOTIFY on `Outbox.channel(schema:)` (a hint only) and polling every
///   `pollInterval` regardless. Order of delivery is roughly by due time, not guaranteed.
///
/// Metrics (when a registry is given): `outbox_events_delivered_total`, `outbox_delivery_failures_total`,
/// `outbox_events_dead_total` (label `destination`), `outbox_delivery_seconds`, and the gauges
/// `outbox_backlog`, `outbox_oldest_pending_seconds`, `outbox_dead_letters`.
///
/// Thread-safety: the lifecycle's `lock` guards its state and `listener`; everything else is immutable or
/// Sendable.
/// Each delivery thread uses pooled connections one statement at a time.
public final class OutboxRelay: @unchecked Sendable {
    public let configuration: OutboxRelayConfiguration
    private let pool: PostgresPool
    private let client: HTTPClient
    private let logger: Logger
    private let tables: DataPlaneTables
    private let channel: String
    private let metrics: OutboxRelayMetrics
    private let lifecycle = WorkerLifecycle()
    private var wake: WakeSignal { lifecycle.wake }
    private var listener: PostgresListener?
    private let backlogLock = NSLock()
    private var lastBacklogRefresh: UInt64 = 0

    /// - Parameters:
    ///   - pool: the service's pool; each statement borrows a connection briefly.
    ///   - client: the service's internal HTTP client, configured with the internal credential.
    ///   - metrics: where to register the relay's metrics; nil records none.
    public init(configuration: OutboxRelayConfiguration, pool: PostgresPool, client: HTTPClient, logger: Logger,
                metrics: MetricsRegistry? = nil) throws(OutboxError) {
        self.configuration = try configuration.validated()
        tables = try DataPlaneTables.make(schema: configuration.schema, invalidConfiguration: OutboxError.invalidConfiguration)
        channel = try Outbox.channel(schema: configuration.schema)
        self.pool = pool
        self.client = client
        self.logger = logger.with(["component": "outbox-relay", "relay": .string(configuration.relayId)])
        self.metrics = try OutboxRelayMetrics(registry: metrics)
    }

    /// Starts the delivery threads and the NOTIFY listener. Returns at once; a database that is down
    /// now is retried in the background. Calling it again while running does nothing.
    public func start() throws(OutboxError) {
        try lifecycle.start(stoppedError: .alreadyStopped, startListenerAndThreads)
    }

    /// `start`'s work, under the lifecycle's lock while the relay is idle.
    private func startListenerAndThreads() throws(OutboxError) {
        if configuration.listensForNotifications {
            let wake = self.wake
            let listener = PostgresListener(configuration: pool.configuration,
                                            onConnect: { wake.signal() },
                                            onNotification: { _ in wake.signal() })
            do {
                try listener.start()
                // Not waiting long: if the server is down, LISTEN is issued on reconnect and polling
                // covers the gap.
                if try !listener.listen(channel, timeout: 1) {
                    logger.warning("outbox LISTEN not active yet; relying on polling until it is",
                                   ["channel": .string(channel)])
                }
            } catch {
                listener.stop()
                throw .database(error)
            }
            self.listener = listener
        }
        for index in 0..<configuration.deliveryThreads {
            lifecycle.threads.spawn(name: "outbox-relay-\(index)") { [self] in deliveryLoop(index: index) }
        }
        logger.info("outbox relay started", ["threads": .int(configuration.deliveryThreads),
                                          "subscribers": .int(configuration.subscribers.count)])
    }

    /// Stops claiming, lets deliveries in flight finish (each is bounded by `deliveryTimeout`), gives
    /// back claimed rows not yet attempted, and stops the listener. Returns false if threads were still
    /// busy after `timeout` (their rows return to the pool when their lease ends).
    @discardableResult
    public func stop(timeout: TimeInterval = 15) -> Bool {
        var listener: PostgresListener?
        let (wasRunning, finished) = lifecycle.stop(timeout: timeout) {
            listener = self.listener
            self.listener = nil
        }
        listener?.stop()
        if wasRunning {
            logger.info("outbox relay stopped", ["clean": .bool(finished)])
        }
        return finished
    }

    /// Makes idle delivery threads look for due rows now (for an in-process enqueue when NOTIFY is off).
    public func wakeUp() {
        wake.signal()
    }

    /// Claims and delivers one batch on the calling thread, whether or not the relay is started; returns
    /// how many rows it claimed. For tools and tests that want a deterministic step.
    @discardableResult
    public func deliverDueEvents() throws(OutboxError) -> Int {
        let batch = try claim()
        deliver(batch)
        return batch.events.count
    }

    /// Refreshes the backlog gauges from the table now.
    public func refreshBacklog() throws(OutboxError) {
        let statistics = try pool.withOutboxConnection { connection in
            try Outbox(schema: configuration.schema).statistics(on: connection)
        }
        metrics.backlog?.set(Double(statistics.pending))
        metrics.oldestPending?.set(statistics.oldestPendingAge)
        metrics.deadLetters?.set(Double(statistics.dead))
    }

    // MARK: Delivery threads

    private func deliveryLoop(index: Int) {
        var consecutiveFailures = 0
        while !wake.isStopped {
            refreshBacklogIfDue()
            // Taken before the claim: a NOTIFY arriving while we query must not be slept through.
            let seen = wake.current
            let batch: ClaimedBatch
            do {
                batch = try claim()
                consecutiveFailures = 0
            } catch {
                consecutiveFailures += 1
                let pause = min(configuration.pollInterval,
                                RetryBackoff(base: 0.1, maximum: 5).delay(afterAttempt: consecutiveFailures))
                if consecutiveFailures == 1 || consecutiveFailures % 20 == 0 {
                    logger.warning("outbox claim failed; retrying",
                                   ["error": .error(error), "failures": .int(consecutiveFailures)])
                }
                wake.sleepUnlessStopped(max(pause, 0.01))
                continue
            }
            if batch.events.isEmpty {
                // Thread 0 also wakes to keep the backlog gauges fresh while nothing happens.
                let refresh = index == 0 && metrics.backlog != nil ? configuration.backlogRefreshInterval : .infinity
                wake.wait(since: seen, timeout: min(configuration.pollInterval, refresh))
            } else {
                deliver(batch)
            }
        }
    }

    private func refreshBacklogIfDue() {
        guard metrics.backlog != nil else { return }
        let now = MonotonicClock.nanoseconds()
        backlogLock.lock()
        let due = now &- lastBacklogRefresh >= UInt64(configuration.backlogRefreshInterval * 1e9) || lastBacklogRefresh == 0
        if due { lastBacklogRefresh = now }
        backlogLock.unlock()
        guard due else { return }
        do {
            try refreshBacklog()
        } catch {
            logger.debug("outbox backlog refresh failed", ["error": .error(error)])
        }
    }

    struct ClaimedEvent: Sendable {
        let seq: Int64
        let id: UUID
        let type: String
        let destination: String
        let payloadJSON: String
        let occurredAt: Date
        /// Attempts including the one this claim is for.
        let attempts: Int
    }

    struct ClaimedBatch: Sendable {
        let token: UUID
        /// Monotonic time of the claim, to keep deliveries inside the lease.
        let claimedAt: UInt64
        let events: [ClaimedEvent]
    }

    private func claim() throws(OutboxError) -> ClaimedBatch {
        let token = UUID()
        let claimedAt = MonotonicClock.nanoseconds()
        let rows: PostgresRows = try pool.withOutboxConnection { connection in
            try connection.query("""
                WITH due AS (
                    SELECT seq FROM \(tables.outbox)
                    WHERE status = 'pending' AND next_attempt_at <= now()
                    ORDER BY next_attempt_at
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED)
                UPDATE \(tables.outbox) AS o
                SET attempts = o.attempts + 1,
                    next_attempt_at = now() + make_interval(secs => $2),
                    lease_owner = $3,
                    lease_token = $4
                FROM due
                WHERE o.seq = due.seq
                RETURNING o.seq, o.event_id, o.event_type, o.destination, o.payload::text AS payload,
                          o.occurred_at, o.attempts
                """, configuration.batchSize, configuration.lease, configuration.relayId, token)
        }
        var events: [ClaimedEvent] = []
        events.reserveCapacity(rows.count)
        for row in rows {
            do {
                events.append(ClaimedEvent(seq: try row.decode("seq"), id: try row.decode("event_id"),
                                           type: try row.decode("event_type"), destination: try row.decode("destination"),
                                           payloadJSON: try row.decode("payload"), occurredAt: try row.decode("occurred_at"),
                                           attempts: try row.decode("attempts")))
            } catch {
                // Cannot happen with our own schema; the row's lease expires and it is tried again.
                logger.error("outbox row cannot be decoded", ["error": .error(error)])
            }
        }
        events.sort { $0.seq < $1.seq }
        return ClaimedBatch(token: token, claimedAt: claimedAt, events: events)
    }

    private func deliver(_ batch: ClaimedBatch) {
        // Leave time for the delivery and the status update before the lease ends.
        let margin = configuration.deliveryTimeout + max(0.1 * configuration.lease, 0.05)
        let requests = Self.requests(batch.events, maxEvents: configuration.eventsPerRequest, maxBytes: configuration.maxRequestBytes)
        for (index, request) in requests.enumerated() {
            let elapsed = Double(MonotonicClock.nanoseconds() &- batch.claimedAt) / 1e9
            if wake.isStopped || configuration.lease - elapsed < margin {
                release(requests[index...].flatMap(\.events), token: batch.token)
                return
            }
            deliver(request, token: batch.token)
        }
    }

    /// Events of one destination, sent together, and their envelopes.
    struct DeliveryRequest {
        let destination: String
        var events: [ClaimedEvent] = []
        var envelopes: [[UInt8]] = []
        var bytes = 0
    }

    /// The claimed events grouped into requests: one destination each, in order of `seq` within it, at
    /// most `maxEvents` events and — unless one event alone is larger — `maxBytes` of envelopes.
    static func requests(_ events: [ClaimedEvent], maxEvents: Int, maxBytes: Int) -> [DeliveryRequest] {
        var open: [String: DeliveryRequest] = [:]
        var done: [DeliveryRequest] = []
        for event in events {
            let envelope = OutboxEnvelope.encode(id: event.id, type: event.type, occurredAt: event.occurredAt,
                                                 payloadJSON: event.payloadJSON)
            var request = open[event.destination] ?? DeliveryRequest(destination: event.destination)
            if !request.events.isEmpty && (request.events.count >= maxEvents || request.bytes + envelope.count + 1 > maxBytes) {
                done.append(request)
                request = DeliveryRequest(destination: event.destination)
            }
            request.events.append(event)
            request.envelopes.append(envelope)
            request.bytes += envelope.count + 1
            open[event.destination] = request
        }
        done.append(contentsOf: open.values)
        return done.sorted { $0.events[0].seq < $1.events[0].seq }
    }

    /// One POST of a batch (`OutboxEnvelope.batchContentType`); events the receiver processed or knew
    /// are marked delivered in one statement, the others retried with their backoff.
    private func deliver(_ request: DeliveryRequest, token: UUID) {
        let label = configuration.subscribers[request.destination] == nil ? "unconfigured" : request.destination
        guard let url = configuration.subscribers[request.destination] else {
            let reason = "no subscriber URL is configured for destination '\(request.destination)'"
            recordFailures(request.events.map { ($0, reason) }, token: token, label: label)
            return
        }
        var body: [UInt8] = []
        body.reserveCapacity(request.bytes)
        for envelope in request.envelopes {
            body += envelope
            body.append(0x0A)
        }
        var headers = HTTPHeaders()
        headers.add("content-type", OutboxEnvelope.batchContentType)
        let first = request.events[0].id.uuidString.lowercased()
        let started = MonotonicClock.nanoseconds()
        var refused: [(ClaimedEvent, String)] = []
        var accepted: [ClaimedEvent] = []
        do {
            // Not idempotent for the client: the relay does its own retries with its own backoff, so
            // a delivery costs at most one deliveryTimeout of the lease.
            let response = try client.send(HTTPClientRequest(
                method: "POST", url: url, headers: headers, body: body,
                timeoutMs: Int(configuration.deliveryTimeout * 1000), idempotent: false),
                context: HTTPClient.CallContext(requestId: "events-" + first))
            if response.isSuccess, let answer = try? response.decode(OutboxEnvelope.BatchAnswer.self) {
                var byId: [String: OutboxEnvelope.BatchResult] = [:]
                for result in answer.results { if let id = result.eventId { byId[id] = result } }
                for event in request.events {
                    switch byId[event.id.uuidString.lowercased()] {
                    case let r? where r.outcome == "processed" || r.outcome == "duplicate": accepted.append(event)
                    case let r?: refused.append((event, "subscriber refused the event: HTTP \(r.status ?? 0) \(r.message ?? "")"))
                    case nil: refused.append((event, "subscriber's answer had no result for the event"))
                    }
                }
            } else {
                let reason = response.isSuccess ? "subscriber's answer is not a batch answer" : "subscriber answered HTTP \(response.status)"
                refused = request.events.map { ($0, reason) }
            }
        } catch {
            refused = request.events.map { ($0, "delivery failed: \(error)") }
        }
        metrics.latency?.observe(Double(MonotonicClock.nanoseconds() &- started) / 1e9)
        recordFailures(refused, token: token, label: label)
        guard !accepted.isEmpty else { return }
        do {
            try pool.withOutboxConnection { connection in
                try connection.execute("""
                    UPDATE \(tables.outbox)
                    SET status = 'delivered', delivered_at = now(), lease_owner = NULL, lease_token = NULL,
                        last_error = NULL
                    WHERE seq = ANY($1::int8[]) AND status = 'pending'
                    """, accepted.map(\.seq))
            }
            try? metrics.delivered?.labels(label).increment(by: accepted.count)
        } catch {
            // Delivered but not recorded: they will be delivered again after the lease (at-least-once).
            logger.warning("outbox delivery not recorded; the events will be sent again",
                           ["events": .int(accepted.count), "first": .string(first), "error": .error(error)])
        }
    }

    /// Schedules the retries of failed events (or dead-letters those at their last attempt) in one
    /// statement: a subscriber that is down fails whole batches, and a statement and a log line per event
    /// would load the database and the log exactly when things already go wrong.
    private func recordFailures(_ failures: [(ClaimedEvent, String)], token: UUID, label: String) {
        guard !failures.isEmpty else { return }
        let events = failures.map(\.0)
        let outcome: [Int64: String]
        do {
            outcome = try pool.withOutboxConnection { connection in
                var statuses: [Int64: String] = [:]
                for row in try connection.query("""
                    UPDATE \(tables.outbox) AS o
                    SET status = CASE WHEN o.attempts >= $2 THEN 'dead' ELSE 'pending' END,
                        next_attempt_at = now() + make_interval(secs => f.delay),
                        last_error = f.reason, lease_owner = NULL, lease_token = NULL
                    FROM unnest($3::int8[], $4::float8[], $5::text[]) AS f(seq, delay, reason)
                    WHERE o.seq = f.seq AND o.lease_token = $1 AND o.status = 'pending'
                    RETURNING o.seq, o.status
                    """, token, configuration.maxAttempts, events.map(\.seq),
                    events.map { configuration.backoff.delay(afterAttempt: $0.attempts) },
                    failures.map { String($0.1.prefix(2_000)) }) {
                    statuses[try row.decode("seq")] = try row.decode("status")
                }
                return statuses
            }
        } catch {
            logger.warning("outbox failures not recorded; the events are retried after their lease",
                           ["events": .int(events.count), "first": .string(events[0].id.uuidString), "error": .error(error)])
            return
        }
        var retried = 0, passedOn = 0
        var firstRetried: (ClaimedEvent, String)?
        for (event, reason) in failures {
            switch outcome[event.seq] {
            case "dead":
                try? metrics.dead?.labels(label).increment()
                logger.error("outbox event dead-lettered after its last attempt", [
                    "eventId": .string(event.id.uuidString.lowercased()), "type": .string(event.type),
                    "destination": .string(event.destination), "attempt": .int(event.attempts), "error": .string(reason),
                ])
            case "pending":
                retried += 1
                if firstRetried == nil { firstRetried = (event, reason) }
            default: passedOn += 1   // our lease ended and another relay holds the row now: it decides
            }
        }
        if let first = firstRetried {
            try? metrics.failed?.labels(label).increment(by: retried)
            logger.warning("outbox delivery failed; will retry", [
                "events": .int(retried), "destination": .string(first.0.destination),
                "firstEventId": .string(first.0.id.uuidString.lowercased()), "attempt": .int(first.0.attempts),
                "error": .string(first.1),
            ])
        }
        if passedOn > 0 {
            logger.info("outbox delivery failed after the lease passed to another relay", ["events": .int(passedOn)])
        }
    }

    /// Gives claimed, unattempted rows back: due now, and the claim's attempt not counted.
    private func release(_ events: [ClaimedEvent], token: UUID) {
        guard !events.isEmpty else { return }
        do {
            try pool.withOutboxConnection { connection in
                try connection.execute("""
                    UPDATE \(tables.outbox)
                    SET next_attempt_at = now(), attempts = greatest(attempts - 1, 0),
                        lease_owner = NULL, lease_token = NULL
                    WHERE seq = ANY($1::int8[]) AND lease_token = $2 AND status = 'pending'
                    """, events.map(\.seq), token)
            }
        } catch {
            logger.warning("outbox rows not released; they return when their lease ends", ["error": .error(error)])
        }
    }
}

/// The relay's metrics; every member nil when no registry was given.
struct OutboxRelayMetrics: Sendable {
    let delivered: CounterFamily?
    let failed: CounterFamily?
    let dead: CounterFamily?
    let latency: Histogram?
    let backlog: Gauge?
    let oldestPending: Gauge?
    let deadLetters: Gauge?

    init(registry: MetricsRegistry?) throws(OutboxError) {
        guard let registry else {
            (delivered, failed, dead, latency, backlog, oldestPending, deadLetters) = (nil, nil, nil, nil, nil, nil, nil)
            return
        }
        do {
            delivered = try registry.counter("outbox_events_delivered_total", help: "Outbox events delivered (2xx answer).",
                                             labelNames: ["destination"])
            failed = try registry.counter("outbox_delivery_failures_total",
                                          help: "Outbox delivery attempts that failed and will be retried.",
                                          labelNames: ["destination"])
            dead = try registry.counter("outbox_events_dead_total", help: "Outbox events dead-lettered after their last attempt.",
                                        labelNames: ["destination"])
            latency = try registry.histogram("outbox_delivery_seconds", help: "Time of one outbox delivery attempt.")
            backlog = try registry.gauge("outbox_backlog", help: "Outbox events waiting for delivery.")
            oldestPending = try registry.gauge("outbox_oldest_pending_seconds", help: "Age of the oldest undelivered outbox event.")
            deadLetters = try registry.gauge("outbox_dead_letters", help: "Outbox events in the dead-letter state.")
        } catch {
            throw .invalidConfiguration("metrics: \(error)")
        }
    }
}

extension PostgresPool {
    /// `withConnection` with the pool's own failures (exhausted, closed, connect) as `OutboxError`.
    @discardableResult
    func withOutboxConnection<T>(_ body: (PostgresConnection) throws -> T) throws(OutboxError) -> T {
        do {
            return try withConnection { connection in try body(connection) }
        } catch let error as OutboxError {
            throw error
        } catch let error as PostgresError {
            throw .database(error)
        } catch {
            throw .database(.invalidState("\(error)"))
        }
    }
}

extension Service {
    /// Adds a relay delivering this service's outbox to `subscribers` (`LATTICE_EVENT_SUBSCRIBERS`), with
    /// the service's pool, internal client, logger and metrics; nothing when there are none.
    public func addOutboxRelay(subscribers: [String: String]) throws {
        guard !subscribers.isEmpty else { return }
        add(task: try OutboxRelay(configuration: OutboxRelayConfiguration(schema: settings.databaseSchema, subscribers: subscribers),
                                  pool: database, client: client, logger: logger, metrics: metrics))
    }
}
