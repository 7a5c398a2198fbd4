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
/// Answers: 200 `{"eventId": …, "outcome": "processed" | "duplicate"}`; 400 for a malformed envelope or
/// an id header that disagrees with the body; the handler's own `APIError`; 503 when the database is
/// unavailable or the transaction hit a serialization failure (the sender retries). Internal
/// authentication is the router's middleware's job, as for every internal route.
///
/// Thread-safety: immutable; handlers run on the server's worker threads, one request each.
public struct InboxReceiver: Sendable {
    /// Applies one new event's effects on `connection`, inside the transaction that records it in the
    /// inbox. Throwing rolls both back (the sender will retry).
    public typealias Handler = @Sendable (ReceivedEvent, PostgresConnection, RequestContext) throws -> Void

    public let consumer: String
    public let inbox: Inbox
    let pool: PostgresPool
    let handler: Handler

    /// - Parameter consumer: the dedupe namespace, e.g. `dispatch.consents` (each consumer sees each
    ///   event id once; two consumers of the same event each process it).
    public init(schema: String, consumer: String, pool: PostgresPool, handler: @escaping Handler) throws(OutboxError) {
        guard DataPlaneText.isName(consumer) else {
            throw .invalidConfiguration("consumer must be 1…100 characters of A-Z a-z 0-9 _ . : -")
        }
        self.inbox = try Inbox(schema: schema)
        self.consumer = consumer
        self.pool = pool
        self.handler = handler
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
        let event = try ReceivedEvent(envelope: try request.collectBody())
        if let header = request.headers.first(OutboxEnvelope.eventIdHeader),
           UUID(uuidString: header) != event.id {
            throw APIError.badRequest("\(OutboxEnvelope.eventIdHeader) does not match the envelope id",
                                      field: "id", code: "event_id_mismatch")
        }
        let outcome: Outcome
        do {
            outcome = try pool.transaction { connection in
                guard try inbox.receive(on: connection, eventId: event.id, consumer: consumer, eventType: event.type) else {
                    return .duplicate
                }
                try handler(event, connection, context)
                return .processed
            }
        } catch let error as OutboxError {
            if case .database(let db) = error { throw Self.mapped(db) }
            throw error
        } catch let error as PostgresError {
            throw Self.mapped(error)
        }
        return try .json(Answer(eventId: event.id.uuidString.lowercased(), outcome: outcome))
    }

    /// Database trouble the sender should retry is a 503; anything else stays as it is (a 500).
    static func mapped(_ error: PostgresError) -> any Error {
        if error.isUnavailable || error.isSerializationFailure || error.isQueryCanceled {
            return APIError.unavailable("database unavailable, retry later", code: "database_unavailable", retryAfter: 1)
        }
        return error
    }
}
