import Foundation

/// Everything that bounds the server: threads, queues, sizes and deadlines.
public struct HTTPServerConfiguration: Sendable {
    /// IPv4 or IPv6 literal to listen on.
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (see `HTTPServer.port`).
    public var port: Int = 8080
    /// Event-loop threads; each has its own listening socket (SO_REUSEPORT).
    public var eventLoops: Int = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4))
    /// Threads for blocking handlers.
    public var workers: Int = 16
    /// Blocking requests that may wait for a worker; beyond this the server answers 503.
    public var workerQueueLimit: Int = 1024
    /// Open connections across all loops; beyond this a new connection gets 503 and is closed.
    public var maxConnections: Int = 10_000
    public var backlog: Int = 1024
    public var limits = HTTPParserLimits()
    /// Default largest request body (a route may raise or lower it).
    public var maxBodyBytes: Int = 10 << 20
    /// The whole request head must arrive within this (slowloris).
    public var headerReadTimeout: TimeInterval = 10
    /// A body that makes no progress for this long is abandoned with 408.
    public var bodyReadTimeout: TimeInterval = 30
    /// An idle keep-alive connection is closed after this.
    public var idleTimeout: TimeInterval = 60
    /// A client that reads nothing of a pending response for this long is disconnected.
    public var writeTimeout: TimeInterval = 30
    /// On shutdown, in-flight requests get this long to finish.
    public var shutdownGracePeriod: TimeInterval = 10

    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}
