import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// `GET|POST /api/v1/canvases`, `GET|PUT /api/v1/canvases/{id}`, the lifecycle actions
/// `:submit :approve :reject :pause :resume :stop`, `:copy` (templates), test runs (`:test` and
/// `GET /api/v1/canvases/{id}/tests/{runId}`), `GET /api/v1/canvases/{id}/stats`,
/// the account managers' `GET /api/v1/tasks` and `POST /api/v1/tasks/{id}:complete`, and the customer's
/// journeys for the profile's 360° view.
///
/// The gateway has checked the route's right; the service enforces the org scope.
public enum CanvasRoutes {
    static let options = RouteOptions(maxBodyBytes: 512 << 10)

    static func body(_ request: Request) throws -> JSONValue? {
        request.body.bytes.isEmpty ? nil : try request.decode(JSONValue.self)
    }

    public static func register(on router: Router, service: CanvasService, tasks: TaskStore, database: PostgresPool,
                                idempotency: IdempotencyStore, changed: @escaping @Sendable () -> Void) {
        router.get("/api/v1/canvases") { request, context in
            let caller = try context.requireIdentity()
            let q = request.queryParameters
            var status: CanvasStatus?
            if let s = q["status"], !s.isEmpty {
                guard let parsed = CanvasStatus(rawValue: s) else {
                    throw APIError.badRequest("status must be one of \(CanvasStatus.allCases.map(\.rawValue).joined(separator: ", "))", field: "status")
                }
                status = parsed
            }
            var templates: Bool?
            switch q["template"] {
            case nil, "": break
            case "true": templates = true
            case "false": templates = false
            default: throw APIError.badRequest("template must be true or false", field: "template")
            }
            return try .json(try service.store.list(caller: caller, page: try PageRequest(query: q), status: status, templates: templates))
        }
        router.post("/api/v1/canvases", options: options) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try service.create(body: try request.decode(JSONValue.self), caller: caller)
            }
        }
        router.get("/api/v1/canvases/{id}") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try service.store.canvas(id: try context.parameters.require("id"), caller: caller))
        }
        router.put("/api/v1/canvases/{id}", options: options) { request, context in
            let caller = try context.requireIdentity()
            return try .json(try service.update(id: try context.parameters.require("id"), body: try request.decode(JSONValue.self), caller: caller))
        }
        let actions: [(String, @Sendable (CanvasService, String, JSONValue?, CallerIdentity) throws -> Canvas)] = [
            ("submit", { s, id, _, c in try s.submit(id: id, caller: c) }),
            ("approve", { s, id, _, c in try s.approve(id: id, caller: c) }),
            ("reject", { s, id, b, c in try s.reject(id: id, body: b, caller: c) }),
            ("pause", { s, id, _, c in try s.pause(id: id, caller: c) }),
            ("resume", { s, id, _, c in try s.resume(id: id, caller: c) }),
            ("stop", { s, id, _, c in try s.stop(id: id, caller: c) }),
        ]
        for (name, action) in actions {
            router.post("/api/v1/canvases/{id}:\(name)", options: options) { request, context in
                let caller = try context.requireIdentity()
                let canvas = try action(service, try context.parameters.require("id"), try body(request), caller)
                changed()
                return try .json(canvas)
            }
        }
        router.post("/api/v1/canvases/{id}:copy", options: options) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try service.copy(id: try context.parameters.require("id"), body: try body(request), caller: caller)
            }
        }
        // Asynchronous: 202 with the run, whose journeys then move like any others.
        router.post("/api/v1/canvases/{id}:test", options: options) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request, status: 202) {
                try service.test(id: try context.parameters.require("id"), body: try body(request), caller: caller)
            }
        }
        // A run's test customers are the testing unit's: shown to its subtree only, like changes.
        router.get("/api/v1/canvases/{id}/tests/{runId}") { _, context in
            let caller = try context.requireIdentity()
            let canvas = try service.store.owned(id: try context.parameters.require("id"), caller: caller)
            return try .json(try service.tests.run(id: try context.parameters.require("runId"), canvas: canvas))
        }
        router.get("/api/v1/canvases/{id}/stats") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try CanvasStats.load(try service.store.canvas(id: try context.parameters.require("id"), caller: caller),
                                                  database: database))
        }
        router.get("/api/v1/tasks") { request, context in
            let caller = try context.requireIdentity()
            let q = request.queryParameters
            return try .json(try tasks.list(caller: caller, status: q["status"].flatMap { $0.isEmpty ? nil : $0 }, page: try PageRequest(query: q)))
        }
        router.post("/api/v1/tasks/{id}:complete") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try tasks.complete(id: try context.parameters.require("id"), caller: caller))
        }
        // The profile's 360° view: the customer's latest journeys, in the forwarded caller's scope.
        router.get("/internal/v1/customers/{id}/journeys") { _, context in
            let caller = try context.requireIdentity()
            let rows = try database.query("""
                SELECT j.canvas_id, c.name, j.version, j.arm, j.state, j.node, j.entered_at, j.converted_at, j.exited_at, j.exit_reason, j.test_run
                  FROM journeys j JOIN canvases c ON c.id = j.canvas_id
                 WHERE j.customer_id = $1 AND starts_with(c.org_path, $2) ORDER BY j.entered_at DESC LIMIT 20
                """, try context.parameters.require("id"), caller.orgPath)
            let items: [JSONValue] = try rows.map { r in
                var o: [String: JSONValue] = [
                    "canvasId": .string(try r.decode("canvas_id")), "name": .string(try r.decode("name")),
                    "version": .number(Double(try r.decode("version", as: Int.self))), "state": .string(try r.decode("state")),
                    "enteredAt": .string(JSONCoding.formatDate(try r.decode("entered_at"))),
                ]
                if let a: String = try r.decode("arm") { o["arm"] = .string(a) }
                if let n: String = try r.decode("node") { o["node"] = .string(n) }
                if let d: Date = try r.decode("converted_at") { o["convertedAt"] = .string(JSONCoding.formatDate(d)) }
                if let d: Date = try r.decode("exited_at") { o["exitedAt"] = .string(JSONCoding.formatDate(d)) }
                if let x: String = try r.decode("exit_reason") { o["exitReason"] = .string(x) }
                if let t: String = try r.decode("test_run") { o["testRunId"] = .string(t) }   // a rehearsal, not a campaign
                return .object(o)
            }
            return try .json(["items": JSONValue.array(items)])
        }
    }
}
