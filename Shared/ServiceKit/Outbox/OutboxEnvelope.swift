import Contracts
import HTTP
import Foundation

/// The wire format of delivered events: `POST <subscriber URL>` with one JSON envelope per event,
/// `{"id": "<uuid>", "type": "...", "occurredAt": "<RFC 3339>", "payload": <JSON>}`.
///
/// - One event: the envelope as an `application/json` body, with the headers `x-lattice-event-id`
///   and `x-lattice-event-type`.
/// - A batch (what the relay sends): `application/x-ndjson`, one envelope per line (an envelope never
///   holds a raw newline: JSON escapes them in strings). The answer is `OutboxEnvelope.BatchAnswer`,
///   one result per event, so one refused event does not hold up the others.
public enum OutboxEnvelope {
    /// Header carrying the event id (the same as the body's `id`).
    public static let eventIdHeader = "x-lattice-event-id"
    /// Header carrying the event type.
    public static let eventTypeHeader = "x-lattice-event-type"
    /// Content type of a batch of envelopes.
    public static let batchContentType = "application/x-ndjson"
    /// Most events one batch may carry (a receiver refuses more).
    public static let maxBatchEvents = 1_000

    /// What a receiver did with one event of a batch.
    public struct BatchResult: Codable, Sendable, Equatable {
        /// The event's id (lowercase UUID); nil for a line that was not an envelope.
        public var eventId: String?
        /// `processed`, `duplicate`, or `failed` (then `status` and `message` say why; the sender retries).
        public var outcome: String
        public var status: Int?
        public var message: String?

        public init(eventId: String?, outcome: String, status: Int? = nil, message: String? = nil) {
            self.eventId = eventId
            self.outcome = outcome
            self.status = status
            self.message = message
        }
    }

    /// The answer to a batch: `{"results": [...]}` in the order of the lines.
    public struct BatchAnswer: Codable, Sendable {
        public var results: [BatchResult]
        public init(results: [BatchResult]) { self.results = results }
    }

    /// Whether a delivery is a batch (`batchContentType`, one envelope per line) rather than one envelope.
    public static func isBatch(_ headers: HTTPHeaders) -> Bool {
        headers.first("content-type").map { HTTPHeaders.name($0, hasPrefix: batchContentType) } ?? false
    }

    /// The envelopes of a batch body, one per line: 400 naming `$` when there is none or more than
    /// `maxBatchEvents`.
    public static func batch(of body: [UInt8]) throws(APIError) -> [ArraySlice<UInt8>] {
        let lines = lines(of: body)
        guard !lines.isEmpty else { throw .badRequest("a batch needs at least one envelope", field: "$", code: "body_required") }
        guard lines.count <= maxBatchEvents else {
            throw .badRequest("a batch carries at most \(maxBatchEvents) events", field: "$", code: "batch_too_large")
        }
        return lines
    }

    /// The lines of a batch body (empty lines skipped).
    static func lines(of body: [UInt8]) -> [ArraySlice<UInt8>] {
        body.split(separator: 0x0A, omittingEmptySubsequences: true)
            .filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 } }
    }

    /// The body bytes. `payloadJSON` is spliced in as is: it comes from a `jsonb` column, so it is
    /// well-formed JSON, and re-encoding it would cost precision on large numbers.
    static func encode(id: UUID, type: String, occurredAt: Date, payloadJSON: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payloadJSON.utf8.count + type.utf8.count + 120)
        out += Array(#"{"id":""#.utf8)
        out += Array(id.uuidString.lowercased().utf8)
        out += Array(#"","type":"#.utf8)
        JSONString.append(type, to: &out)
        out += Array(#","occurredAt":""#.utf8)
        out += Array(JSONCoding.formatDate(occurredAt).utf8)
        out += Array(#"","payload":"#.utf8)
        out += Array(payloadJSON.utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// An event as a receiver got it: the envelope's fields, and the payload to decode into the
/// receiver's own type.
public struct ReceivedEvent: Sendable {
    public let id: UUID
    public let type: String
    public let occurredAt: Date
    /// The whole envelope, from which `payload(as:)` decodes.
    let body: [UInt8]

    private struct Head: Decodable {
        let id: UUID
        let type: String
        let occurredAt: Date
        let payload: JSONValue
    }

    private struct PayloadOnly<Payload: Decodable>: Decodable {
        let payload: Payload
    }

    /// Decodes an envelope. A malformed one is a 400 `APIError` naming the field at fault.
    public init(envelope body: [UInt8]) throws(APIError) {
        guard !body.isEmpty else { throw .badRequest("an event envelope is required", field: "$", code: "body_required") }
        let head: Head
        do {
            head = try JSONCoding.decoder().decode(Head.self, from: Data(body))
        } catch let error as DecodingError {
            throw .from(error)
        } catch {
            throw .badRequest("the body is not a valid event envelope", field: "$", code: "invalid_json")
        }
        guard DataPlaneText.isLabel(head.type) else {
            throw .badRequest("type must be 1…200 printable bytes", field: "type", code: "field_invalid")
        }
        id = head.id
        type = head.type
        occurredAt = head.occurredAt
        self.body = body
    }

    /// The payload decoded as `Payload`; a mismatch is a 400 naming the field (under `payload`).
    public func payload<Payload: Decodable>(as type: Payload.Type = Payload.self) throws(APIError) -> Payload {
        do {
            return try JSONCoding.decoder().decode(PayloadOnly<Payload>.self, from: Data(body)).payload
        } catch let error as DecodingError {
            throw .from(error)
        } catch {
            throw .badRequest("payload cannot be decoded", field: "payload", code: "field_invalid")
        }
    }
}
