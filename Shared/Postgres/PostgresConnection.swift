import CLibPQ
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Isolation level of a transaction.
public enum PostgresIsolationLevel: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

/// One PostgreSQL session on libpq.
///
/// Thread-safety: NOT thread-safe. A `PGconn` must only be used by one thread at a time; the pool
/// lends each connection to one caller at a time and a connection must not escape that call.
///
/// Every statement is sent with its values separate from the SQL (text format): unnamed with
/// `PQexecParams` the first time, then prepared and run by name (`PreparedStatementCache`). A server
/// error (`.server`) leaves the connection usable; a broken socket turns into `.connectionLost` and
/// `isBroken` becomes true, after which the pool discards the connection.
public final class PostgresConnection {
    /// The configuration this connection was opened with.
    public let configuration: PostgresConfiguration
    private(set) var handle: OpaquePointer?
    /// Named statements of this session (internal: tests set a shorter re-plan schedule).
    var statements = PreparedStatementCache()

    private init(configuration: PostgresConfiguration, handle: OpaquePointer) {
        self.configuration = configuration
        self.handle = handle
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Opens a connection, waiting at most `configuration.connectTimeout`, and applies the session
    /// settings (UTC, ISO dates, statement timeout, search path).
    public static func connect(_ configuration: PostgresConfiguration) throws(PostgresError) -> PostgresConnection {
        let params = configuration.connectionParameters()
        if let bad = params.first(where: { $0.1.utf8.contains(0) || $0.0.utf8.contains(0) }) {
            throw .connectionFailed("connection parameter \(bad.0) contains a NUL byte")
        }
        let keywords = params.map { strdup($0.0) } + [nil]
        let values = params.map { strdup($0.1) } + [nil]
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let started = keywords.map { UnsafePointer($0) }.withUnsafeBufferPointer { kw in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { vals in
                PQconnectStartParams(kw.baseAddress, vals.baseAddress, 0)
            }
        }
        guard let conn = started else { throw .connectionFailed("libpq could not allocate a connection") }
        let target = "\(configuration.host):\(configuration.port)"
        if PQstatus(conn) == CONNECTION_BAD {
            let message = errorMessage(conn)
            PQfinish(conn)
            throw .connectionFailed("\(target): \(message)")
        }
        // Non-blocking handshake so the deadline is ours, in milliseconds, across DNS-resolved
        // addresses, TLS and authentication (libpq's connect_timeout is whole seconds per address).
        let deadline = Date().addingTimeInterval(configuration.connectTimeout)
        var state = PGRES_POLLING_WRITING
        while state != PGRES_POLLING_OK {
            if state == PGRES_POLLING_FAILED {
                let message = errorMessage(conn)
                PQfinish(conn)
                throw .connectionFailed("\(target): \(message)")
            }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 {
                PQfinish(conn)
                throw .connectionFailed("\(target): timed out after \(configuration.connectTimeout)s")
            }
            let fd = PQsocket(conn)
            guard fd >= 0 else {
                let message = errorMessage(conn)
                PQfinish(conn)
                throw .connectionFailed("\(target): no socket (\(message))")
            }
            let events = state == PGRES_POLLING_READING ? Int16(POLLIN) : Int16(POLLOUT)
            let ready = waitForSocket(fd, events: events, timeout: remaining)
            if ready < 0 {
                PQfinish(conn)
                throw .connectionFailed("\(target): poll failed (errno \(errno))")
            }
            if ready == 0 { continue }  // re-check the deadline
            state = PQconnectPoll(conn)
        }
        // Server notices (e.g. "schema already exists, skipping") would go to stderr by default.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        let connection = PostgresConnection(configuration: configuration, handle: conn)
        if let path = configuration.searchPath {
            var quoted: [String] = []
            for schema in path { quoted.append(try PostgresIdentifier.quoted(schema)) }
            do {
                _ = try connection.query("SELECT set_config('search_path', $1, false)", quoted.joined(separator: ", "))
            } catch {
                connection.close()
                throw .connectionFailed("\(target): setting search_path failed: \(error)")
            }
        }
        return connection
    }

    /// Waits until `fd` is ready for `events`; 1 ready, 0 timed out, -1 error. Retries on EINTR.
    static func waitForSocket(_ fd: Int32, events: Int16, timeout: TimeInterval) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let ms = Int32(max(0, min(Double(Int32.max), (deadline.timeIntervalSinceNow * 1000).rounded(.up))))
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&pfd, 1, ms)
            if r < 0, errno == EINTR { continue }
            return r < 0 ? -1 : (r == 0 ? 0 : 1)
        }
    }

    static func errorMessage(_ conn: OpaquePointer?) -> String {
        guard let conn, let cString = PQerrorMessage(conn) else { return "unknown error" }
        let text = String(cString: cString).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "unknown error" : text
    }

    /// True when the connection is closed or its socket broke; such a connection cannot be reused.
    public var isBroken: Bool {
        guard let handle else { return true }
        return PQstatus(handle) != CONNECTION_OK
    }

    /// True while a transaction block is open (BEGIN without COMMIT/ROLLBACK yet).
    public var isInTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Closes the connection; further use throws `.connectionLost`.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    // MARK: Queries

    /// Runs one statement with `$1…$n` parameters and returns its rows.
    public func query(_ sql: String, _ binds: (any PostgresEncodable)?...) throws(PostgresError) -> PostgresRows {
        try query(sql, binds: binds)
    }

    /// Runs one statement with `$1…$n` parameters and returns its rows.
    public func query(_ sql: String, binds: [(any PostgresEncodable)?]) throws(PostgresError) -> PostgresRows {
        let result = try run(sql, binds)
        defer { PQclear(result) }
        return Self.readRows(result)
    }

    /// Runs one statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ binds: (any PostgresEncodable)?...) throws(PostgresError) -> Int {
        try execute(sql, binds: binds)
    }

    /// Runs one statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, binds: [(any PostgresEncodable)?]) throws(PostgresError) -> Int {
        let result = try run(sql, binds)
        defer { PQclear(result) }
        return Self.affectedRows(result)
    }

    /// A round trip proving the session works.
    public func ping() throws(PostgresError) {
        _ = try execute("SELECT 1")
    }

    /// Runs `body` inside BEGIN … COMMIT. Any error thrown by `body` rolls the transaction back and
    /// is rethrown. If `body` swallowed a failed statement, the transaction is rolled back and
    /// `.transactionAborted` is thrown. If COMMIT fails with `.connectionLost`, the outcome is unknown.
    @discardableResult
    public func transaction<T>(isolation: PostgresIsolationLevel = .readCommitted,
                               _ body: (PostgresConnection) throws -> T) throws -> T {
        guard !isInTransaction else { throw PostgresError.invalidState("a transaction is already open on this connection") }
        try execute(isolation == .readCommitted ? "BEGIN" : "BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackQuietly()
            throw error
        }
        if let handle, PQtransactionStatus(handle) == PQTRANS_INERROR {
            rollbackQuietly()
            throw PostgresError.transactionAborted
        }
        do {
            try execute("COMMIT")
        } catch {
            rollbackQuietly()
            throw error
        }
        return value
    }

    /// Runs `body` under a savepoint of the open transaction: when it throws, its statements are undone
    /// (the transaction stays usable, whatever the error) and the error is rethrown; otherwise they stay.
    /// For work that may fail one item at a time inside a larger transaction.
    public func withSavepoint<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard isInTransaction else { throw PostgresError.invalidState("a savepoint needs an open transaction") }
        try execute("SAVEPOINT lattice_item")
        let value: T
        do {
            value = try body(self)
        } catch {
            // A broken connection cannot roll back; the caller sees the first error either way.
            _ = try? execute("ROLLBACK TO SAVEPOINT lattice_item")
            _ = try? execute("RELEASE SAVEPOINT lattice_item")
            throw error
        }
        try execute("RELEASE SAVEPOINT lattice_item")
        return value
    }

    /// Ends any open transaction; used on error paths where the first error is what matters.
    func rollbackQuietly() {
        guard let handle, PQstatus(handle) == CONNECTION_OK, PQtransactionStatus(handle) != PQTRANS_IDLE else { return }
        if let result = PQexec(handle, "ROLLBACK") { PQclear(result) }
    }

    /// Runs a trusted multi-statement SQL script with the simple-query protocol (no parameters).
    /// Only for migration files shipped with the code, never for anything built from input.
    func executeScript(_ trustedSQL: String) throws(PostgresError) {
        guard let handle else { throw .connectionLost("connection is closed") }
        guard !trustedSQL.utf8.contains(0) else { throw .invalidState("SQL text contains a NUL byte") }
        let result = try check(PQexec(handle, trustedSQL))
        PQclear(result)
    }

    /// Sends the statement and returns a successful `PGresult` the caller must `PQclear`.
    func run(_ sql: String, _ binds: [(any PostgresEncodable)?]) throws(PostgresError) -> OpaquePointer {
        guard let handle else { throw .connectionLost("connection is closed") }
        guard binds.count <= 65_535 else {
            throw .invalidParameter(index: 65_536, reason: "at most 65535 parameters per statement")
        }
        guard !sql.utf8.contains(0) else { throw .invalidState("SQL text contains a NUL byte") }
        // All parameter texts in one NUL-separated buffer; pointers are taken once it is final.
        var buffer: [CChar] = []
        var starts: [Int?] = []
        var types: [Oid] = []
        starts.reserveCapacity(binds.count)
        types.reserveCapacity(binds.count)
        for (i, bind) in binds.enumerated() {
            guard let bind else {
                starts.append(nil)
                types.append(0)
                continue
            }
            let text: String
            do {
                text = try bind.postgresText()
            } catch {
                throw .invalidParameter(index: i + 1, reason: "\(error)")
            }
            guard !text.utf8.contains(0) else {
                throw .invalidParameter(index: i + 1, reason: "text contains a NUL byte, which PostgreSQL cannot store")
            }
            starts.append(buffer.count)
            buffer.append(contentsOf: text.utf8.map { CChar(bitPattern: $0) })
            buffer.append(0)
            types.append(type(of: bind).postgresType)
        }
        let key = PreparedStatementCache.Key(sql: sql, types: types)
        var plan = statements.plan(for: key, now: DispatchTime.now().uptimeNanoseconds)
        switch plan {
        case .prepare(let name): plan = try prepare(key, as: name) ? .execute(name) : .unnamed
        case .replan(let name): plan = try replan(key, name) ? .execute(name) : .unnamed
        case .unnamed, .execute: break
        }
        let result: OpaquePointer? = buffer.withUnsafeBufferPointer { buf in
            let values: [UnsafePointer<CChar>?] = starts.map { start in start.map { buf.baseAddress! + $0 } }
            return values.withUnsafeBufferPointer { vals in
                types.withUnsafeBufferPointer { oids in
                    if case .execute(let name) = plan {
                        return PQexecPrepared(handle, name, Int32(binds.count), vals.baseAddress, nil, nil, 0)
                    }
                    return PQexecParams(handle, sql, Int32(binds.count), oids.baseAddress, vals.baseAddress, nil, nil, 0)
                }
            }
        }
        do {
            return try check(result)
        } catch {
            // The server re-plans a named statement when its tables change, but refuses one whose
            // result columns changed (0A000): forget it, so the next call prepares it anew.
            if case .execute = plan, case .server(let e) = error, e.sqlState == "0A000" { statements.forget(key) }
            throw error
        }
    }

    /// Prepares `key` under `name`. False (send it unnamed) when the session is in a failed
    /// transaction or the cache could not be cleared; throws the server's error for a bad statement.
    private func prepare(_ key: PreparedStatementCache.Key, as name: String) throws(PostgresError) -> Bool {
        guard let handle, PQtransactionStatus(handle) != PQTRANS_INERROR else { return false }
        if statements.isFull {
            guard deallocate("DEALLOCATE ALL", on: handle) else { return false }
            statements.reset()
        }
        // A statement the server refuses to parse fails here with its own error (inside a transaction
        // the refusal has aborted it, so sending it again would only report that).
        try sendPrepare(key, as: name, on: handle)
        statements.remember(key, as: name, now: DispatchTime.now().uptimeNanoseconds)
        return true
    }

    /// Prepares `key` again under its `name`, so that its plan follows its tables' current sizes
    /// (`PreparedStatementCache`). False (send it unnamed this time) when the session is in a failed
    /// transaction or the old statement could not be deallocated; throws the server's error for a
    /// statement that no longer prepares (it is forgotten).
    private func replan(_ key: PreparedStatementCache.Key, _ name: String) throws(PostgresError) -> Bool {
        guard let handle, PQtransactionStatus(handle) != PQTRANS_INERROR else { return false }
        // `name` is ours (`lattice_s<n>`): safe to quote into the utility statement.
        guard deallocate("DEALLOCATE \"\(name)\"", on: handle) else {
            statements.forget(key)
            return false
        }
        do {
            try sendPrepare(key, as: name, on: handle)
        } catch {
            statements.forget(key)
            throw error
        }
        statements.replanned(key, now: DispatchTime.now().uptimeNanoseconds)
        return true
    }

    /// Runs a `DEALLOCATE` statement; true when the server did it.
    private func deallocate(_ statement: String, on handle: OpaquePointer) -> Bool {
        guard let result = PQexec(handle, statement) else { return false }
        let ok = PQresultStatus(result) == PGRES_COMMAND_OK
        PQclear(result)
        return ok
    }

    private func sendPrepare(_ key: PreparedStatementCache.Key, as name: String, on handle: OpaquePointer) throws(PostgresError) {
        let result = key.types.withUnsafeBufferPointer { oids in
            PQprepare(handle, name, key.sql, Int32(key.types.count), oids.baseAddress)
        }
        PQclear(try check(result))
    }

    /// Turns a `PGresult` into success or a typed error (clearing it on error).
    func check(_ result: OpaquePointer?) throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            if let result { PQclear(result) }
            throw .connectionLost("connection is closed")
        }
        guard let result else {
            // NULL: out of memory or the connection failed before a result was built.
            let message = Self.errorMessage(handle)
            if PQstatus(handle) != CONNECTION_OK { throw .connectionLost(message) }
            throw .protocolViolation("no result: \(message)")
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return result
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            let error = Self.serverError(result)
            PQclear(result)
            if PQstatus(handle) != CONNECTION_OK {
                throw .connectionLost(error.message)
            }
            if error.sqlState.isEmpty {
                // Generated by libpq itself, not by the server.
                throw .protocolViolation(error.message)
            }
            throw .server(error)
        case PGRES_COPY_IN:
            PQclear(result)
            _ = PQputCopyEnd(handle, "COPY FROM STDIN must go through copyFrom")
            drainResults()
            throw .invalidState("COPY FROM STDIN must use copyFrom")
        default:
            let status = String(cString: PQresStatus(PQresultStatus(result)))
            PQclear(result)
            // COPY OUT / COPY BOTH would leave the session mid-protocol: do not reuse it.
            close()
            throw .invalidState("unsupported result \(status); connection closed")
        }
    }

    /// Reads results until libpq says there are none left (required before the next command).
    /// Returns the first error result, if any.
    @discardableResult
    func drainResults() -> PostgresServerError? {
        guard let handle else { return nil }
        var firstError: PostgresServerError?
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            if firstError == nil, status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE {
                firstError = Self.serverError(result)
            }
            PQclear(result)
            if status == PGRES_COPY_IN {
                _ = PQputCopyEnd(handle, "aborted")
            } else if status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
                close()
                return firstError
            }
        }
        return firstError
    }

    static func serverError(_ result: OpaquePointer) -> PostgresServerError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let fallback = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PostgresServerError(
            sqlState: field("C") ?? "",
            severity: field("V") ?? field("S") ?? "ERROR",
            message: field("M") ?? (fallback.isEmpty ? "unknown error" : fallback),
            detail: field("D"), hint: field("H"), schema: field("s"), table: field("t"),
            column: field("c"), constraint: field("n"))
    }

    static func affectedRows(_ result: OpaquePointer) -> Int {
        guard let text = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    static func readRows(_ result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [PostgresColumn] = []
        columns.reserveCapacity(columnCount)
        for c in 0..<columnCount {
            let name = PQfname(result, Int32(c)).map { String(cString: $0) } ?? "?column?"
            columns.append(PostgresColumn(name: name, type: PQftype(result, Int32(c))))
        }
        var total = 0
        for r in 0..<rowCount {
            for c in 0..<columnCount { total += Int(PQgetlength(result, Int32(r), Int32(c))) }
        }
        var bytes = [UInt8](repeating: 0, count: total)
        var starts = [Int](repeating: 0, count: rowCount * columnCount)
        var lengths = [Int32](repeating: -1, count: rowCount * columnCount)
        bytes.withUnsafeMutableBufferPointer { out in
            var offset = 0
            for r in 0..<rowCount {
                for c in 0..<columnCount {
                    let k = r * columnCount + c
                    starts[k] = offset
                    if PQgetisnull(result, Int32(r), Int32(c)) == 1 { continue }
                    let length = Int(PQgetlength(result, Int32(r), Int32(c)))
                    lengths[k] = Int32(length)
                    if length > 0, let value = PQgetvalue(result, Int32(r), Int32(c)) {
                        UnsafeMutableRawPointer(out.baseAddress! + offset).copyMemory(from: value, byteCount: length)
                    }
                    offset += length
                }
            }
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        let storage = PostgresRows.Storage(columns: columns, rowCount: rowCount, bytes: bytes, starts: starts, lengths: lengths)
        return PostgresRows(storage: storage, commandTag: tag, affectedRows: affectedRows(result))
    }

    // MARK: Pool support

    /// Cheap check before lending an idle connection: if the server wrote to an idle session
    /// (typically "terminating connection due to administrator command" and EOF after a restart),
    /// read it; a dead session is reported so the pool replaces it instead of failing the caller.
    func isAliveAfterIdle() -> Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK, PQtransactionStatus(handle) == PQTRANS_IDLE else { return false }
        let fd = PQsocket(handle)
        guard fd >= 0 else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, 0)
        if ready == 0 { return true }
        if ready < 0 { return errno == EINTR }
        if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK { return false }
        while let notification = PQnotifies(handle) { PQfreemem(notification) }
        // Something arrived unasked: prove the session with a round trip.
        do {
            try ping()
            return true
        } catch {
            return false
        }
    }
}
