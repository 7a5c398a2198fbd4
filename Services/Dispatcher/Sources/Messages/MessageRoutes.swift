import Contracts
import Foundation
import HTTP
import ServiceKit

/// `POST /api/v1/messages` (one message, or `{"messages": [...]}` of up to 1,000), `GET /api/v1/messages`,
/// `GET /api/v1/messages/{id}`.
public enum MessageRoutes {
    static let options = RouteOptions(maxBodyBytes: 4 << 20)

    public static func register(on router: Router, admission: MessageAdmission, store: MessageStore) {
        router.post("/api/v1/messages", options: options) { request, context in
            let caller = try context.requireIdentity()
            let headerKey = request.headers.first(IdempotencyStore.header)
            let (items, batch) = try SendRequest.parse(try request.decode(JSONValue.self), headerKey: headerKey)
            let outcomes = try admission.admit(items, caller: caller, requestId: context.requestId.isEmpty ? nil : context.requestId)
            if !batch {
                switch outcomes[0] {
                case .message(let m, let replayed): return try .json(m, status: replayed ? 200 : 201)
                case .refused(let error): throw error
                }
            }
            return .json(encoded: batchAnswer(outcomes))
        }
        router.get("/api/v1/messages") { request, context in
            let caller = try context.requireIdentity()
            return try .json(try store.messages(query: request.queryParameters, caller: caller))
        }
        // The profile's 360° view: the customer's latest messages, in the forwarded caller's scope.
        router.get("/internal/v1/customers/{id}/messages") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try store.latest(customerId: try context.parameters.require("id"), caller: caller))
        }
        router.get("/api/v1/messages/{id}") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try store.message(id: try context.parameters.require("id"), caller: caller))
        }
    }

    /// `{"items": [{index, message, replayed} | {index, error}]}`, written directly (`Message.write`).
    static func batchAnswer(_ outcomes: [MessageAdmission.Outcome]) -> [UInt8] {
        var bytes = Array(#"{"items":"#.utf8)
        JSONText.appendArray(Array(outcomes.enumerated()), to: &bytes) { item, bytes in
            bytes.append(UInt8(ascii: "{"))
            JSONText.appendKey("index", first: true, to: &bytes)
            JSONText.appendInteger(Int64(item.offset), to: &bytes)
            switch item.element {
            case .message(let m, let replayed):
                JSONText.appendKey("message", to: &bytes)
                m.write(into: &bytes)
                JSONText.appendKey("replayed", to: &bytes)
                JSONValue.bool(replayed).write(into: &bytes)
            case .refused(let error):
                JSONText.appendKey("error", to: &bytes)
                (error.body["error"] ?? .null).write(into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}
