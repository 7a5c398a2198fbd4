import Postgres

/// Every failure of the job queue's API and the worker's set-up.
public enum JobQueueError: Error, Sendable, CustomStringConvertible {
    /// The statement failed; `PostgresError.isUnavailable` tells a caller to answer 503.
    case database(PostgresError)
    /// `enqueue` was called outside a transaction: the job would commit on its own instead of with
    /// the change that asked for it.
    case notInTransaction
    /// The job cannot be stored as given (queue name, payload, attempts, dedupe key).
    case invalidJob(String)
    /// A configuration value is unusable.
    case invalidConfiguration(String)
    /// The job's payload does not decode as the type the handler asked for.
    case payloadMismatch(jobId: Int64, reason: String)
    /// The worker no longer holds this job's lease (it expired and the job was given to another
    /// worker): the caller's transaction must roll back.
    case leaseLost(jobId: Int64)
    /// `register` after `start`, or `start` after `stop`.
    case invalidState(String)

    public var description: String {
        switch self {
        case .database(let e): return "job queue: \(e)"
        case .notInTransaction: return "job queue: enqueue must be called inside the caller's transaction"
        case .invalidJob(let why): return "job queue: invalid job: \(why)"
        case .invalidConfiguration(let why): return "job queue: invalid configuration: \(why)"
        case .payloadMismatch(let id, let why): return "job queue: payload of job \(id) does not decode: \(why)"
        case .leaseLost(let id): return "job queue: the lease on job \(id) was lost to another worker"
        case .invalidState(let why): return "job queue: \(why)"
        }
    }
}

extension PostgresPool {
    /// `withConnection` with the pool's own failures (exhausted, closed, connect) as `JobQueueError`.
    @discardableResult
    func withJobConnection<T>(_ body: (PostgresConnection) throws -> T) throws(JobQueueError) -> T {
        do {
            return try withConnection { connection in try body(connection) }
        } catch let error as JobQueueError {
            throw error
        } catch let error as PostgresError {
            throw .database(error)
        } catch {
            throw .database(.invalidState("\(error)"))
        }
    }
}
