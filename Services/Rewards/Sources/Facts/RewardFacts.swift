import Contracts
import Foundation
import Postgres
import ServiceKit

/// Tells analytics and the profile's activity tags (the outbox destinations of `LATTICE_EVENT_SUBSCRIBERS`)
/// what happened to rewards: `rewards.granted | redeemed | expired | revoked | lottery_drawn` and
/// `rewards.points_earned | spent | expired`, with `MarketingFact` payloads, written in the transaction of
/// the change so that a fact exists exactly when its change does.
struct RewardFacts: Sendable {
    let outbox: Outbox
    let destinations: [String]

    init(schema: String, destinations: [String], notifies: Bool) throws {
        var outbox = try Outbox(schema: schema)
        outbox.notifies = notifies
        self.outbox = outbox
        self.destinations = destinations
    }

    /// Records `fact` as `type` once per destination; `subject` (a grant id, a points operation id) and the
    /// type make the event id, so a retried transaction writes the same event again, which the outbox's
    /// unique key and the receivers' inbox collapse.
    func record(_ type: MarketingFactType, subject: String, _ fact: MarketingFact, on connection: PostgresConnection) throws {
        try record([(type, subject, fact)], on: connection)
    }

    func record(_ facts: [(MarketingFactType, String, MarketingFact)], on connection: PostgresConnection) throws {
        guard !destinations.isEmpty, !facts.isEmpty else { return }
        var events: [OutboxEvent] = []
        events.reserveCapacity(facts.count * destinations.count)
        let now = Date()
        for (type, subject, fact) in facts {
            let id = Self.eventId(subject: subject, type: type)
            for destination in destinations {
                events.append(try OutboxEvent(type: type.rawValue, destination: destination, payload: fact, id: id, occurredAt: now))
            }
        }
        _ = try outbox.enqueue(on: connection, events: events)
    }

    /// The fact's event id, stable per subject and type (`OutboxEvent.stableId`).
    static func eventId(subject: String, type: MarketingFactType) -> UUID {
        OutboxEvent.stableId(for: subject + "|" + type.rawValue)
    }
}
