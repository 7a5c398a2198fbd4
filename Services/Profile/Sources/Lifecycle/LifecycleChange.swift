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
        _ = try EventStore.write(on: conn, eventIds: ids.map { "lifecycle:" + $0.uuidString.lowercased() },
                                 customerIds: changes.map(\.customerId), orgPaths: changes.map(\.orgPath),
                                 names: changes.map { _ in Self.eventName }, occurredAt: changes.map(\.changedAt),
                                 properties: properties, timeZone: timeZone)
    }
}
