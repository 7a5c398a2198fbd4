import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The dispatcher assembled: providers, templates with their compliance review, policies, the send
/// path with its policy chain, delivery workers, receipts, tracked links and the in-app inbox.
public final class DispatcherApp: Sendable {
    public let service: Service
    public let settings: DispatcherSettings
    let worker: JobWorker

    public init(settings: DispatcherSettings, logSink: any LogSink = StandardOutputLogSink.shared) throws {
        self.settings = settings
        service = try Service(name: "dispatcher", settings: settings.service, migrations: try DispatcherMigrations.all(), logSink: logSink)
        let database = service.database
        let schema = settings.service.databaseSchema
        let queue = try JobQueue(schema: schema)
        let calendar = BankCalendar(timeZone: settings.service.timeZone)
        let profile = ProfileClient(client: service.client, baseURL: settings.profileURL)
        let policies = PolicyStore(database: database)
        let providers = ProviderStore(database: database)
        let templates = TemplateStore(database: database, policies: policies)
        let worker = try JobWorker(configuration: JobWorkerConfiguration(
            schema: schema, workerId: InstanceName.make("dispatcher"), threads: settings.deliveryThreads, batchSize: settings.deliveryBatch,
            lease: settings.lease, pollInterval: settings.deliveryPollInterval, reapInterval: min(10, settings.lease / 2),
            backoff: RetryBackoff(base: settings.retryBase, maximum: 600)),
            pool: database, logger: service.logger, metrics: service.metrics)
        self.worker = worker
        let facts = try MessageFacts(schema: schema, destinations: settings.eventSubscribers.keys.sorted())
        let admission = MessageAdmission(database: database, templates: templates, policies: policies, providers: providers, profile: profile,
                                         renderer: TemplateRenderer(publicURL: settings.publicURL), calendar: calendar, queue: queue,
                                         wake: { [weak worker] in worker?.wakeUp() },
                                         chainSeconds: try service.metrics.counter("dispatch_policy_chain_seconds_total",
                                                                                   help: "Time spent deciding messages in the policy chain."),
                                         chainDecisions: try service.metrics.counter("dispatch_policy_decisions_total",
                                                                                     help: "Messages decided by the policy chain."),
                                         facts: facts)
        // Providers are outside the bank: their own client, without the internal credential, and no retries
        // of its own (the queue retries with backoff and counts attempts).
        var providerConfiguration = HTTPClient.Configuration()
        providerConfiguration.retry = .none
        providerConfiguration.maxConcurrentRequests = settings.providerConcurrency
        let delivery = Delivery(database: database, providers: providers, call: ProviderCall(client: HTTPClient(configuration: providerConfiguration)),
                                admission: admission, queue: queue, maxAttempts: settings.maxProviderAttempts, retryBase: settings.retryBase,
                                logger: service.logger, facts: facts)
        try worker.register(batchQueue: MessageAdmission.sendQueue) { jobs in try delivery.deliver(jobs) }
        try worker.register(queue: Delivery.fallbackQueue) { job in try delivery.createFallback(job) }
        service.add(task: worker)

        // Creates replay their first answer when repeated with the same Idempotency-Key (DESIGN.md §3);
        // sends are idempotent by their own key (MessageAdmission).
        let idempotency = IdempotencyStore(database: database)
        let router = service.router
        ProviderRoutes.register(on: router, store: providers, idempotency: idempotency)
        TemplateRoutes.register(on: router, store: templates, idempotency: idempotency)
        PolicyRoutes.register(on: router, store: policies)
        MessageRoutes.register(on: router, admission: admission, store: MessageStore(database: database))
        ReceiptRoutes.register(on: router, database: database, providers: providers, policies: policies, profile: profile, queue: queue,
                               facts: facts)
        InboxRoutes.register(on: router, database: database)
        LinkRoutes.register(on: router, database: database, profile: profile, logger: service.logger, facts: facts)
        try service.addOutboxRelay(subscribers: settings.eventSubscribers)
    }

    public func start() throws { try service.start() }
    public func stop() { service.stop() }
    public func runUntilTerminated() -> Never { service.runUntilTerminated() }
}

/// The dispatch schema's migrations (SQL files shipped as a resource next to the executable), then
/// ServiceKit's data-plane tables (outbox, inbox, jobs, idempotency keys).
public enum DispatcherMigrations {
    public static func all() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw APIError.internalError("the dispatcher's Migrations resource is missing next to the executable")
        }
        return try Migration.load(directory: directory) + DataPlaneSchema.migrations
    }
}
