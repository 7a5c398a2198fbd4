import Contracts
import HTTP

/// Rejects any request without the internal credential (401), and turns the identity headers the
/// gateway forwards into `context.identity`.
///
/// Only the gateway is public; every other service sits behind this. The credential is compared in
/// constant time. Paths in `exempt` (health, readiness, metrics) need no credential.
public struct InternalAuthMiddleware: Middleware {
    private let secret: [UInt8]
    private let exempt: Set<String>

    public init(secret: String, exempt: Set<String> = ["/healthz", "/readyz", "/metrics"]) {
        self.secret = Array(secret.utf8)
        self.exempt = exempt
    }

    public func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response {
        if exempt.contains(request.path) { return try next(request, context) }
        try Self.requireCredential(request.headers, secret: secret)
        var ctx = context
        ctx.identity = try Self.identity(from: request.headers)
        return try next(request, ctx)
    }

    /// Throws 401 unless `headers` carry the internal credential `secret`. For the few internal routes
    /// of the public gateway, which cannot sit behind this middleware.
    public static func requireCredential(_ headers: HTTPHeaders, secret: [UInt8]) throws {
        guard let given = headers.first(InternalHeader.credential), constantTimeEquals(Array(given.utf8), secret) else {
            throw APIError.unauthorized("missing or invalid internal credential")
        }
    }

    /// The forwarded caller, or nil for a call made by a service on its own behalf.
    static func identity(from headers: HTTPHeaders) throws -> CallerIdentity? {
        guard let user = headers.first(InternalHeader.userId), !user.isEmpty else { return nil }
        guard let orgId = headers.first(InternalHeader.orgId), !orgId.isEmpty,
              let orgPath = headers.first(InternalHeader.orgPath),
              orgPath.hasPrefix("/"), orgPath.hasSuffix("/") else {
            throw APIError.unauthorized("incomplete caller identity")
        }
        func list(_ name: String) -> [String] {
            (headers.first(name) ?? "").split(separator: ",").map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }
        }
        return CallerIdentity(userId: user, orgId: orgId, orgPath: orgPath, roles: list(InternalHeader.roles),
                              rights: list(InternalHeader.rights))
    }

    /// Compares without an early exit, so timing reveals nothing about how much matched.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0 && a.count == b.count
    }
}

extension RequestContext {
    /// The forwarded caller, or 401 when the request came without one.
    public func requireIdentity() throws -> CallerIdentity {
        guard let identity else { throw APIError.unauthorized("this endpoint needs a signed-in caller") }
        return identity
    }
}

import Foundation
