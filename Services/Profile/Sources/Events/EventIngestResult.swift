import Contracts
import Foundation

/// The answer to `POST /api/v1/events`: how many events were new, how many were repeats of an
/// `eventId` already stored (or earlier in the same batch), and which were refused and why.
public struct EventIngestResult: Sendable, Encodable, Equatable {
    public var accepted: Int
    public var duplicates: Int
    public var rejected: [EventRejection]
}

/// One refused event of a batch: its position, its id when it had a readable one, and the error
/// (`{code, message, details: {field}}`, the field relative to the event, e.g. `properties.amount`).
public struct EventRejection: Sendable, Encodable, Equatable {
    public var index: Int
    public var eventId: String?
    public var error: JSONValue
}
