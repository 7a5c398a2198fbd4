import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET|POST /api/v1/templates`, `GET|PUT /api/v1/templates/{id}`, `POST /api/v1/templates/{id}:approve`.
public enum TemplateRoutes {
    static let options = RouteOptions(maxBodyBytes: 64 << 10)

    public static func register(on router: Router, store: TemplateStore, idempotency: IdempotencyStore) {
        router.get("/api/v1/templates") { request, context in
            let caller = try context.requireIdentity()
            return try .json(try store.templates(caller: caller, page: try PageRequest(query: request.queryParameters)))
        }
        router.post("/api/v1/templates", options: options) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try store.create(try TemplateInput(body: try request.decode(JSONValue.self)), caller: caller)
            }
        }
        router.get("/api/v1/templates/{id}") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try store.template(id: try context.parameters.require("id"), caller: caller))
        }
        router.put("/api/v1/templates/{id}", options: options) { request, context in
            let caller = try context.requireIdentity()
            return try .json(try store.update(id: try context.parameters.require("id"), body: try request.decode(JSONValue.self), caller: caller))
        }
        router.post("/api/v1/templates/{id}:approve") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try store.approve(id: try context.parameters.require("id"), caller: caller))
        }
    }
}
