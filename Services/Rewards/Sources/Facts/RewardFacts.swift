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
        _ = try outbox.enqueue(on: connection, events: try events(facts))
    }

    /// One fact's outbox event, for a statement that writes it itself (the one-statement grant): the
    /// event as for the first destination, to be written once for each of `destinations` — the same id,
    /// type, payload and time, as `record` writes them; nil without destinations. Encoded once, however
    /// many destinations.
    func event(_ type: MarketingFactType, subject: String, _ fact: MarketingFact) throws -> (event: OutboxEvent, destinations: [String])? {
        guard let first = destinations.first else { return nil }
        let event = try OutboxEvent(type: type.rawValue, destination: first, payload: fact, id: Self.eventId(subject: subject, type: type),
                                    occurredAt: Date())
        return (event, destinations)
    }

    /// The outbox rows of `facts`, one per destination; empty without destinations.
    func events(_ facts: [(MarketingFactType, String, MarketingFact)]) throws -> [OutboxEvent] {
        var events: [OutboxEvent] = []
        events.reserveCapacity(facts.count * destinations.count)
        let now = Date()
        for (type, subject, fact) in facts {
            let id = Self.eventId(subject: subject, type: type)
            for destination in destinations {
                events.append(try OutboxEvent(type: type.rawValue, destination: destination, payload: fact, id: id, occurredAt: now))
            }
        }
        return events
    }

    /// The channel a statement writing outbox rows itself notifies, as `Outbox.enqueue` would; nil when
    /// notifying is off (`LATTICE_REWARDS_OUTBOX_NOTIFY`) or nobody listens.
    var notificationChannel: String? { outbox.notifies && !destinations.isEmpty ? outbox.notificationChannel : nil }

    /// The fact's event id, stable per subject and type (`OutboxEvent.stableId`).
    static func eventId(subject: String, type: MarketingFactType) -> UUID {
        OutboxEvent.stableId(for: subject + "|" + type.rawValue)
    }
}
