import Postgres

/// Every failure of the scheduler's set-up and bookkeeping.
public enum SchedulerError: Error, Sendable, CustomStringConvertible {
    case database(PostgresError)
    /// A configuration value or schedule definition is unusable.
    case invalidConfiguration(String)
    /// `schedule` after `start`, or `start` after `stop`.
    case invalidState(String)

    public var description: String {
        switch self {
        case .database(let e): return "scheduler: \(e)"
        case .invalidConfiguration(let why): return "scheduler: invalid configuration: \(why)"
        case .invalidState(let why): return "scheduler: \(why)"
        }
    }
}
