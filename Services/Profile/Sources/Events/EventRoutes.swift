import Contracts
import Foundation
import HTTP
import ServiceKit

/// `POST /api/v1/events` (one event or `{"events": [...]}`) and `GET|POST /api/v1/event-types`.
///
/// The gateway has checked the route's right; the ingestor enforces the org scope per event.
public enum EventRoutes {
    /// 1,000 events of a few properties fit easily; a larger body is refused before it is read (413).
    static let eventsOptions = RouteOptions(maxBodyBytes: 4 << 20)
    static let typesOptions = RouteOptions(maxBodyBytes: 64 << 10)

    public static func register(on router: Router, types: EventTypeCatalog, ingestor: EventIngestor, singles: SingleEventBatcher,
                                idempotency: IdempotencyStore) {
        router.post("/api/v1/events", options: eventsOptions) { request, context in
            let caller = try context.requireIdentity()
            let body = try request.decode(JSONValue.self)
            guard case .object(let object) = body else {
                throw APIError.badRequest("the body must be one event object or {\"events\": [...]}", field: "$")
            }
            if let batch = object["events"] {
                guard case .array(let events) = batch else {
                    throw APIError.badRequest("events must be an array of event objects", field: "events")
                }
                guard !events.isEmpty else { throw APIError.badRequest("events must hold at least one event", field: "events") }
                return try .json(try ingestor.ingest(events, caller: caller))
            }
            // A single event: a refusal is the answer itself (422 naming the field).
            let result = try singles.ingest(body, caller: caller)
            if let refusal = result.rejected.first, case .object(let error) = refusal.error {
                throw APIError(status: 422, code: error["code"]?.stringValue ?? "event_invalid",
                               message: error["message"]?.stringValue ?? "the event was refused", details: error["details"])
            }
            return try .json(result)
        }
        router.get("/api/v1/event-types") { _, context in
            _ = try context.requireIdentity()
            // The catalog is small (at most `EventTypeCatalog.maximumTypes`): one page, no cursor.
            return try .json(Page(items: try types.list(), nextCursor: nil))
        }
        router.post("/api/v1/event-types", options: typesOptions) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try types.create(try request.decode(CreateEventTypeInput.self), caller: caller)
            }
        }
    }
}
