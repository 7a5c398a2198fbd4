import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET|POST /api/v1/lists`, `GET /api/v1/lists/{id}`: white and black lists of uploaded customer ids.
public enum ListRoutes {
    /// 100,000 ids of up to 64 characters.
    static let uploadOptions = RouteOptions(maxBodyBytes: 8 << 20)

    public static func register(on router: Router, uploads: ListUploads, idempotency: IdempotencyStore) {
        router.get("/api/v1/lists") { request, context in
            let caller = try context.requireIdentity()
            return try .json(try uploads.store.lists(caller: caller, page: try PageRequest(query: request.queryParameters)))
        }
        router.post("/api/v1/lists", options: uploadOptions) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try uploads.create(body: try request.decode([String: JSONValue].self), caller: caller)
            }
        }
        router.get("/api/v1/lists/{id}") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try uploads.store.list(id: try context.parameters.require("id"), caller: caller))
        }
    }
}
