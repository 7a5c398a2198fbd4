import Contracts
import Foundation
import Postgres
import ServiceKit

/// A customer moved from one lifecycle stage to another (`from` nil: the first stage given; `to` nil:
/// no stage holds any more). The payload of the `profile.lifecycle_changed` outbox event.
public struct LifecycleChange: Sendable, Codable, Equatable {
    public var customerId: String
    public var orgPath: String
    public var from: LifecycleStage?
    public var to: LifecycleStage?
    public var changedAt: Date
}

/// Publishes lifecycle changes in the transaction that writes the `lifecycle` tag:
///
/// - one `profile.lifecycle_changed` outbox event per change per subscriber (`settings.eventSubscribers`),
///   one event id per change, so receivers de-duplicate redeliveries;
/// - one behaviour event `lifecycle_changed` per change in `events`/`event_ids` with its aggregates
///   (`event_daily_counts` by local day, `event_summaries`), properties `{from, to}`, like ingestion
///   writes them — so segments and rules can count stage moves. It is not also published as a
///   `profile.event` (subscribers get the specific event above).
///
/// Thread-safety: immutable; the connection passed in belongs to the calling thread.
struct LifecyclePublisher: Sendable {
    static let outboxEventType = "profile.lifecycle_changed"
    static let eventName = "lifecycle_changed"

    let outbox: Outbox
    /// Subscriber names, sorted.
    let subscribers: [String]
    /// The bank's time zone identifier, for the day of `event_daily_counts`.
    let timeZone: String

    init(settings: ProfileSettings) throws {
        outbox = try Outbox(schema: settings.service.databaseSchema)
        subscribers = settings.eventSubscribers.keys.sorted()
        timeZone = settings.service.timeZone.identifier
    }

    func publish(_ changes: [LifecycleChange], on conn: PostgresConnection) throws {
        guard !changes.isEmpty else { return }
        let ids = changes.map { _ in UUID() }
        var events: [OutboxEvent] = []
        for (change, id) in zip(changes, ids) {
            for subscriber in subscribers {
                events.append(try OutboxEvent(type: Self.outboxEventType, destination: subscriber, payload: change,
                                              id: id, occurredAt: change.changedAt))
            }
        }
        try outbox.enqueue(on: conn, events: events)
        let encoder = JSONCoding.encoder()
        let properties = try changes.map { change -> String in
            var p: [String: JSONValue] = [:]
            p["from"] = change.from.map { .string($0.rawValue) } ?? .null
            p["to"] = change.to.map { .string($0.rawValue) } ?? .null
            return String(decoding: try encoder.encode(p), as: UTF8.self)
        }
        try conn.execute("""
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
                    AS i(event_id, customer_id, org_path, occurred_at, properties)),
            fresh AS (
                INSERT INTO event_ids (event_id) SELECT event_id FROM input ORDER BY event_id
                ON CONFLICT (event_id) DO NOTHING RETURNING event_id),
            stored AS (
                INSERT INTO events (event_id, customer_id, org_path, name, occurred_at, properties)
                SELECT i.event_id, i.customer_id, i.org_path, $6, i.occurred_at, i.properties::jsonb
                  FROM input i JOIN fresh f ON f.event_id = i.event_id
                RETURNING customer_id, name, occurred_at),
            daily AS (
                INSERT INTO event_daily_counts AS d (customer_id, name, day, count)
                SELECT customer_id, name, (occurred_at AT TIME ZONE $7)::date AS day, count(*)
                  FROM stored GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                ON CONFLICT (customer_id, name, day) DO UPDATE SET count = d.count + EXCLUDED.count)
            INSERT INTO event_summaries AS s (customer_id, name, first_at, last_at, total)
            SELECT customer_id, name, min(occurred_at), max(occurred_at), count(*)
              FROM stored GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (customer_id, name) DO UPDATE SET
                first_at = least(s.first_at, EXCLUDED.first_at),
                last_at = greatest(s.last_at, EXCLUDED.last_at),
                total = s.total + EXCLUDED.total
            """,
            ids.map { "lifecycle:" + $0.uuidString.lowercased() }, changes.map(\.customerId), changes.map(\.orgPath),
            changes.map(\.changedAt), properties, Self.eventName, timeZone)
    }
}
