import Contracts
import Foundation
import Postgres
import ServiceKit

/// Stores behaviour events: checks each against the catalog and the caller's scope, then writes a
/// whole batch in one transaction with a fixed number of statements, whatever its size:
///
/// 1. one query for the org paths of the batch's customers (scope check),
/// 2. one statement (data-modifying CTEs over `unnest` of arrays) that claims the new event ids in
///    `event_ids` (`ON CONFLICT DO NOTHING` decides what is new: a repeat is never counted twice),
///    inserts those events, and upserts `event_daily_counts` (days in the bank's time zone) and
///    `event_summaries`,
/// 3. with subscribers, one outbox insert of a `profile.event` per stored event per subscriber.
///
/// Aggregate rows are written in key order, so concurrent batches lock them in the same order and
/// cannot deadlock each other. Partitions for the batch's months are made beforehand (`EventPartitions`).
///
/// Thread-safety: immutable; the catalog and partitions guard their own caches.
public struct EventIngestor: Sendable {
    let database: PostgresPool
    let types: EventTypeCatalog
    let partitions: EventPartitions
    let outbox: Outbox
    /// Subscriber names, sorted (each stored event is enqueued once per name).
    let subscribers: [String]
    let acceptsUnknownEvents: Bool
    /// The bank's time zone identifier (e.g. `Asia/Shanghai`), for the days of `event_daily_counts`.
    let timeZone: String

    /// Events one request carries at most.
    public static let maximumBatch = 1_000
    /// The outbox event type of a stored behaviour event.
    public static let outboxEventType = "profile.event"

    public init(database: PostgresPool, types: EventTypeCatalog, settings: ProfileSettings) throws {
        self.database = database
        self.types = types
        partitions = EventPartitions(database: database)
        outbox = try Outbox(schema: settings.service.databaseSchema)
        subscribers = settings.eventSubscribers.keys.sorted()
        acceptsUnknownEvents = settings.acceptsUnknownEvents
        timeZone = settings.service.timeZone.identifier
    }

    /// Checks and stores `submitted` (at most `maximumBatch`) for `caller`; never throws for a bad
    /// event (it is reported in `rejected`), only for a database failure.
    public func ingest(_ submitted: [JSONValue], caller: CallerIdentity, now: Date = Date()) throws -> EventIngestResult {
        EventIngestResult(try ingestEach(submitted, caller: caller, now: now))
    }

    /// What became of one submitted event.
    enum Outcome: Sendable, Equatable {
        case stored
        /// Its `eventId` was stored before, or earlier in the same batch.
        case duplicate
        case rejected(EventRejection)
    }

