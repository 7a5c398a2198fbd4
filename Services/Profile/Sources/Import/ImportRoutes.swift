import Foundation
import HTTP
import ServiceKit

/// `POST /api/v1/customers:import`, `GET /api/v1/imports/{id}`, `GET /api/v1/imports/{id}/errors`.
///
/// The gateway has checked the route's right (edit for the upload, view for reading); these handlers
/// enforce the org scope.
public enum ImportRoutes {
    public static func register(on router: Router, imports: Imports) {
        let upload = RouteOptions(maxBodyBytes: imports.receiver.limits.maximumBodyBytes, streamsBody: true)
        router.post("/api/v1/customers:import", options: upload) { request, context in
            let caller = try context.requireIdentity()
            let job = try imports.receiver.receive(request, caller: caller, requestId: context.requestId)
            var response = try Response.json(job, status: 202)
            response.headers.set("location", "/api/v1/imports/\(job.id)")
            return response
        }
        router.get("/api/v1/imports/{id}") { _, context in
            let caller = try context.requireIdentity()
            // Whoever polls an upload whose process died sees it fail, even if no other upload follows.
            try imports.store.failAbandonedUploads()
            return try .json(try imports.store.job(id: try context.parameters.require("id"), caller: caller))
        }
        router.get("/api/v1/imports/{id}/errors") { request, context in
            let caller = try context.requireIdentity()
            let page = try PageRequest(query: request.queryParameters, maximumLimit: 1000, defaultLimit: 200)
            return try .json(try imports.store.errors(importId: try context.parameters.require("id"), caller: caller, page: page))
        }
    }
}
