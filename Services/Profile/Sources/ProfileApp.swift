import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The profile service assembled: customers, the attribute catalog, consents, imports, events, tags,
/// lifecycle, the change feed and the 360° view.
public final class ProfileApp: Sendable {
    public let service: Service
    public let settings: ProfileSettings
    public let catalog: AttributeCatalog
    public let customers: CustomerStore
    public let orgs: OrgDirectory
    /// Keeps rule tags and lifecycle stages current (tags wiring).
    public let ruleTags: RuleTagWorker

    public init(settings: ProfileSettings, logSink: any LogSink = StandardOutputLogSink.shared,
                orgs: OrgDirectory? = nil) throws {
        self.settings = settings
        service = try Service(name: "profile", settings: settings.service, migrations: try ProfileMigrations.all(),
                              logSink: logSink)
        let orgs = orgs ?? OrgDirectory(gatewayURL: settings.service.gatewayURL, client: service.client)
        self.orgs = orgs
        catalog = AttributeCatalog(database: service.database)
        customers = CustomerStore(database: service.database, catalog: catalog, orgs: orgs)

        let router = service.router
        let view = CustomerViewAssembler(database: service.database, client: service.client, sources: settings.viewSources)
        CustomerRoutes.register(on: router, store: customers, view: view)
        // Creates replay their first answer when repeated with the same Idempotency-Key (DESIGN.md §3).
        let idempotency = IdempotencyStore(database: service.database)
        AttributeRoutes.register(on: router, catalog: catalog, idempotency: idempotency)
        ChangeFeedRoutes.register(on: router, feed: ChangeFeed(database: service.database))
        ContactFactsRoutes.register(on: router, database: service.database)
        // wiring: events
        let eventTypes = EventTypeCatalog(database: service.database)
        let ingestor = try EventIngestor(database: service.database, types: eventTypes, settings: settings)
        EventRoutes.register(on: router, types: eventTypes, ingestor: ingestor,
                             singles: SingleEventBatcher(ingestor: ingestor, batchSize: settings.singleEventBatch),
                             idempotency: idempotency)
        // The rewards service's facts, as the customers' events.
        MarketingFactReceiver(ingestor: ingestor, logger: service.logger).register(on: router)
        // Delivers every outbox row of this schema (behaviour events and any other profile events).
        try service.addOutboxRelay(subscribers: settings.eventSubscribers)
        // wiring: imports
        ImportRoutes.register(on: router, imports: try Imports(service: service, catalog: catalog, orgs: orgs))
        // wiring: tags
        let tagStore = TagStore(database: service.database, catalog: catalog)
        TagRoutes.register(on: router, store: tagStore, idempotency: idempotency)
        LifecycleRoutes.register(on: router, database: service.database, catalog: catalog, orgs: orgs)
        ruleTags = RuleTagWorker(database: service.database,
                                 engine: RuleTagEngine(evaluator: RuleEvaluator(timeZone: settings.service.timeZone),
                                                       lifecycle: try LifecyclePublisher(settings: settings)),
                                 logger: service.logger,
                                 configuration: { var c = RuleTagWorker.Configuration(); c.sweepInterval = settings.tagSweepInterval; return c }())
        service.add(task: ruleTags)
    }

    public func start() throws { try service.start() }
    public func stop() { service.stop() }
    public func runUntilTerminated() -> Never { service.runUntilTerminated() }
}

/// The profile schema's migrations (SQL files shipped as a resource next to the executable), then
/// ServiceKit's data-plane tables (outbox, inbox, jobs).
public enum ProfileMigrations {
    public static func all() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw APIError.internalError("the profile service's Migrations resource is missing next to the executable")
        }
        return try Migration.load(directory: directory) + DataPlaneSchema.migrations
    }
}
