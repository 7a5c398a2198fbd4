import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET|POST /api/v1/tags`, `GET /api/v1/tags/{code}`, `POST /api/v1/tags/{code}/members`.
///
/// The gateway has checked the route's right; the store enforces the org scope.
public enum TagRoutes {
    /// 10,000 members of 64-character ids with a score each fit well inside 2 MiB.
    static let membersOptions = RouteOptions(maxBodyBytes: 2 << 20)
    static let createOptions = RouteOptions(maxBodyBytes: 256 << 10)

    public static func register(on router: Router, store: TagStore, idempotency: IdempotencyStore) {
        router.get("/api/v1/tags") { request, context in
            let caller = try context.requireIdentity()
            var kind: TagKind?
            if let text = request.queryParameters["kind"], !text.isEmpty {
                guard let k = TagKind(rawValue: text) else {
                    throw APIError.badRequest("kind must be one of manual, rule, score, activity", field: "kind")
                }
                kind = k
            }
            return try .json(try store.list(caller: caller, kind: kind, page: try PageRequest(query: request.queryParameters)))
        }
        router.post("/api/v1/tags", options: createOptions) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try store.create(body: try request.decode([String: JSONValue].self), caller: caller)
            }
        }
        router.get("/api/v1/tags/{code}") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try store.tag(code: try context.parameters.require("code"), caller: caller))
        }
        router.post("/api/v1/tags/{code}/members", options: membersOptions) { request, context in
            let caller = try context.requireIdentity()
            return try .json(try store.changeMembers(code: try context.parameters.require("code"),
                                                     body: try request.decode([String: JSONValue].self), caller: caller))
        }
    }
}
