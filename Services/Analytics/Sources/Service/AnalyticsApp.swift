import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The analytics service assembled: the event inbox that stores facts and keeps the rollups, the
/// partition and inbox maintenance tick, and the report routes.
public final class AnalyticsApp: Sendable {
    public let service: Service
    public let settings: AnalyticsSettings
    /// The inbox consumer name (the de-duplication namespace of received events).
    public static let consumer = "analytics.facts"

    public init(settings: AnalyticsSettings, logSink: any LogSink = StandardOutputLogSink.shared) throws {
        self.settings = settings
        service = try Service(name: "analytics", settings: settings.service, migrations: try AnalyticsMigrations.all(), logSink: logSink)
        let database = service.database
        let schema = settings.service.databaseSchema
        let facts = FactStore(timeZone: settings.service.timeZone.identifier)
        let stored = try service.metrics.counter("analytics_facts_total", help: "Facts stored from received events.")
        let ignored = try service.metrics.counter("analytics_events_ignored_total", help: "Received events of types analytics does not count.")
        let logger = service.logger
        // A relay's batch is stored as one: one staging copy and one rollup upsert per row touched, in key
        // order (concurrent batches of the same canvas neither deadlock nor hold each other's rows for
        // a hundred events). A malformed event makes the batch fall back to one event at a time.
        let together: InboxReceiver.BatchHandler = { events, conn, context in
            var batch: [Fact] = []
            batch.reserveCapacity(events.count)
            for event in events {
                if let fact = try FactDecoder.fact(from: event) { batch.append(fact) } else { ignored.increment() }
            }
            stored.increment(by: try facts.ingest(batch, on: conn))
        }
        let receiver = try InboxReceiver(schema: schema, consumer: Self.consumer, pool: database, batchHandler: together) { event, conn, context in
            guard let fact = try FactDecoder.fact(from: event) else {
                ignored.increment()
                logger.with(requestId: context.requestId).debug("event type not counted", ["type": .string(event.type)])
                return
            }
            // 0 when the fact is stored already (an id the inbox no longer remembers): nothing counts twice.
            if try facts.ingest([fact], on: conn) > 0 { stored.increment() }
        }
        receiver.register(on: service.router, path: "/internal/v1/events", options: RouteOptions(maxBodyBytes: 256 << 10))

        let inbox = try Inbox(schema: schema)
        let scheduler = try Scheduler(configuration: SchedulerConfiguration(schema: schema, instanceId: InstanceName.make("analytics")),
                                      pool: database, logger: logger, metrics: service.metrics)
        let ahead = TimeInterval(settings.partitionDaysAhead) * 86_400, retention = settings.inboxRetention
        try scheduler.schedule("analytics.maintenance", every: settings.maintenanceInterval) { _, conn in
            let now = Date()
            let created = try facts.ensurePartitions(from: now.addingTimeInterval(-86_400), through: now.addingTimeInterval(ahead), on: conn)
            // Bounded deletes until the old ids are gone (or a generous cap: the next tick goes on).
            var purged = 0
            for _ in 0..<50 {
                let n = try inbox.purge(on: conn, olderThan: retention, limit: 10_000)
                purged += n
                if n < 10_000 { break }
            }
            if created > 0 || purged > 0 {
                logger.info("analytics maintenance", ["partitionsCreated": .int(created), "inboxPurged": .int(purged)])
            }
        }
        service.add(task: scheduler)

        ReportRoutes.register(on: service.router, reports: ReportStore(database: database, days: BankDays(timeZone: settings.service.timeZone)))
    }

    public func start() throws { try service.start() }
    public func stop() { service.stop() }
    public func runUntilTerminated() -> Never { service.runUntilTerminated() }
}

/// The analytics schema's migrations (SQL files shipped as a resource next to the executable), then
/// ServiceKit's data-plane tables (outbox, inbox, jobs, schedules, idempotency keys).
public enum AnalyticsMigrations {
    public static func all() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw APIError.internalError("the analytics Migrations resource is missing next to the executable")
        }
        return try Migration.load(directory: directory) + DataPlaneSchema.migrations
    }
}
