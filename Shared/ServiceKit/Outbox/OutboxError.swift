import Postgres

/// Every failure of the outbox, the inbox and the relay's set-up.
public enum OutboxError: Error, Sendable, CustomStringConvertible {
    /// The statement failed; `PostgresError.isUnavailable` tells a caller to answer 503.
    case database(PostgresError)
    /// `enqueue`/`receive` was called outside a transaction: the event (or dedupe record) would commit
    /// on its own instead of together with the caller's change.
    case notInTransaction
    /// The event cannot be stored as given (empty type, unknown characters, payload too large…).
    case invalidEvent(String)
    /// A configuration value is unusable (schema name, subscriber URL, timing that cannot work).
    case invalidConfiguration(String)
    /// `start()` after `stop()`: a relay is started once.
    case alreadyStopped

    public var description: String {
        switch self {
        case .database(let e): return "outbox: \(e)"
        case .notInTransaction: return "outbox: must be called inside the caller's transaction"
        case .invalidEvent(let why): return "outbox: invalid event: \(why)"
        case .invalidConfiguration(let why): return "outbox: invalid configuration: \(why)"
        case .alreadyStopped: return "outbox: the relay was stopped and cannot be started again"
        }
    }
}
