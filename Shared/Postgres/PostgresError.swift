/// Every failure of the PostgreSQL layer.
///
/// Callers usually map `.poolExhausted` and `.connectionFailed`/`.connectionLost` to 503, and look at
/// `.server` (SQLSTATE) for conflicts: `isUniqueViolation` → 409, `isSerializationFailure` → retry.
public enum PostgresError: Error, Sendable, CustomStringConvertible {
    /// A connection could not be opened (refused, DNS, authentication, timeout).
    case connectionFailed(String)
    /// The connection broke while in use (server restart, network). The outcome of a statement or a
    /// COMMIT in flight at that moment is unknown. The pool discards the connection.
    case connectionLost(String)
    /// The server rejected a statement; the connection stays usable.
    case server(PostgresServerError)
    /// No connection became free within the configured acquire timeout.
    case poolExhausted(waited: Double, poolSize: Int)
    /// The pool was shut down.
    case poolClosed
    /// A value could not be decoded into the requested Swift type.
    case decoding(column: String, swiftType: String, postgresType: String, reason: String)
    /// A bind value could not be encoded (e.g. a string containing NUL, a JSON encoding failure).
    case invalidParameter(index: Int, reason: String)
    /// A schema or channel name that is not a safe identifier.
    case invalidIdentifier(String)
    /// The transaction had already failed inside the body (an error was caught and swallowed); it
    /// was rolled back instead of committed.
    case transactionAborted
    /// The API was used in a way the connection state does not allow (e.g. a nested transaction).
    case invalidState(String)
    /// A COPY failed on the client side (the server's own errors arrive as `.server`).
    case copyFailed(String)
    /// libpq returned something this layer does not expect.
    case protocolViolation(String)

    /// The server's error, if this is one.
    public var serverError: PostgresServerError? {
        if case .server(let e) = self { return e }
        return nil
    }
    /// SQLSTATE 23505.
    public var isUniqueViolation: Bool { serverError?.sqlState == "23505" }
    /// SQLSTATE 23503.
    public var isForeignKeyViolation: Bool { serverError?.sqlState == "23503" }
    /// SQLSTATE 23514.
    public var isCheckViolation: Bool { serverError?.sqlState == "23514" }
    /// SQLSTATE 40001 or 40P01 (deadlock): the transaction can be retried as a whole.
    public var isSerializationFailure: Bool {
        serverError?.sqlState == "40001" || serverError?.sqlState == "40P01"
    }
    /// SQLSTATE 57014: statement_timeout or cancel.
    public var isQueryCanceled: Bool { serverError?.sqlState == "57014" }
    /// The database could not be reached or the connection broke; worth a 503 and a retry later.
    public var isUnavailable: Bool {
        switch self {
        case .connectionFailed, .connectionLost, .poolExhausted, .poolClosed: return true
        case .server(let e): return e.sqlState.hasPrefix("08") || e.sqlState.hasPrefix("57P")
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .connectionFailed(let m): return "PostgreSQL connection failed: \(m)"
        case .connectionLost(let m): return "PostgreSQL connection lost: \(m)"
        case .server(let e): return e.description
        case .poolExhausted(let waited, let size):
            return "PostgreSQL pool exhausted: no connection free after \(waited)s (pool size \(size))"
        case .poolClosed: return "PostgreSQL pool is closed"
        case .decoding(let c, let s, let p, let r): return "cannot decode column '\(c)' (\(p)) as \(s): \(r)"
        case .invalidParameter(let i, let r): return "invalid bind parameter $\(i): \(r)"
        case .invalidIdentifier(let n): return "invalid SQL identifier '\(n)'"
        case .transactionAborted: return "the transaction failed inside its body and was rolled back"
        case .invalidState(let m): return "invalid connection state: \(m)"
        case .copyFailed(let m): return "COPY failed: \(m)"
        case .protocolViolation(let m): return "unexpected libpq behaviour: \(m)"
        }
    }
}

/// The fields of a PostgreSQL ErrorResponse.
public struct PostgresServerError: Sendable, Equatable, CustomStringConvertible {
    /// Five-character SQLSTATE code, e.g. `23505`.
    public var sqlState: String
    /// `ERROR`, `FATAL`, … (non-localized).
    public var severity: String
    public var message: String
    public var detail: String?
    public var hint: String?
    public var schema: String?
    public var table: String?
    public var column: String?
    public var constraint: String?

    public init(sqlState: String, severity: String, message: String, detail: String? = nil, hint: String? = nil,
                schema: String? = nil, table: String? = nil, column: String? = nil, constraint: String? = nil) {
        self.sqlState = sqlState
        self.severity = severity
        self.message = message
        self.detail = detail
        self.hint = hint
        self.schema = schema
        self.table = table
        self.column = column
        self.constraint = constraint
    }

    public var description: String {
        var s = "PostgreSQL \(severity) \(sqlState): \(message)"
        if let detail { s += " (\(detail))" }
        if let constraint { s += " [constraint \(constraint)]" }
        return s
    }
}
