import Contracts
import Foundation
import HTTP
import Postgres

/// One Lattice service process: settings, logging, metrics, database, migrations, the HTTP server with
/// the standard middleware, health endpoints, background tasks and graceful shutdown.
///
/// A service's `main.swift` reads its settings, makes a `Service`, adds its routes to `router` and its
/// background tasks, then calls `runUntilTerminated()`.
///
/// Middleware order (outermost first): request id → access log → metrics → error mapping → internal
/// auth (for `.internalOnly` services) → the service's own middleware → handler. `/healthz`, `/readyz`
/// and `/metrics` need no internal credential.
///
/// Thread-safety: configure (routes, tasks, checks) on one thread before `start()`; afterwards the
/// object is read-only apart from `lifecycle`, which is guarded by `lock`.
public final class Service: @unchecked Sendable {
    public let name: String
    public let settings: ServiceSettings
    public let logger: Logger
    public let metrics: MetricsRegistry
    public let router = Router()
    public let database: PostgresPool
    /// The one HTTP client for calls to other services; carries the internal credential.
    public let client: HTTPClient
    public let migrator: Migrator

    private var tasks: [any BackgroundTask] = []
    private var readinessChecks: [(name: String, check: @Sendable () throws -> Void)] = []
    private var healthDetails: (@Sendable () -> [String: JSONValue])?
    private var server: HTTPServer?
    private let lock = NSLock()
    private var lifecycle = Lifecycle.configuring

    enum Lifecycle { case configuring, running, stopped }

    /// Who may call the service.
    public enum Exposure: Sendable {
        /// Only other services (and the gateway) with the internal credential: the default.
        case internalOnly
        /// The public door (the gateway): no internal credential; the service authenticates callers itself.
        case publicGateway
    }

    public init(name: String, settings: ServiceSettings, migrations: [Migration], exposure: Exposure = .internalOnly,
                logSink: any LogSink = StandardOutputLogSink.shared) throws {
        self.name = name
        self.settings = settings
        logger = Logger(service: name, minimumLevel: settings.logLevel, sink: logSink)
        metrics = MetricsRegistry()
        database = PostgresPool(configuration: settings.database)
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.internalCredential = settings.internalSecret
        client = HTTPClient(configuration: clientConfiguration)
        migrator = Migrator(schema: settings.databaseSchema, migrations: migrations)

        let logger = self.logger
        router.add(middleware: RequestIdMiddleware())
        router.add(middleware: AccessLogMiddleware(logger: logger))
        router.add(middleware: try MetricsMiddleware(registry: metrics))
        router.add(middleware: ErrorMiddleware(report: { error, request, context in
            logger.with(requestId: context.requestId).error("unhandled error", [
                "error": .string(String(describing: error)), "path": .string(request.path),
            ])
        }))
        if exposure == .internalOnly {
            router.add(middleware: InternalAuthMiddleware(secret: settings.internalSecret))
        }
        try registerStandardMetrics()
        addHealthRoutes()
    }

    /// Adds a task started after migrations and stopped on shutdown.
    public func add(task: any BackgroundTask) {
        precondition(lifecycle == .configuring, "Service: task added after start")
        tasks.append(task)
    }

    /// Adds a check that `/readyz` runs besides the database and migrations.
    public func addReadinessCheck(_ name: String, _ check: @escaping @Sendable () throws -> Void) {
        precondition(lifecycle == .configuring, "Service: readiness check added after start")
        readinessChecks.append((name, check))
    }

    /// Adds fields to the `/healthz` answer (the gateway reports its upstreams there). Must be cheap:
    /// liveness probes call it often.
    public func setHealthDetails(_ details: @escaping @Sendable () -> [String: JSONValue]) {
        precondition(lifecycle == .configuring, "Service: health details set after start")
        healthDetails = details
    }

    /// A logger that carries the request id.
    public func logger(for context: RequestContext) -> Logger { logger.with(requestId: context.requestId) }

    /// The port the server listens on (after `start()`).
    public var port: Int { server?.port ?? 0 }

    // MARK: Lifecycle

