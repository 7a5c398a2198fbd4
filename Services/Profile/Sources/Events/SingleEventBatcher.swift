import Contracts
import Foundation
import ServiceKit

/// Single-event POSTs of concurrent requests stored together: one scope query, one write statement and
/// one commit for all the events gathered (`GroupCommit`), as a batch POST would. A bank's app sends
/// events one at a time; at a thousand a second, a transaction each was most of their cost.
///
/// Events are gathered per org path, since the scope check is the caller's subtree. An event alone goes
/// at once; the events arriving while a batch is stored form the next one. Each caller gets its own
/// event's outcome, exactly as if it had been stored alone: a repeat of an `eventId` in one batch is a
/// duplicate, as it would be one request later. A database failure fails every event of its batch,
/// and each caller answers it as before (503/500); no event of a failed batch is stored.
///
/// Thread-safety: immutable; `GroupCommit` guards its own state.
public final class SingleEventBatcher: Sendable {
    private let batches: GroupCommit<Submission, Result<EventIngestor.Outcome, any Error>>

    struct Submission: Sendable {
        let event: JSONValue
        let caller: CallerIdentity
        let now: Date
    }

    /// - Parameter batchSize: the most events stored together (1: each alone).
    public init(ingestor: EventIngestor, batchSize: Int) {
        // Two batches in flight: one commits while the next gathers.
        batches = GroupCommit(maxBatch: max(1, batchSize), maxLeaders: 2) { submissions in
            do {
                // One group is one org path: the first caller's scope is every caller's.
                return try ingestor.ingestEach(submissions.map(\.event), caller: submissions[0].caller,
                                               now: submissions[0].now).map { .success($0) }
            } catch {
                return submissions.map { _ in .failure(error) }
            }
        }
    }

    /// Checks and stores one event for `caller`, blocking until it is committed (or refused).
    public func ingest(_ event: JSONValue, caller: CallerIdentity, now: Date = Date()) throws -> EventIngestResult {
        switch batches.submit(Submission(event: event, caller: caller, now: now), group: caller.orgPath) {
        case .success(.rejected(var rejection)):
            rejection.index = 0
            return EventIngestResult(accepted: 0, duplicates: 0, rejected: [rejection])
        case .success(let outcome): return EventIngestResult([outcome])
        case .failure(let error): throw error
        }
    }
}
