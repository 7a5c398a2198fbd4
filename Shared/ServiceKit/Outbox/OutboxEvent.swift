import Contracts
import Foundation

/// One event to deliver to one subscriber, written by `Outbox.enqueue` in the caller's transaction.
///
/// The same `id` may be enqueued for several destinations (fan-out: one row each); receivers
/// de-duplicate by `id`, so the id must stay the same when a caller retries its own transaction.
public struct OutboxEvent: Sendable, Equatable {
    /// The event's identity, sent as the envelope `id` and the `x-lattice-event-id` header.
    public let id: UUID
    /// What happened, e.g. `customer.consent_withdrawn`. Printable, 1…200 bytes.
    public let type: String
    /// The subscriber's name, resolved to a URL by the relay's configuration (`[A-Za-z0-9_.:-]`, ≤ 100).
    public let destination: String
    /// When the change happened (the envelope's `occurredAt`).
    public let occurredAt: Date
    /// The payload as JSON text (stored as `jsonb`; numbers keep their precision).
    public let payloadJSON: String

    /// An event whose payload is encoded with the shared `JSONCoding` settings.
    public init<Payload: Encodable>(type: String, destination: String, payload: Payload,
                                    id: UUID = UUID(), occurredAt: Date = Date()) throws(OutboxError) {
        let data: Data
        do {
            data = try JSONCoding.encoder().encode(payload)
        } catch {
            throw .invalidEvent("payload of \(type) cannot be encoded: \(error)")
        }
        try self.init(type: type, destination: destination, payloadJSON: String(decoding: data, as: UTF8.self),
                      id: id, occurredAt: occurredAt)
    }

    /// An event whose payload is already JSON text; it is checked to be well-formed JSON.
    public init(type: String, destination: String, payloadJSON: String,
                id: UUID = UUID(), occurredAt: Date = Date()) throws(OutboxError) {
        guard DataPlaneText.isLabel(type) else {
            throw .invalidEvent("type must be 1…200 printable bytes")
        }
        guard DataPlaneText.isName(destination) else {
            throw .invalidEvent("destination must be 1…100 characters of A-Z a-z 0-9 _ . : -")
        }
        guard !payloadJSON.utf8.contains(0),
              (try? JSONSerialization.jsonObject(with: Data(payloadJSON.utf8), options: [.fragmentsAllowed])) != nil
        else {
            throw .invalidEvent("payload is not well-formed JSON")
        }
        self.id = id
        self.type = type
        self.destination = destination
        self.occurredAt = occurredAt
        self.payloadJSON = payloadJSON
    }
}
