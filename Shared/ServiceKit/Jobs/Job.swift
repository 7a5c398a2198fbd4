import Contracts
import Foundation
import Postgres

/// A claimed job as its handler sees it.
public struct Job: Sendable {
    public let id: Int64
    public let queue: String
    /// This attempt's number, 1-based.
    public let attempt: Int
    public let maxAttempts: Int
    /// The payload as JSON text; `payload(as:)` decodes it.
    public let payloadJSON: String
    /// When the job was due.
    public let runAt: Date
    /// When it was enqueued.
    public let enqueuedAt: Date
    /// Identifies this claim; the worker's completion only applies while it still holds it.
    let leaseToken: UUID
    let table: String

    /// True when a failure of this attempt dead-letters the job.
    public var isLastAttempt: Bool { attempt >= maxAttempts }

    /// Decodes the payload with the shared `JSONCoding` settings.
    public func payload<Payload: Decodable>(as type: Payload.Type = Payload.self) throws(JobQueueError) -> Payload {
        do {
            return try JSONCoding.decoder().decode(Payload.self, from: Data(payloadJSON.utf8))
        } catch {
            throw .payloadMismatch(jobId: id, reason: "\(error)")
        }
    }

    /// Marks the job done inside the handler's own transaction, so that its database effects and its
    /// completion commit together: then a crash can never make it run again after its effects
    /// committed. Throws `.leaseLost` (roll back!) when another worker took the job meanwhile.
    /// The worker's own completion afterwards is then a no-op.
    public func complete(on connection: PostgresConnection) throws(JobQueueError) {
        guard connection.isInTransaction else { throw .notInTransaction }
        let updated: Int
        do {
            updated = try connection.execute("""
                UPDATE \(table)
                SET status = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL, lease_token = NULL,
                    last_error = NULL
                WHERE id = $1 AND lease_token = $2
                """, id, leaseToken)
        } catch {
            throw .database(error)
        }
        guard updated == 1 else { throw .leaseLost(jobId: id) }
    }
}

extension Job {
    /// `complete(on:)` for many jobs in one statement (a batch handler's), all or none: throws
    /// `.leaseLost` (roll back!) when another worker took any of them meanwhile.
    public static func complete(_ jobs: [Job], on connection: PostgresConnection) throws(JobQueueError) {
        guard let first = jobs.first else { return }
        guard connection.isInTransaction else { throw .notInTransaction }
        precondition(jobs.allSatisfy { $0.table == first.table }, "jobs of one queue table")
        let updated: Int
        do {
            updated = try connection.execute("""
                UPDATE \(first.table) AS j
                SET status = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL, lease_token = NULL,
                    last_error = NULL
                FROM unnest($1::int8[], $2::uuid[]) AS c(id, token)
                WHERE j.id = c.id AND j.lease_token = c.token
                """, jobs.map(\.id), jobs.map(\.leaseToken))
        } catch {
            throw .database(error)
        }
        guard updated == jobs.count else { throw .leaseLost(jobId: first.id) }
    }
}

/// What a handler throws to steer the retry instead of the default backoff.
public enum JobFailure: Error, Sendable, CustomStringConvertible {
    /// Retrying cannot help (invalid payload, a record that no longer exists): dead-letter now.
    case permanent(String)
    /// Try again after `after` seconds (an upstream asked for time, a quota resets); counts as an attempt.
    case retry(after: TimeInterval, reason: String)

    public var description: String {
        switch self {
        case .permanent(let why): return "permanent failure: \(why)"
        case .retry(let after, let why): return "retry in \(after)s: \(why)"
        }
    }
}
