import CLinux
import Contracts
import Foundation
import Synchronization

/// The HTTP/1.1 server.
///
/// ## Threading model
/// - `eventLoops` threads, each owning an epoll instance and its own SO_REUSEPORT listening socket.
///   A connection lives on one loop for its whole life; its state is touched by that thread only.
/// - Routes marked `.inline` run on the loop thread: no thread hop, no lock, no allocation beyond the
///   request itself. Everything else (the default) runs on a bounded pool of `workers` threads; the
///   response comes back to the loop through its task queue and eventfd.
/// - When the worker queue is full the request is answered 503 with `Retry-After` at once; when
///   `maxConnections` are open a new connection is answered 503 and closed.
/// - Streamed response bodies are produced on a worker and flow to the loop with back-pressure;
///   streamed request bodies flow the other way, the loop pausing reads while the handler lags.
/// - `shutdown()` stops accepting, lets in-flight requests finish within the grace period, then closes.
public final class HTTPServer: @unchecked Sendable {
    // Thread-safety: `loops` and `boundPort` are set in start() before any loop thread runs and are
    // read-only afterwards; `core` is Sendable.
    public let configuration: HTTPServerConfiguration
    let core: ServerCore
    private var loops: [EventLoop] = []
    private var boundPort = 0
    private let started = Mutex<Bool>(false)

    public init(configuration: HTTPServerConfiguration, router: Router,
                log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(("http: " + $0 + "\n").utf8)) }) {
        self.configuration = configuration
        router.freeze()
        core = ServerCore(configuration: configuration, router: router, log: log)
    }

    /// The port actually listened on (differs from the configuration when it asked for 0).
    public var port: Int { boundPort }

    /// Open connections right now.
    public var openConnections: Int { core.openConnections.load(ordering: .relaxed) }
    /// Requests refused with 503 because the worker queue was full.
    public var overloadRejections: Int { core.overloadRejections.current }
    /// Requests waiting for a worker.
    public var queuedRequests: Int { core.workers.pending }

    /// Binds and starts the loops. Throws if the address is unusable.
    public func start() throws {
        try started.withLock { s in
            guard !s else { return }
            lattice_ignore_sigpipe()
            var port = configuration.port
            // Our loops share the port through SO_REUSEPORT, which would as readily let this server
            // share it with another process already there (a second copy, a test's port picked twice),
            // each taking a part of the connections. A port someone listens on is refused instead.
            if port != 0 {
                let claimed = lattice_port_unclaimed(configuration.host, Int32(port))
                if claimed == -EINVAL { throw HTTPServerStartError.invalidAddress(configuration.host) }
                guard claimed == 0 else { throw HTTPServerStartError.system("listen on \(configuration.host):\(port)", -claimed) }
            }
            for i in 0..<configuration.eventLoops {
                var bound: Int32 = 0
                let fd = lattice_listen(configuration.host, Int32(port), Int32(configuration.backlog), 1, &bound)
                if fd == -EINVAL { throw HTTPServerStartError.invalidAddress(configuration.host) }
                guard fd >= 0 else { throw HTTPServerStartError.system("listen on \(configuration.host):\(port)", -fd) }
                if i == 0 { port = Int(bound); boundPort = port }
                let loop = try EventLoop(index: i, server: core)
                try loop.adopt(listener: fd)
                loops.append(loop)
            }
            loops.forEach { $0.start() }
            s = true
        }
    }

    /// Graceful stop: no new connections, in-flight requests finish (up to the grace period), then
    /// every connection and thread ends. Blocks until done.
    public func shutdown() {
        let grace = UInt64(max(0, configuration.shutdownGracePeriod) * 1e9)
        for loop in loops { loop.beginDrain(graceNanoseconds: grace) }
        for loop in loops { loop.join(timeoutSeconds: configuration.shutdownGracePeriod + 2) }
        core.workers.shutdown(timeout: 2)
    }
}

/// What every loop shares. Sendable: immutable, or atomic.
final class ServerCore: Sendable {
    let configuration: HTTPServerConfiguration
    let router: Router
    let workers: WorkerPool
    let log: @Sendable (String) -> Void
    let openConnections = Atomic<Int>(0)
    let overloadRejections = AtomicCounter()

    // Nanosecond versions of the deadlines, computed once.
    let headerTimeout: UInt64
    let bodyTimeout: UInt64
    let idleTimeout: UInt64
    let writeTimeout: UInt64

    init(configuration c: HTTPServerConfiguration, router: Router, log: @escaping @Sendable (String) -> Void) {
        configuration = c
        self.router = router
        self.log = log
        workers = WorkerPool(threads: max(1, c.workers), queueLimit: max(1, c.workerQueueLimit), name: "http-worker")
        headerTimeout = UInt64(c.headerReadTimeout * 1e9)
        bodyTimeout = UInt64(c.bodyReadTimeout * 1e9)
        idleTimeout = UInt64(c.idleTimeout * 1e9)
        writeTimeout = UInt64(c.writeTimeout * 1e9)
    }

    func reserveConnectionSlot() -> Bool {
        let n = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if n > configuration.maxConnections {
            openConnections.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func releaseConnectionSlot() { openConnections.wrappingSubtract(1, ordering: .relaxed) }
}
