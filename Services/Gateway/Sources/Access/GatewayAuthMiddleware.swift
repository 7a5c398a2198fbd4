import Contracts
import Foundation
import HTTP
import ServiceKit

/// The gateway's door: per-IP rate limit, bearer-token authentication, the route-level right, the
/// per-token rate limit, and the audit record of every mutating request (also the refused ones).
///
/// Runs inside the error middleware, so it sees the final status of what it audits.
struct GatewayAuthMiddleware: Middleware {
    let authenticator: any CallerAuthenticator
    let audit: any AuditRecorder
    let ipLimiter: RateLimiter
    let tokenLimiter: RateLimiter

    func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response {
        var ctx = context
        var caller: AuthenticatedCaller?
        let response: Response
        do {
            response = try admit(request, &ctx, &caller, next: next)
        } catch HTTPServerError.needsBlockingThread {
            throw HTTPServerError.needsBlockingThread
        } catch {
            let answer = Response.error(ErrorMapping.apiError(for: error))
            record(request, ctx, caller, answer.status)
            return answer
        }
        let recordedContext = ctx, recordedCaller = caller
        return response.map { [self] final in
            record(request, recordedContext, recordedCaller, final.status)
            return final
        }
    }

    private func admit(_ request: Request, _ ctx: inout RequestContext, _ caller: inout AuthenticatedCaller?,
                       next: Handler) throws -> Response {
        let requirement = AccessPolicy.requirement(method: request.method, path: request.path)
        // On an event loop, a token that memory can't vouch for needs the database: move to a worker
        // before anything is counted or recorded.
        var known: AuthenticatedCaller?
        if requirement != .anonymous, let token = Self.bearerToken(request.headers) {
            known = authenticator.cachedCaller(bearerToken: token)
            if known == nil && ExecutionThread.isEventLoop { throw HTTPServerError.needsBlockingThread }
        }
        if case .limited(let retry) = ipLimiter.acquire(request.remoteAddress ?? "unknown") {
            throw APIError.tooManyRequests(retryAfter: retry)
        }
        if requirement == .anonymous { return try next(request, ctx) }

        guard let token = Self.bearerToken(request.headers) else {
            throw APIError.unauthorized("sign in first: send Authorization: Bearer <token>")
        }
        guard let found = try known ?? authenticator.authenticate(bearerToken: token) else {
            throw APIError(status: 401, code: "invalid_token", message: "the token is unknown, expired or revoked")
        }
        caller = found
        ctx.identity = found.identity
        if case .right(let right) = requirement, !found.identity.has(right: right) {
            throw APIError(status: 403, code: "forbidden", message: "this needs the \(right) right",
                           details: .object(["right": .string(right)]))
        }
        let bucketKey: String
        switch found.credential {
        case .session(let id): bucketKey = "s:" + id
        case .apiKey(let id): bucketKey = "k:" + id
        }
        if case .limited(let retry) = tokenLimiter.acquire(bucketKey) {
            throw APIError.tooManyRequests(retryAfter: retry)
        }
        return try next(request, ctx)
    }

    private func record(_ request: Request, _ ctx: RequestContext, _ caller: AuthenticatedCaller?, _ status: Int) {
        switch request.method {
        case .GET, .HEAD, .OPTIONS: return
        default: break
        }
        audit.record(AuditEntry(actorId: caller?.identity.userId, actorName: caller?.username,
                                orgId: caller?.identity.orgId, orgPath: caller?.identity.orgPath,
                                action: "\(request.method.rawValue) \(ctx.routePattern ?? request.path)",
                                resource: request.path, outcome: status, requestId: ctx.requestId,
                                remoteAddress: request.remoteAddress))
    }

    /// The token of `Authorization: Bearer <token>`; scanned by bytes, as it runs on every request.
    static func bearerToken(_ headers: HTTPHeaders) -> String? {
        guard let value = headers.first("authorization") else { return nil }
        let bytes = value.utf8
        guard bytes.count > 7, bytes.count <= 520, HTTPHeaders.name(value, hasPrefix: "bearer ") else { return nil }
        var start = bytes.index(bytes.startIndex, offsetBy: 7)
        var end = bytes.endIndex
        while start < end && (bytes[start] == 32 || bytes[start] == 9) { start = bytes.index(after: start) }
        while end > start && (bytes[bytes.index(before: end)] == 32 || bytes[bytes.index(before: end)] == 9) { end = bytes.index(before: end) }
        guard start < end else { return nil }
        return String(value[start..<end])
    }
}
