import Contracts
import Foundation
import HTTP
import Postgres

/// The receiving end of outbox deliveries: an HTTP route that decodes the envelope, runs the handler
/// in one transaction together with the inbox check, and answers 200 for new and duplicate events
/// alike (a duplicate is success for the sender, which then stops retrying).
///
/// ```swift
/// try InboxReceiver(schema: "dispatch", consumer: "dispatch.consents", pool: pool) { event, conn, _ in
///     let change = try event.payload(as: ConsentChange.self)
///     try conn.execute("UPDATE ... WHERE customer_id = $1", change.customerId)
/// }.register(on: router, path: "/internal/events/consents")
/// ```
///
/// Answers to one event: 200 `{"eventId": …, "outcome": "processed" | "duplicate"}`; 400 for a malformed
/// envelope or an id header that disagrees with the body; the handler's own `APIError`; 503 when the
/// database is unavailable or the transaction hit a serialization failure (the sender retries).
///
/// A batch (`OutboxEnvelope.batchContentType`, one envelope per line) is handled in one transaction,
/// each event under its own savepoint: an event whose handler throws is undone alone and reported
/// `failed` with its status, the others commit. The answer is 200 `OutboxEnvelope.BatchAnswer`; 503 as
/// above when the database itself fails (nothing of the batch commits then).
///
/// Internal authentication is the router's middleware's job, as for every internal route.
///
/// Thread-safety: immutable; handlers run on the server's worker threads, one request each.
public struct InboxReceiver: Sendable {
    /// Applies one new event's effects on `connection`, inside the transaction that records it in the
    /// inbox. Throwing rolls both back (the sender will retry).
    public typealias Handler = @Sendable (ReceivedEvent, PostgresConnection, RequestContext) throws -> Void
    /// Applies the new events of a batch together, inside the transaction that records them in the
    /// inbox (a consumer that writes shared rows once for many events, in an order of its own).
    /// Throwing falls back to `Handler` one event at a time, so that one bad event is told apart.
    public typealias BatchHandler = @Sendable ([ReceivedEvent], PostgresConnection, RequestContext) throws -> Void

    public let consumer: String
    public let inbox: Inbox
    let pool: PostgresPool
    let handler: Handler
    let batchHandler: BatchHandler?

    /// - Parameter consumer: the dedupe namespace, e.g. `dispatch.consents` (each consumer sees each
    ///   event id once; two consumers of the same event each process it).
    ///   - batchHandler: applies a batch's new events at once; nil applies them one by one with `handler`.
    public init(schema: String, consumer: String, pool: PostgresPool, batchHandler: BatchHandler? = nil,
                handler: @escaping Handler) throws(OutboxError) {
        guard DataPlaneText.isName(consumer) else {
            throw .invalidConfiguration("consumer must be 1…100 characters of A-Z a-z 0-9 _ . : -")
        }
        self.inbox = try Inbox(schema: schema)
        self.consumer = consumer
        self.pool = pool
        self.handler = handler
        self.batchHandler = batchHandler
    }

    /// Adds `POST path` to `router`.
    public func register(on router: Router, path: String, options: RouteOptions = .default) {
        let receiver = self
        router.post(path, options: options) { request, context in
            try receiver.handle(request, context: context)
        }
    }

    /// The outcome of one delivery.
    public enum Outcome: String, Sendable, Codable {
        case processed
        case duplicate
    }

    struct Answer: Encodable {
        let eventId: String
        let outcome: Outcome
    }

    /// Handles one delivery (the route's body; public for services that route differently).
    public func handle(_ request: Request, context: RequestContext) throws -> Response {
        if OutboxEnvelope.isBatch(request.headers) {
            return try .json(handleBatch(try request.collectBody(), context: context))
        }
        let event = try ReceivedEvent(envelope: try request.collectBody())
        if let header = request.headers.first(OutboxEnvelope.eventIdHeader),
           UUID(uuidString: header) != event.id {
            throw APIError.badRequest("\(OutboxEnvelope.eventIdHeader) does not match the envelope id",
                                      field: "id", code: "event_id_mismatch")
        }
        let outcome: Outcome = try transaction { connection in
            guard try inbox.receive(on: connection, eventId: event.id, consumer: consumer, eventType: event.type) else {
                return .duplicate
            }
            try handler(event, connection, context)
            return .processed
        }
        return try .json(Answer(eventId: event.id.uuidString.lowercased(), outcome: outcome))
    }

