import Contracts

/// Per-request facts that middleware establishes and handlers read: the request id, path parameters,
/// the caller's identity. A value, passed down the middleware chain; a middleware that adds to it
/// hands a modified copy to `next`.
public struct RequestContext: Sendable {
    /// Follows the request across services (`x-request-id`).
    public var requestId: String
    /// Path parameters of the matched route, e.g. `id` for `/segments/{id}`.
    public var parameters: PathParameters
    /// The route pattern that matched (`/segments/{id}`), for metrics and logs; nil when none matched.
    public var routePattern: String?
    /// The caller as forwarded by the gateway; set by the internal-auth middleware.
    public var identity: CallerIdentity?
    /// Monotonic time the request head was parsed, in nanoseconds.
    public var receivedAt: UInt64

    public init(requestId: String = "", parameters: PathParameters = PathParameters(), routePattern: String? = nil,
                identity: CallerIdentity? = nil, receivedAt: UInt64 = MonotonicClock.nanoseconds()) {
        self.requestId = requestId
        self.parameters = parameters
        self.routePattern = routePattern
        self.identity = identity
        self.receivedAt = receivedAt
    }
}

/// Decoded path parameters.
public struct PathParameters: Sendable {
    var pairs: [(name: String, value: String)] = []
    public init() {}

    public subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

    /// The parameter, or a 400 naming it (a router bug if it ever fires for a declared parameter).
    public func require(_ name: String) throws -> String {
        guard let v = self[name] else { throw APIError.badRequest("missing path parameter \(name)", field: name) }
        return v
    }

    mutating func append(_ name: String, _ value: String) { pairs.append((name, value)) }
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC), for deadlines and latency.
public enum MonotonicClock {
    @inline(__always)
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

#if canImport(Glibc)
import Glibc
#endif
