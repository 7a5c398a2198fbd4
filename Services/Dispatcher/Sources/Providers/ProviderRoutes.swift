import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET|POST /api/v1/providers`.
public enum ProviderRoutes {
    static let options = RouteOptions(maxBodyBytes: 16 << 10)

    public static func register(on router: Router, store: ProviderStore, idempotency: IdempotencyStore) {
        router.get("/api/v1/providers") { request, context in
            _ = try context.requireIdentity()
            return try .json(try store.providers(page: try PageRequest(query: request.queryParameters)))
        }
        router.post("/api/v1/providers", options: options) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try store.create(try ProviderInput(body: try request.decode(JSONValue.self)), caller: caller)
            }
        }
    }
}
