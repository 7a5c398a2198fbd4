import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET|POST /api/v1/attributes`: the typed attribute catalog.
public enum AttributeRoutes {
    public static func register(on router: Router, catalog: AttributeCatalog, idempotency: IdempotencyStore) {
        router.get("/api/v1/attributes") { _, context in
            _ = try context.requireIdentity()
            return try .json(["items": try catalog.list()])
        }
        router.post("/api/v1/attributes", options: RouteOptions(maxBodyBytes: 64 << 10)) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try catalog.create(try request.decode(CreateAttributeInput.self), caller: caller)
            }
        }
    }
}
