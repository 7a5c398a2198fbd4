import Contracts
import Foundation
import HTTP
import ServiceKit

/// `POST /api/v1/segments:estimate`, `GET|POST /api/v1/segments`, `GET|PUT /api/v1/segments/{id}`,
/// `POST /api/v1/segments/{id}:refresh`, `POST /api/v1/segments:overlap`.
///
/// The gateway has checked the route's right; the service enforces the org scope.
public enum SegmentRoutes {
    /// A rule has at most `RuleLimits.maxNodes` conditions: 256 KiB is plenty.
    static let ruleOptions = RouteOptions(maxBodyBytes: 256 << 10)

    public static func register(on router: Router, service: SegmentService, idempotency: IdempotencyStore) {
        router.post("/api/v1/segments:estimate", options: ruleOptions) { request, context in
            let caller = try context.requireIdentity()
            return try .json(try service.estimate(body: try request.decode([String: JSONValue].self), caller: caller, context: context))
        }
        router.post("/api/v1/segments:overlap", options: ruleOptions) { request, context in
            let caller = try context.requireIdentity()
            return try .json(try service.overlap(body: try request.decode([String: JSONValue].self), caller: caller))
        }
        router.get("/api/v1/segments") { request, context in
            let caller = try context.requireIdentity()
            return try .json(try service.store.list(caller: caller, page: try PageRequest(query: request.queryParameters)))
        }
        router.post("/api/v1/segments", options: ruleOptions) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try service.create(body: try request.decode([String: JSONValue].self), caller: caller, context: context)
            }
        }
        router.get("/api/v1/segments/{id}") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try service.segment(id: try context.parameters.require("id"), caller: caller))
        }
        router.put("/api/v1/segments/{id}", options: ruleOptions) { request, context in
            let caller = try context.requireIdentity()
            return try .json(try service.update(id: try context.parameters.require("id"),
                                                body: try request.decode([String: JSONValue].self), caller: caller, context: context))
        }
        router.post("/api/v1/segments/{id}:refresh") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try service.refresh(id: try context.parameters.require("id"), caller: caller))
        }
    }
}
