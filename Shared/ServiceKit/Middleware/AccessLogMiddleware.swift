import HTTP

/// One JSON log line per request: method, path, route, status, duration, request id. Health and
/// metrics probes are logged at debug level so they don't drown the log.
public struct AccessLogMiddleware: Middleware {
    let logger: Logger
    let quietPaths: Set<String>

    public init(logger: Logger, quietPaths: Set<String> = ["/healthz", "/readyz", "/metrics"]) {
        self.logger = logger
        self.quietPaths = quietPaths
    }

    public func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response {
        let logger = self.logger
        let quiet = quietPaths.contains(request.path)
        return try next(request, context).map { response in
            Self.log(logger, quiet: quiet, request, context, response)
            return response
        }
    }

    private static func log(_ logger: Logger, quiet: Bool, _ request: Request, _ context: RequestContext, _ response: Response) {
        let level: LogLevel = quiet ? .debug : (response.status >= 500 ? .error : .info)
        if logger.isEnabled(level) {
            let ms = Double(MonotonicClock.nanoseconds() &- context.receivedAt) / 1e6
            logger.with(requestId: context.requestId).log(level, "request", [
                "method": .string(request.method.rawValue),
                "path": .string(request.path),
                "route": .string(context.routePattern ?? "-"),
                "status": .int(response.status),
                "ms": .double((ms * 1000).rounded() / 1000),
                "remote": .string(request.remoteAddress ?? "-"),
            ])
        }
    }
}
