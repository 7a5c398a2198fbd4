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

    /// The fact's event id, stable per message and type (`OutboxEvent.stableId`).
    static func eventId(message: String, type: MarketingFactType) -> UUID {
        OutboxEvent.stableId(for: message + "|" + type.rawValue)
    }
}
