import Contracts
import Foundation
import Postgres
import ServiceKit

/// Tells analytics (the outbox destinations of `LATTICE_EVENT_SUBSCRIBERS`) what happened to messages:
/// `dispatch.message_sent | delivered | failed | clicked | suppressed` with `MarketingFact` payloads,
/// written in the transaction that changes the message, so a fact exists exactly when its change does.
struct MessageFacts: Sendable {
    let outbox: Outbox
    let destinations: [String]

    /// What a fact needs of a message (a `Message`, or the columns a receipt's UPDATE returned).
    struct Subject: Sendable {
        var messageId: String
        var customerId: String
        var orgPath: String
        var channel: String
        var templateId: String
        var canvasId: String?
        var nodeId: String?
        var providerId: String?
        /// What the message cost the bank (the provider's unit cost), on sent facts.
        var cost: String?

        init(messageId: String, customerId: String, orgPath: String, channel: String, templateId: String, canvasId: String?,
             nodeId: String?, providerId: String?) {
            self.messageId = messageId; self.customerId = customerId; self.orgPath = orgPath; self.channel = channel
            self.templateId = templateId; self.canvasId = canvasId; self.nodeId = nodeId; self.providerId = providerId
        }

        init(_ m: Message) {
            messageId = m.id; customerId = m.customerId; orgPath = m.orgPath; channel = m.channel.rawValue
            templateId = m.templateId; canvasId = m.canvasId; nodeId = m.nodeId; providerId = m.providerId
        }

        init(row: PostgresRow) throws {
            messageId = try row.decode("id"); customerId = try row.decode("customer_id"); orgPath = try row.decode("org_path")
            channel = try row.decode("channel"); templateId = try row.decode("template_id"); canvasId = try row.decode("canvas_id")
            nodeId = try row.decode("node_id"); providerId = try row.decode("provider_id")
        }

        /// The columns `init(row:)` reads, for RETURNING clauses.
        static let returning = "id, customer_id, org_path, channel, template_id, canvas_id, node_id, provider_id"
    }

    init(schema: String, destinations: [String]) throws {
        outbox = try Outbox(schema: schema)
        self.destinations = destinations
    }

    /// Records `type` for each subject (with its reason, when one applies) on `connection`, inside
    /// the caller's transaction. Nothing when no subscriber is configured.
    func record(_ type: MarketingFactType, _ subjects: [(Subject, reason: String?)], on connection: PostgresConnection, at: Date = Date()) throws {
        guard !destinations.isEmpty, !subjects.isEmpty else { return }
        var events: [OutboxEvent] = []
        events.reserveCapacity(subjects.count * destinations.count)
        for (s, reason) in subjects {
            let fact = MarketingFact(customerId: s.customerId, orgPath: s.orgPath, canvasId: s.canvasId, nodeId: s.nodeId,
                                     channel: s.channel, messageId: s.messageId, templateId: s.templateId, provider: s.providerId,
                                     reason: reason, cost: s.cost)
            // One id per (message, fact type): a retried transaction writes the same event again, which
            // the outbox's unique key and the receivers' inbox both collapse.
            let id = Self.eventId(message: s.messageId, type: type)
            for destination in destinations {
                events.append(try OutboxEvent(type: type.rawValue, destination: destination, payload: fact, id: id, occurredAt: at))
            }
        }
        _ = try outbox.enqueue(on: connection, events: events)
    }

    /// A UUID derived from the message and the fact type (name-based, SHA-less: FNV-1a over both,
    /// twice with different seeds), so the same fact always has the same id.
    static func eventId(message: String, type: MarketingFactType) -> UUID {
        func fnv(_ seed: UInt64) -> UInt64 {
            var h: UInt64 = 0xcbf29ce484222325 ^ seed
            for b in (message + "|" + type.rawValue).utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
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