    /// Applies migrations (under an advisory lock, so replicas may start together), starts background
    /// tasks, then the HTTP server. Throws on any failure, leaving nothing running.
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        guard lifecycle == .configuring else { return }
        let report = try migrator.migrate(configuration: settings.database)
        if !report.applied.isEmpty {
            logger.info("migrations applied", ["schema": .string(settings.databaseSchema),
                                                "versions": .string(report.applied.map(String.init).joined(separator: ","))])
        }
        var started: [any BackgroundTask] = []
        do {
            for task in tasks {
                try task.start()
                started.append(task)
            }
            var configuration = HTTPServerConfiguration(host: settings.host, port: settings.port)
            configuration.eventLoops = settings.eventLoops
            configuration.workers = settings.workers
            configuration.maxBodyBytes = settings.maxBodyBytes
            configuration.shutdownGracePeriod = settings.shutdownGracePeriod
            let logger = self.logger
            let server = HTTPServer(configuration: configuration, router: router, log: { logger.warning("http: " + $0) })
            try server.start()
            self.server = server
        } catch {
            for task in started.reversed() { task.stop(timeout: settings.shutdownGracePeriod) }
            throw error
        }
        lifecycle = .running
        logger.info("started", ["port": .int(port), "schema": .string(settings.databaseSchema)])
    }

    /// Graceful stop: the server stops accepting and finishes in-flight requests (up to the grace
    /// period), then background tasks stop and release claimed work, then the database pool closes.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard lifecycle == .running else { return }
        logger.info("stopping")
        server?.shutdown()
        for task in tasks.reversed() where !task.stop(timeout: settings.shutdownGracePeriod) {
            logger.warning("background task did not stop in time; its leases will expire", ["task": .string(task.taskName)])
        }
        database.close()
        lifecycle = .stopped
        logger.info("stopped")
    }

    /// Starts, waits for SIGTERM or SIGINT, stops gracefully and exits 0. A failed start logs the
    /// reason and exits 1.
    public func runUntilTerminated() -> Never {
        do {
            try start()
        } catch {
            logger.error("start failed", ["error": .string(String(describing: error))])
            exit(1)
        }
        TerminationSignal.wait()
        stop()
        exit(0)
    }

    // MARK: Health and metrics

    private func addHealthRoutes() {
        router.get("/healthz", options: .inline) { [unowned self] _, _ in
            var body: [String: JSONValue] = ["status": "ok", "service": .string(self.name)]
            if let details = self.healthDetails { body.merge(details()) { _, new in new } }
            return try .json(body)
        }
        router.get("/readyz") { [unowned self] _, _ in
            var problems: [String: JSONValue] = [:]
            do {
                let pending = try self.database.withConnection { try self.migrator.pendingVersions(on: $0) }
                if !pending.isEmpty { problems["migrations"] = .string("pending: \(pending)") }
            } catch {
                problems["database"] = .string(String(describing: error))
            }
            for (name, check) in self.readinessChecks {
                do { try check() } catch { problems[name] = .string(String(describing: error)) }
            }
            if problems.isEmpty { return try .json(["status": "ready"]) }
            return .error(APIError(status: 503, code: "not_ready", message: "the service is not ready",
                                   details: .object(problems), retryAfterSeconds: 1))
        }
        router.get("/metrics") { [unowned self] _, _ in
            Response(status: 200, headers: ["content-type": MetricsRegistry.contentType],
                     body: .bytes(Array(self.metrics.render().utf8)))
        }
    }

    private func registerStandardMetrics() throws {
        try metrics.registerProcessMetrics()
        let pool = database
        try metrics.gauge("db_pool_connections_open", help: "Open database connections.") { Double(pool.metrics.open) }
        try metrics.gauge("db_pool_connections_in_use", help: "Database connections lent out.") { Double(pool.metrics.inUse) }
        try metrics.gauge("db_pool_waiting", help: "Callers waiting for a database connection.") { Double(pool.metrics.waiting) }
        try metrics.gauge("db_pool_acquire_timeouts", help: "Acquisitions that timed out (answered 503).") { Double(pool.metrics.acquireTimeouts) }
        try metrics.gauge("http_open_connections", help: "Open client connections.") { [weak self] in Double(self?.server?.openConnections ?? 0) }
        try metrics.gauge("http_queued_requests", help: "Requests waiting for a worker thread.") { [weak self] in Double(self?.server?.queuedRequests ?? 0) }
        try metrics.gauge("http_overload_rejections", help: "Requests refused with 503 because the worker queue was full.") { [weak self] in
            Double(self?.server?.overloadRejections ?? 0)
        }
    }
}

/// Waits for SIGTERM or SIGINT.
enum TerminationSignal {
    static func wait() {
        let semaphore = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { semaphore.signal() }
            source.resume()
            sources.append(source)
        }
        semaphore.wait()
        withExtendedLifetime(sources) {}
    }
}
