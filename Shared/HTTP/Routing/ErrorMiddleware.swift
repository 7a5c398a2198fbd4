import Contracts

/// Turns every thrown error into the JSON error response of DESIGN.md §2. Unexpected errors become a
/// 500 that reveals nothing; `report` hears about them (ServiceKit logs them with the request id).
public struct ErrorMiddleware: Middleware {
    public let report: @Sendable (any Error, Request, RequestContext) -> Void

    public init(report: @escaping @Sendable (any Error, Request, RequestContext) -> Void = { _, _, _ in }) {
        self.report = report
    }

    public func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response {
        do {
            return try next(request, context)
        } catch HTTPServerError.needsBlockingThread {
            throw HTTPServerError.needsBlockingThread
        } catch {
            let apiError = ErrorMapping.apiError(for: error)
            if apiError.status >= 500 && !(error is APIError) { report(error, request, context) }
            return .error(apiError)
        }
    }
}

/// The one mapping from Swift errors to API errors, shared by the middleware and the server's own
/// last-resort handler.
public enum ErrorMapping {
    public static func apiError(for error: any Error) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as DecodingError: return APIError.from(e)
        case HTTPServerError.bodyTooLarge: return APIError(status: 413, code: "body_too_large", message: "request body too large")
        case HTTPServerError.timeout: return APIError(status: 408, code: "timeout", message: "request body not received in time")
        case let e as HTTPParseError: return APIError(status: e.status, code: "bad_request", message: e.reason)
        default: return APIError.internalError()
        }
    }
}