    /// A batch in one transaction, each event under a savepoint; the results in the order of the lines.
    func handleBatch(_ body: [UInt8], context: RequestContext) throws -> OutboxEnvelope.BatchAnswer {
        let lines = try OutboxEnvelope.batch(of: body)
        var events: [Result<ReceivedEvent, APIError>] = []
        events.reserveCapacity(lines.count)
        for line in lines {
            do { events.append(.success(try ReceivedEvent(envelope: Array(line)))) } catch { events.append(.failure(error)) }
        }
        if batchHandler != nil, let answer = try handleTogether(events, context: context) { return answer }
        return try transaction { connection in
            var results: [OutboxEnvelope.BatchResult] = []
            results.reserveCapacity(events.count)
            for item in events {
                let event: ReceivedEvent
                switch item {
                case .failure(let error):
                    results.append(.init(eventId: nil, outcome: "failed", status: error.status, message: error.message))
                    continue
                case .success(let e): event = e
                }
                let id = event.id.uuidString.lowercased()
                do {
                    let outcome = try connection.withSavepoint { conn -> Outcome in
                        guard try inbox.receive(on: conn, eventId: event.id, consumer: consumer, eventType: event.type) else {
                            return .duplicate
                        }
                        try handler(event, conn, context)
                        return .processed
                    }
                    results.append(.init(eventId: id, outcome: outcome.rawValue))
                } catch {
                    if connection.isBroken { throw error }
                    if let db = Self.databaseError(error), db.isUnavailable { throw error }
                    let api = ErrorMapping.apiError(for: error)
                    results.append(.init(eventId: id, outcome: "failed", status: api.status, message: String(api.message.prefix(500))))
                }
            }
            return OutboxEnvelope.BatchAnswer(results: results)
        }
    }

    /// A batch through `batchHandler`: one inbox statement, the new events applied at once. Nil when the
    /// handler refused (nothing of it stays): the caller then applies the events one by one.
    private func handleTogether(_ events: [Result<ReceivedEvent, APIError>], context: RequestContext) throws -> OutboxEnvelope.BatchAnswer? {
        guard let batchHandler else { return nil }
        var valid: [ReceivedEvent] = []
        var seen = Set<UUID>()
        for case .success(let event) in events where seen.insert(event.id).inserted { valid.append(event) }
        do {
            return try transaction { connection -> OutboxEnvelope.BatchAnswer in
                let new = try inbox.receive(on: connection, events: valid.map { ($0.id, $0.type) }, consumer: consumer)
                do {
                    try batchHandler(valid.filter { new.contains($0.id) }, connection, context)
                } catch {
                    if connection.isBroken { throw error }
                    if let db = Self.databaseError(error), db.isUnavailable { throw error }
                    throw HandlerRefused()   // rolls the inbox records back with the transaction
                }
                var answered = Set<UUID>()
                return OutboxEnvelope.BatchAnswer(results: events.map { item in
                    switch item {
                    case .failure(let error):
                        return .init(eventId: nil, outcome: "failed", status: error.status, message: error.message)
                    case .success(let event):
                        // The first copy of an id is what was applied; a repeat in the batch is a duplicate.
                        let first = answered.insert(event.id).inserted
                        return .init(eventId: event.id.uuidString.lowercased(),
                                     outcome: first && new.contains(event.id) ? Outcome.processed.rawValue : Outcome.duplicate.rawValue)
                    }
                })
            }
        } catch is HandlerRefused {
            return nil
        }
    }

    /// The batch handler threw: undo the batch's transaction and apply its events one by one.
    private struct HandlerRefused: Error {}

    /// `pool.transaction`, with database trouble the sender should retry answered 503 (`mapped`).
    private func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        do {
            return try pool.transaction(body)
        } catch {
            if let db = Self.databaseError(error) { throw Self.mapped(db) }
            throw error
        }
    }

    private static func databaseError(_ error: any Error) -> PostgresError? {
        if let db = error as? PostgresError { return db }
        if case .database(let db)? = error as? OutboxError { return db }
        return nil
    }

    /// Database trouble the sender should retry is a 503; anything else stays as it is (a 500).
    static func mapped(_ error: PostgresError) -> any Error {
        if error.isUnavailable || error.isSerializationFailure || error.isQueryCanceled {
            return APIError.unavailable("database unavailable, retry later", code: "database_unavailable", retryAfter: 1)
        }
        return error
    }
}
