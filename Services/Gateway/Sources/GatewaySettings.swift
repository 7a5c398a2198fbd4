import Foundation
import ServiceKit

/// The gateway's settings: the common service settings plus upstreams, sessions and limits.
public struct GatewaySettings: Sendable {
    public var service: ServiceSettings
    /// Where each service listens, by service name (`profile`, `segment`, …).
    public var upstreams: [String: URL]
    /// Connect and total timeouts for calls to upstreams; a slow upstream answers 504 within `upstreamTimeout`.
    public var upstreamConnectTimeout: TimeInterval
    public var upstreamTimeout: TimeInterval
    /// A session unused for this long expires.
    public var sessionIdleTimeout: TimeInterval
    /// A session expires this long after login, used or not.
    public var sessionLifetime: TimeInterval
    /// How long a validated token is trusted from memory before the database is asked again
    /// (bounds how long a logout on another replica takes to bite).
    public var sessionCacheTTL: TimeInterval
    /// The first admin's password; generated and printed once when unset.
    public var adminPassword: String?
    /// Failed logins before a user is locked, and for how long.
    public var loginFailureLimit: Int
    public var loginLockDuration: TimeInterval
    /// Requests per second (sustained) and burst, per token and per client IP.
    public var tokenRatePerSecond: Double
    public var tokenBurst: Int
    public var ipRatePerSecond: Double
    public var ipBurst: Int
    /// Login attempts per minute per client IP.
    public var loginAttemptsPerMinutePerIP: Int
    /// The most audit entries stored by one insert and commit (`LATTICE_AUDIT_BATCH`; 1: one each).
    public var auditBatchSize: Int

    /// The services the gateway routes to, with their local default ports.
    public static let defaultUpstreams: [(name: String, port: Int)] = [
        ("profile", 8081), ("segment", 8082), ("canvas", 8083), ("dispatcher", 8084), ("rewards", 8085), ("analytics", 8086),
    ]

    public init(config: ConfigReader) throws(ConfigError) {
        service = try ServiceSettings(service: "gateway", config: config, defaultPort: 8080, defaultSchema: "identity")
        var upstreams: [String: URL] = [:]
        for (name, port) in Self.defaultUpstreams {
            let variable = "LATTICE_UPSTREAM_\(name.uppercased())"
            upstreams[name] = try config.value(variable, .url(schemes: ["http", "https"]), default: URL(string: "http://127.0.0.1:\(port)")!)
        }
        self.upstreams = upstreams
        upstreamConnectTimeout = try config.duration("LATTICE_UPSTREAM_CONNECT_TIMEOUT", in: 0.01...60, default: 1)
        upstreamTimeout = try config.duration("LATTICE_UPSTREAM_TIMEOUT", in: 0.1...3600, default: 30)
        sessionIdleTimeout = try config.duration("LATTICE_SESSION_IDLE_TIMEOUT", in: 60...86_400 * 7, default: 30 * 60)
        sessionLifetime = try config.duration("LATTICE_SESSION_LIFETIME", in: 60...86_400 * 30, default: 12 * 3600)
        sessionCacheTTL = try config.duration("LATTICE_SESSION_CACHE_TTL", in: 0...300, default: 5)
        adminPassword = try config.optional("LATTICE_ADMIN_PASSWORD", .secret(minimumLength: 8))
        loginFailureLimit = try config.int("LATTICE_LOGIN_FAILURE_LIMIT", in: 1...100, default: 5)
        loginLockDuration = try config.duration("LATTICE_LOGIN_LOCK_DURATION", in: 1...86_400, default: 15 * 60)
        tokenRatePerSecond = Double(try config.int("LATTICE_RATE_PER_TOKEN", in: 1...1_000_000, default: 200))
        tokenBurst = try config.int("LATTICE_RATE_BURST_PER_TOKEN", in: 1...1_000_000, default: 400)
        ipRatePerSecond = Double(try config.int("LATTICE_RATE_PER_IP", in: 1...1_000_000, default: 500))
        ipBurst = try config.int("LATTICE_RATE_BURST_PER_IP", in: 1...1_000_000, default: 1000)
        loginAttemptsPerMinutePerIP = try config.int("LATTICE_LOGIN_ATTEMPTS_PER_MINUTE_PER_IP", in: 1...100_000, default: 30)
        auditBatchSize = try config.int("LATTICE_AUDIT_BATCH", in: 1...1_000, default: 64)
    }
}
