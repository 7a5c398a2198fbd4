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

    /// A UUID derived from the subject and the fact type (FNV-1a over both, twice with different seeds).
    static func eventId(subject: String, type: MarketingFactType) -> UUID {
        func fnv(_ seed: UInt64) -> UInt64 {
            var h: UInt64 = 0xcbf29ce484222325 ^ seed
            for b in (subject + "|" + type.rawValue).utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
            return h
        }
        let a = fnv(0), b = fnv(0x9e3779b97f4a7c15)
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: a >> (8 * i)); bytes[8 + i] = UInt8(truncatingIfNeeded: b >> (8 * i)) }
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