    /// `ingest`, answering per event, in the order submitted: what lets concurrent single events be
    /// stored together (`SingleEventBatcher`) and each caller be told of its own.
    func ingestEach(_ submitted: [JSONValue], caller: CallerIdentity, now: Date = Date()) throws -> [Outcome] {
        guard submitted.count <= Self.maximumBatch else {
            throw APIError(status: 413, code: "batch_too_large", message: "a batch carries at most \(Self.maximumBatch) events",
                           details: .object(["field": "events"]))
        }
        var names = Set<String>()
        for case .object(let o) in submitted { if case .string(let n)? = o["name"] { names.insert(n) } }
        let catalog = try types.types(covering: names)

        var outcomes = [Outcome](repeating: .duplicate, count: submitted.count)
        var checked: [(index: Int, event: CheckedEvent)] = []
        checked.reserveCapacity(submitted.count)
        var seen = Set<String>()
        for (index, value) in submitted.enumerated() {
            switch EventSubmission.check(value, types: catalog, acceptsUnknownEvents: acceptsUnknownEvents, now: now) {
            case .failure(let fault):
                outcomes[index] = .rejected(EventRejection(index: index, eventId: value["eventId"]?.stringValue.map { String($0.prefix(128)) },
                                                           error: fault.body))
            case .success(let event):
                // A repeat inside the batch is a duplicate like a repeat of an earlier batch: the first wins.
                if seen.insert(event.eventId).inserted { checked.append((index, event)) }
            }
        }

        // The customers' owning units, one query; out of scope reads as unknown (no existence leak).
        var orgPaths: [String: String] = [:]
        if !checked.isEmpty {
            let ids = Array(Set(checked.map(\.event.customerId)))
            let rows = try database.query(
                "SELECT id, org_path FROM customers WHERE id = ANY($1::text[]) AND starts_with(org_path, $2)", ids, caller.orgPath)
            for row in rows { orgPaths[try row.decode("id")] = try row.decode("org_path") }
        }
        var batch: [(index: Int, event: CheckedEvent, orgPath: String)] = []
        batch.reserveCapacity(checked.count)
        for (index, event) in checked {
            if let path = orgPaths[event.customerId] {
                batch.append((index, event, path))
            } else {
                outcomes[index] = .rejected(EventRejection(index: index, eventId: event.eventId, error: EventFault(
                    code: "customer_not_found", message: "customerId \(event.customerId) is not a customer in your scope",
                    field: "customerId").body))
            }
        }
        guard !batch.isEmpty else { return outcomes }

        try partitions.ensure(covering: batch.map(\.event.occurredAt))
        let stored = try database.transaction { conn -> Set<String> in
            let storedIds = try EventStore.write(
                on: conn, eventIds: batch.map(\.event.eventId), customerIds: batch.map(\.event.customerId),
                orgPaths: batch.map(\.orgPath), names: batch.map(\.event.name), occurredAt: batch.map(\.event.occurredAt),
                properties: batch.map(\.event.propertiesJSON), timeZone: timeZone)
            if !subscribers.isEmpty, !storedIds.isEmpty {
                var events: [OutboxEvent] = []
                events.reserveCapacity(storedIds.count * subscribers.count)
                for (_, event, orgPath) in batch where storedIds.contains(event.eventId) {
                    let payload = Self.payloadJSON(event, orgPath: orgPath)
                    let id = Self.outboxId(eventId: event.eventId)
                    for subscriber in subscribers {
                        events.append(try OutboxEvent(type: Self.outboxEventType, destination: subscriber, payloadJSON: payload,
                                                      id: id, occurredAt: event.occurredAt))
                    }
                }
                try outbox.enqueue(on: conn, events: events)
            }
            return storedIds
        }
        // The rest of the batch's ids were stored before: duplicates, as `outcomes` already says.
        for (index, event, _) in batch where stored.contains(event.eventId) { outcomes[index] = .stored }
        return outcomes
    }

    /// The event as subscribers receive it (`OutboxEnvelope.payload`).
    static func payloadJSON(_ event: CheckedEvent, orgPath: String) -> String {
        // customerId, orgPath and name are of restricted alphabets (checked, or from a CHECKed column):
        // only eventId may need escaping.
        "{\"eventId\":" + JSONString.quoted(event.eventId) + ",\"customerId\":\"" + event.customerId
            + "\",\"orgPath\":" + JSONString.quoted(orgPath) + ",\"name\":\"" + event.name
            + "\",\"occurredAt\":\"" + JSONCoding.formatDate(event.occurredAt) + "\",\"properties\":" + event.propertiesJSON + "}"
    }

    /// A stable outbox id per behaviour event (a name-based UUID of the eventId), so every subscriber
    /// sees the same id and a receiver's inbox de-duplicates redeliveries.
    static func outboxId(eventId: String) -> UUID {
        var b = SHA256.hash(Array("lattice.profile.event:".utf8) + Array(eventId.utf8))
        b[6] = (b[6] & 0x0F) | 0x50   // version 5 layout (name-based, SHA digest)
        b[8] = (b[8] & 0x3F) | 0x80   // RFC 4122 variant
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
