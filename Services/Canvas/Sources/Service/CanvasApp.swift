import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The canvas service assembled: canvases and their lifecycle, the journey engine, entries (segment
/// waves, events, recalls), the event inbox, statistics, tasks, and the journey events' relay.
public final class CanvasApp: Sendable {
    public let service: Service
    public let settings: CanvasSettings
    public let engine: JourneyEngine

    public init(settings: CanvasSettings, logSink: any LogSink = StandardOutputLogSink.shared) throws {
        self.settings = settings
        service = try Service(name: "canvas", settings: settings.service, migrations: try CanvasMigrations.all(), logSink: logSink)
        let database = service.database
        let schema = settings.service.databaseSchema
        var outsideConfiguration = HTTPClient.Configuration()
        outsideConfiguration.retry = .none
        let peers = Peers(client: service.client, outside: HTTPClient(configuration: outsideConfiguration),
                          webhookGuard: WebhookGuard(allowedHosts: settings.webhookAllowedHosts), segmentURL: settings.segmentURL,
                          dispatcherURL: settings.dispatcherURL, rewardsURL: settings.rewardsURL, profileURL: settings.profileURL)
        let destinations = settings.eventSubscribers.keys.sorted()
        let facts = JourneyFacts(outbox: destinations.isEmpty ? nil : try Outbox(schema: schema), destinations: destinations)
        let engine = JourneyEngine(database: database, peers: peers, facts: facts, threads: settings.workers, batchSize: settings.batch,
                                   lease: settings.lease, pollInterval: settings.pollInterval, timeZone: settings.service.timeZone,
                                   webhookAttempts: settings.webhookAttempts, logger: service.logger)
        self.engine = engine
        let store = CanvasStore(database: database)
        let waves = EntryWaves(database: database, peers: peers, entry: engine.entry, timeZone: settings.service.timeZone, lease: settings.lease)
        let events = EventEntries(engine: engine, waves: waves)
        service.add(task: engine)
        service.add(task: EntryLoop(store: store, waves: waves, events: events, engine: engine, pollInterval: settings.pollInterval,
                                    logger: service.logger))
        let canvasService = CanvasService(store: store, references: ReferenceCheck(peers: peers),
                                          orgs: OrgDirectory(gatewayURL: settings.service.gatewayURL, client: service.client),
                                          waves: waves, tests: TestRuns(database: database, peers: peers), wake: { [engine] in engine.wakeUp() })
        let router = service.router
        CanvasRoutes.register(on: router, service: canvasService, tasks: TaskStore(database: database), database: database,
                              idempotency: IdempotencyStore(database: database), changed: { [events] in events.invalidate() })
        let receiver = try InboxReceiver(schema: schema, consumer: "canvas", pool: database,
                                         batchHandler: { batch, conn, _ in try events.handle(batch: batch, on: conn) }) { event, conn, _ in
            try events.handle(event, on: conn)
        }
        receiver.register(on: router, path: "/internal/v1/events")
        try service.addOutboxRelay(subscribers: settings.eventSubscribers)
    }

    public func start() throws { try service.start() }
    public func stop() { service.stop() }
    public func runUntilTerminated() -> Never { service.runUntilTerminated() }
}

/// The canvas schema's migrations, then ServiceKit's data-plane tables (outbox, inbox, jobs, idempotency keys).
public enum CanvasMigrations {
    public static func all() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw APIError.internalError("the canvas service's Migrations resource is missing next to the executable")
        }
        return try Migration.load(directory: directory) + DataPlaneSchema.migrations
    }
}
