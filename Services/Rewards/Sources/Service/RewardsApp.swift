import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The rewards service assembled: the catalog, the grant ledger over sharded stock, points, lotteries,
/// the expiry tick, external fetches and the outbox relay.
public final class RewardsApp: Sendable {
    public let service: Service
    public let settings: RewardsSettings

    public init(settings: RewardsSettings, logSink: any LogSink = StandardOutputLogSink.shared) throws {
        self.settings = settings
        service = try Service(name: "rewards", settings: settings.service, migrations: try RewardsMigrations.all(), logSink: logSink)
        let database = service.database
        let schema = settings.service.databaseSchema
        let facts = try RewardFacts(schema: schema, destinations: settings.eventSubscribers.keys.sorted(), notifies: settings.outboxNotifies)
        let store = RewardStore(database: database, shardCount: settings.stockShards)
        let points = PointsLedger(database: database, facts: facts)
        let ledger = GrantLedger(database: database, facts: facts, points: points, timeZone: settings.service.timeZone.identifier,
                                 batchSize: settings.grantBatch, logger: service.logger)
        let draws = LotteryDraw(ledger: ledger, points: points)
        // Providers are outside the bank: their own client, without the internal credential; the retry
        // tick tries again what a first fetch did not get, a bounded number of times.
        var providerConfiguration = HTTPClient.Configuration()
        providerConfiguration.retry = .none
        providerConfiguration.timeoutMs = Int(settings.providerTimeout * 1000)
        let external = ExternalFetch(database: database, ledger: ledger, client: HTTPClient(configuration: providerConfiguration),
                                     logger: service.logger, maxAttempts: settings.externalAttempts,
                                     retryInterval: settings.externalRetryInterval)

        RewardRoutes.register(on: service.router, store: store, ledger: ledger, points: points, draws: draws, external: external,
                              idempotency: IdempotencyStore(database: database))

        let scheduler = try Scheduler(configuration: SchedulerConfiguration(schema: schema, instanceId: InstanceName.make("rewards"),
                                                                            pollInterval: min(1, settings.expiryInterval)),
                                      pool: database, logger: service.logger, metrics: service.metrics)
        try scheduler.schedule("rewards-expiry", every: settings.expiryInterval) { _, conn in
            // Bounded per tick: the tick's transaction holds its row lock while it runs.
            for _ in 0..<10 {
                guard try ledger.expireDue(on: conn) == 1_000 else { break }   // a short batch: nothing more is due
            }
            _ = try points.expireDue(on: conn)
        }
        try scheduler.schedule("rewards-external-retry", every: settings.externalRetryInterval) { _, _ in
            _ = try external.retryPending()
        }
        service.add(task: scheduler)
        try service.addOutboxRelay(subscribers: settings.eventSubscribers)
    }

    public func start() throws { try service.start() }
    public func stop() { service.stop() }
    public func runUntilTerminated() -> Never { service.runUntilTerminated() }
}

/// The rewards schema's migrations, then ServiceKit's data-plane tables (outbox, inbox, jobs, schedules,
/// idempotency keys).
public enum RewardsMigrations {
    public static func all() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw APIError.internalError("the rewards service's Migrations resource is missing next to the executable")
        }
        return try Migration.load(directory: directory) + DataPlaneSchema.migrations
    }
}
