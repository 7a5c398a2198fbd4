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
            return try .json(BatchAnswer(items: outcomes.enumerated().map { BatchItem(index: $0.offset, outcome: $0.element) }))
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

    struct BatchAnswer: Encodable { var items: [BatchItem] }

    /// One item of a batch's answer: `{index, message, replayed}` or `{index, error}`.
    struct BatchItem: Encodable {
        var index: Int
        var outcome: MessageAdmission.Outcome

        enum Key: String, CodingKey { case index, message, replayed, error }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(index, forKey: .index)
            switch outcome {
            case .message(let m, let replayed):
                try c.encode(m, forKey: .message)
                try c.encode(replayed, forKey: .replayed)
            case .refused(let error):
                try c.encode(error.body["error"] ?? .null, forKey: .error)
            }
        }
    }
}
