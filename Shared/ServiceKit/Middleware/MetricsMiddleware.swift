import HTTP

/// Counts requests and times them per route pattern (never per raw path: ids would explode the series).
public struct MetricsMiddleware: Middleware {
    let requests: CounterFamily
    let duration: HistogramFamily

    public init(registry: MetricsRegistry) throws(MetricsError) {
        requests = try registry.counter("http_requests_total", help: "HTTP requests answered, by route and status.",
                                        labelNames: ["method", "route", "status"])
        duration = try registry.histogram("http_request_duration_seconds", help: "Time from request head to response, by route.",
                                          labelNames: ["method", "route"])
    }

    public func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response {
        let requests = self.requests, duration = self.duration
        let route = context.routePattern ?? "unmatched"
        let method = request.method.rawValue
        let receivedAt = context.receivedAt
        return try next(request, context).map { response in
            let seconds = Double(MonotonicClock.nanoseconds() &- receivedAt) / 1e9
            try? requests.labels(method, route, String(response.status)).increment()
            try? duration.labels(method, route).observe(seconds)
            return response
        }
    }
}
