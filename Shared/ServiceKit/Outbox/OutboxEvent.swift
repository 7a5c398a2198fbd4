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

extension OutboxEvent {
    /// A UUID derived from `name` alone (FNV-1a over it, twice with different seeds; version 8), so the
    /// same fact — "message m was sent" — always gets the same event id: a retried transaction or a second
    /// report of it collapses in the outbox's unique key and in the receivers' inbox.
    public static func stableId(for name: String) -> UUID {
        func fnv(_ seed: UInt64) -> UInt64 {
            var h: UInt64 = 0xcbf29ce484222325 ^ seed
            for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
            return h
        }
        let a = fnv(0), b = fnv(0x9e3779b97f4a7c15)
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: a >> (8 * i)); bytes[8 + i] = UInt8(truncatingIfNeeded: b >> (8 * i)) }
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8: custom
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
