import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET|PUT /api/v1/policies`.
public enum PolicyRoutes {
    static let options = RouteOptions(maxBodyBytes: 1 << 20)

    public static func register(on router: Router, store: PolicyStore) {
        router.get("/api/v1/policies") { _, context in
            _ = try context.requireIdentity()
            return try .json(try store.document())
        }
        router.put("/api/v1/policies", options: options) { request, context in
            let caller = try context.requireIdentity()
            return try .json(try store.update(body: try request.decode(JSONValue.self), caller: caller))
        }
    }
}
