import Contracts
import Foundation
import HTTP
import ServiceKit

/// The identity API of DESIGN.md §3 under `/api/v1`: login/logout/me, org units, users, API keys.
///
/// `GatewayAuthMiddleware` in front has authenticated the caller (`context.identity`) and checked the
/// route's right (`manage` for users and API keys, `manage` to write orgs); these handlers enforce the
/// org scope: a record outside the caller's subtree answers 404, exactly like one that does not exist,
/// and lists hold only the subtree.
public enum IdentityRoutes {
    /// Body limit of these routes: they take small JSON documents.
    static let options = RouteOptions(maxBodyBytes: 16 << 10)

    public static func register(on router: Router, store: IdentityStore, audit: any AuditRecorder) {
        router.post("/api/v1/auth/login", options: options) { request, context in
            try login(request, context, store: store, audit: audit)
        }
        router.post("/api/v1/auth/logout", options: options) { request, _ in
            guard let token = GatewayAuthMiddleware.bearerToken(request.headers) else {
                throw APIError.unauthorized("sign in first: send Authorization: Bearer <token>")
            }
            guard token.hasPrefix(IdentitySecrets.sessionPrefix) else {
                throw APIError.unprocessable("an API key is not a session; revoke it with POST /api/v1/api-keys/{id}:revoke",
                                             code: "not_a_session")
            }
            try store.logout(bearerToken: token)
            return .status(204)
        }
        router.get("/api/v1/me") { _, context in
            try .json(try store.describe(caller: try context.requireIdentity()))
        }

        router.get("/api/v1/orgs") { request, context in
            try .json(try store.listOrgs(caller: try context.requireIdentity(), page: try PageRequest(query: request.queryParameters)))
        }
        router.get("/api/v1/orgs/{id}") { _, context in
            try .json(try store.org(id: try context.parameters.require("id"), caller: try context.requireIdentity()))
        }
        router.post("/api/v1/orgs", options: options) { request, context in
            let who = try context.requireIdentity()
            return try store.idempotency.run(callerId: who.userId, request: request) {
                try created(try store.createOrg(caller: who, input: try request.decode(CreateOrgInput.self)))
            }
        }
        router.patch("/api/v1/orgs/{id}", options: options) { request, context in
            let body = try request.decode(RenameOrgInput.self)
            return try .json(try store.renameOrg(caller: try context.requireIdentity(), id: try context.parameters.require("id"),
                                                 name: body.name))
        }

        router.get("/api/v1/users") { request, context in
            try .json(try store.listUsers(caller: try context.requireIdentity(), page: try PageRequest(query: request.queryParameters)))
        }
        router.get("/api/v1/users/{id}") { _, context in
            try .json(try store.user(id: try context.parameters.require("id"), caller: try context.requireIdentity()))
        }
        router.post("/api/v1/users", options: options) { request, context in
            let who = try context.requireIdentity()
            return try store.idempotency.run(callerId: who.userId, request: request) {
                try created(try store.createUser(caller: who, input: try request.decode(CreateUserInput.self)))
            }
        }
        router.patch("/api/v1/users/{id}", options: options) { request, context in
            try .json(try store.updateUser(caller: try context.requireIdentity(), id: try context.parameters.require("id"),
                                           changes: try request.decode(UpdateUserInput.self)))
        }

        router.get("/api/v1/api-keys") { request, context in
            try .json(try store.listAPIKeys(caller: try context.requireIdentity(), page: try PageRequest(query: request.queryParameters)))
        }
        router.get("/api/v1/api-keys/{id}") { _, context in
            try .json(try store.apiKey(id: try context.parameters.require("id"), caller: try context.requireIdentity()))
        }
        router.post("/api/v1/api-keys", options: options) { request, context in
            let who = try context.requireIdentity()
            return try store.idempotency.run(callerId: who.userId, request: request) {
                let record = try store.createAPIKey(caller: who, input: try request.decode(CreateAPIKeyInput.self))
                // The secret is shown once: a replay answers the record without it.
                var stored = record
                stored.key = nil
                return (try Response.json(record, status: 201), Array(try JSONCoding.encoder().encode(stored)))
            }
        }
        router.post("/api/v1/api-keys/{id}:revoke", options: options) { _, context in
            try .json(try store.revokeAPIKey(caller: try context.requireIdentity(), id: try context.parameters.require("id")))
        }
    }

    private static func created<T: Encodable>(_ value: T) throws -> (response: Response, stored: [UInt8]) {
        let response = try Response.json(value, status: 201)
        return (response, response.body.bytes ?? [])
    }

    /// Logs in and records who tried in the audit trail (the middleware records the anonymous request).
    private static func login(_ request: Request, _ context: RequestContext, store: IdentityStore,
                              audit: any AuditRecorder) throws -> Response {
        let input = try request.decode(LoginInput.self)
        // The attempted name goes to the audit trail only if it could be a username: a password typed
        // into the wrong field must not end up there.
        let attempted = IdentityValidation.isUsername(input.username.lowercased()) ? input.username.lowercased() : "(not a username)"
        do {
            let result = try store.login(username: input.username, password: input.password,
                                         remoteAddress: request.remoteAddress)
            audit.record(AuditEntry(actorId: result.user.id, actorName: result.user.username, orgId: result.user.orgId,
                                    orgPath: result.user.orgPath, action: "login", resource: request.path, outcome: 200,
                                    requestId: context.requestId, remoteAddress: request.remoteAddress))
            return try .json(result)
        } catch {
            let status = ErrorMapping.apiError(for: error).status
            audit.record(AuditEntry(actorId: nil, actorName: attempted, orgId: nil, orgPath: nil, action: "login",
                                    resource: request.path, outcome: status, requestId: context.requestId,
                                    remoteAddress: request.remoteAddress))
            throw error
        }
    }
}

/// `POST /api/v1/auth/login` body.
public struct LoginInput: Sendable, Codable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// `PATCH /api/v1/orgs/{id}` body.
public struct RenameOrgInput: Sendable, Codable, Equatable {
    public var name: String
    public init(name: String) { self.name = name }
}
