import Contracts
import Foundation

/// A job to enqueue: which queue, what payload, when, how many attempts, and an optional key that
/// makes enqueueing idempotent.
public struct NewJob: Sendable, Equatable {
    /// The queue a worker registered a handler for (`[A-Za-z0-9_.:-]`, ≤ 100).
    public let queue: String
    /// The payload as JSON text (stored as `jsonb`).
    public let payloadJSON: String
    /// Earliest start; nil means now by the database clock.
    public let runAt: Date?
    /// Attempts before the job is dead-lettered, 1…1000.
    public let maxAttempts: Int
    /// At most one job per (queue, dedupeKey) exists in the table: enqueueing the same key again does
    /// nothing (until the finished row is purged). 1…200 bytes.
    public let dedupeKey: String?

    /// A job whose payload is encoded with the shared `JSONCoding` settings.
    public init<Payload: Encodable>(queue: String, payload: Payload, runAt: Date? = nil, maxAttempts: Int = 10,
                                    dedupeKey: String? = nil) throws(JobQueueError) {
        let data: Data
        do {
            data = try JSONCoding.encoder().encode(payload)
        } catch {
            throw .invalidJob("payload for queue \(queue) cannot be encoded: \(error)")
        }
        try self.init(queue: queue, payloadJSON: String(decoding: data, as: UTF8.self), runAt: runAt,
                      maxAttempts: maxAttempts, dedupeKey: dedupeKey)
    }

    /// A job whose payload is already JSON text; it is checked to be well-formed.
    public init(queue: String, payloadJSON: String, runAt: Date? = nil, maxAttempts: Int = 10,
                dedupeKey: String? = nil) throws(JobQueueError) {
        guard DataPlaneText.isName(queue) else {
            throw .invalidJob("queue must be 1…100 characters of A-Z a-z 0-9 _ . : -")
        }
        guard (1...1_000).contains(maxAttempts) else { throw .invalidJob("maxAttempts must be 1…1000") }
        if let dedupeKey {
            guard DataPlaneText.isLabel(dedupeKey) else { throw .invalidJob("dedupeKey must be 1…200 printable bytes") }
        }
        guard !payloadJSON.utf8.contains(0),
              (try? JSONSerialization.jsonObject(with: Data(payloadJSON.utf8), options: [.fragmentsAllowed])) != nil
        else {
            throw .invalidJob("payload is not well-formed JSON")
        }
        self.queue = queue
        self.payloadJSON = payloadJSON
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.dedupeKey = dedupeKey
    }
}
