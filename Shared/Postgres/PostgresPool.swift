import Foundation

/// A point-in-time view of a pool, for metrics and `/readyz`.
public struct PostgresPoolMetrics: Sendable, Equatable {
    /// Configured maximum number of connections.
    public let maxSize: Int
    /// Connections open or being opened.
    public let open: Int
    /// Connections lent to callers right now.
    public let inUse: Int
    /// Open connections waiting in the pool.
    public let idle: Int
    /// Callers blocked waiting for a connection.
    public let waiting: Int
    /// Total acquisitions that gave up with `.poolExhausted`.
    public let acquireTimeouts: Int
    /// Total connections opened since the pool was created.
    public let connectionsOpened: Int
    /// Total connections thrown away because they broke (server restart, network).
    public let connectionsDiscarded: Int
}

/// A bounded pool of `PostgresConnection`s, opened lazily.
///
/// Callers block (on their own thread — never use this from Dispatch's global pool) for at most
/// `configuration.acquireTimeout` waiting for a free connection, then get `.poolExhausted`, which
/// the HTTP layer maps to 503. A connection that broke is discarded on return; an idle connection
/// that the server closed (e.g. restart) is detected before being lent and replaced, so after a
/// PostgreSQL restart the next calls succeed.
///
/// Thread-safety: all mutable state is guarded by `condition` (an NSCondition used as the lock);
/// connections are touched only by the one caller that holds them.
public final class PostgresPool: @unchecked Sendable {
    public let configuration: PostgresConfiguration
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var inUse = 0
    private var waiting = 0
    private var closed = false
    private var acquireTimeouts = 0
    private var connectionsOpened = 0
    private var connectionsDiscarded = 0

    /// Creates the pool; no connection is opened until first use.
    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
    }

    deinit {
        idle.forEach { $0.close() }
    }

    /// Lends a connection to `body` for its duration. The connection must not escape `body`.
    /// If `body` leaves a transaction open, it is rolled back before the connection is reused.
    @discardableResult
    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try acquire()
        defer { release(connection) }
        return try body(connection)
    }

    /// Runs `body` in a transaction on a pooled connection: COMMIT on success, ROLLBACK on any
    /// thrown error (see `PostgresConnection.transaction`). A connection broken meanwhile is discarded.
    @discardableResult
    public func transaction<T>(isolation: PostgresIsolationLevel = .readCommitted,
                               _ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { connection in try connection.transaction(isolation: isolation, body) }
    }

    /// Shorthand for one statement on a pooled connection.
    public func query(_ sql: String, _ binds: (any PostgresEncodable)?...) throws -> PostgresRows {
        try withConnection { connection in try connection.query(sql, binds: binds) }
    }

    /// Shorthand for one statement on a pooled connection; returns the affected row count.
    @discardableResult
    public func execute(_ sql: String, _ binds: (any PostgresEncodable)?...) throws -> Int {
        try withConnection { connection in try connection.execute(sql, binds: binds) }
    }

    /// Health check: a round trip on a pooled connection (for `/readyz`).
    public func ping() throws {
        try withConnection { connection in try connection.ping() }
    }

    /// Current counts.
    public var metrics: PostgresPoolMetrics {
        condition.lock()
        defer { condition.unlock() }
        return PostgresPoolMetrics(maxSize: configuration.poolSize, open: open, inUse: inUse, idle: idle.count,
                                   waiting: waiting, acquireTimeouts: acquireTimeouts,
                                   connectionsOpened: connectionsOpened, connectionsDiscarded: connectionsDiscarded)
    }

    /// Closes idle connections and refuses new acquisitions; lent connections close when returned.
    public func close() {
        condition.lock()
        closed = true
        let toClose = idle
        idle.removeAll()
        open -= toClose.count
        condition.broadcast()
        condition.unlock()
        toClose.forEach { $0.close() }
    }

    /// Takes a connection: an idle one (checked alive), else a new one while below the maximum, else
    /// waits until one is returned or the acquire timeout passes.
    func acquire() throws(PostgresError) -> PostgresConnection {
        let started = Date()
        let deadline = started.addingTimeInterval(configuration.acquireTimeout)
        condition.lock()
        while true {
            if closed {
                condition.unlock()
                throw .poolClosed
            }
            if let connection = idle.popLast() {
                inUse += 1
                condition.unlock()
                if connection.isAliveAfterIdle() { return connection }
                connection.close()
                condition.lock()
                inUse -= 1
                open -= 1
                connectionsDiscarded += 1
                continue
            }
            if open < configuration.poolSize {
                open += 1
                inUse += 1
                condition.unlock()
                do {
                    let connection = try PostgresConnection.connect(configuration)
                    condition.lock()
                    connectionsOpened += 1
                    condition.unlock()
                    return connection
                } catch {
                    condition.lock()
                    open -= 1
                    inUse -= 1
                    condition.signal()  // a waiter may try to open in our place
                    condition.unlock()
                    throw error
                }
            }
            waiting += 1
            let signaled = condition.wait(until: deadline)
            waiting -= 1
            if !signaled, Date() >= deadline {
                acquireTimeouts += 1
                condition.unlock()
                throw .poolExhausted(waited: (Date().timeIntervalSince(started) * 1000).rounded() / 1000,
                                     poolSize: configuration.poolSize)
            }
        }
    }

    /// Returns a connection: reused if healthy and idle, otherwise closed and its slot freed.
    func release(_ connection: PostgresConnection) {
        if !connection.isBroken, connection.isInTransaction { connection.rollbackQuietly() }
        let reusable = !connection.isBroken && !connection.isInTransaction
        condition.lock()
        inUse -= 1
        var toClose: PostgresConnection?
        if reusable, !closed {
            idle.append(connection)
        } else {
            open -= 1
            if !reusable { connectionsDiscarded += 1 }
            toClose = connection
        }
        condition.signal()
        condition.unlock()
        toClose?.close()
    }
}
