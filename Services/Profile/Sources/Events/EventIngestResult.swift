import Contracts
import Foundation

/// The answer to `POST /api/v1/events`: how many events were new, how many were repeats of an
/// `eventId` already stored (or earlier in the same batch), and which were refused and why.
public struct EventIngestResult: Sendable, Encodable, Equatable {
    public var accepted: Int
    public var duplicates: Int
    public var rejected: [EventRejection]

    public init(accepted: Int, duplicates: Int, rejected: [EventRejection]) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.rejected = rejected
    }

    /// The counts of per-event outcomes, refusals in the order submitted.
    init(_ outcomes: [EventIngestor.Outcome]) {
        var accepted = 0, duplicates = 0
        var rejected: [EventRejection] = []
        for outcome in outcomes {
            switch outcome {
            case .stored: accepted += 1
            case .duplicate: duplicates += 1
            case .rejected(let r): rejected.append(r)
            }
        }
        self.init(accepted: accepted, duplicates: duplicates, rejected: rejected)
    }
}

/// One refused event of a batch: its position, its id when it had a readable one, and the error
/// (`{code, message, details: {field}}`, the field relative to the event, e.g. `properties.amount`).
public struct EventRejection: Sendable, Encodable, Equatable {
    public var index: Int
    public var eventId: String?
    public var error: JSONValue
}
