import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The segment service assembled: the customer index following the profile's change feed, estimates,
/// segments and their members, white and black lists.
public final class SegmentApp: Sendable {
    public let service: Service
    public let settings: SegmentSettings
    /// This replica's index, kept current by `feed`.
    public let live: LiveIndex
    public let feed: FeedFollower

    public init(settings: SegmentSettings, logSink: any LogSink = StandardOutputLogSink.shared) throws {
        self.settings = settings
        service = try Service(name: "segment", settings: settings.service, migrations: try SegmentMigrations.all(),
                              logSink: logSink)
        let timeZone = settings.service.timeZone
        let live = LiveIndex(timeZone: timeZone)
        self.live = live
        let profile = ProfileFeedClient(client: service.client, baseURL: settings.profileURL)
        feed = FeedFollower(live: live, feed: profile, timeZone: timeZone, pollInterval: settings.feedPollInterval,
                            pageSize: settings.feedPageSize, logger: service.logger)
        service.add(task: feed)
        // Until the snapshot is in, every answer would be wrong: not ready.
        service.addReadinessCheck("index") {
            guard live.isReady else { throw APIError.unavailable("the customer index is still loading", code: "index_loading") }
        }
        service.setHealthDetails {
            let status = live.feedStatus
            var details: [String: JSONValue] = ["indexReady": .bool(status.ready), "indexCustomers": .number(Double(status.customers))]
            if let lag = status.lagSeconds { details["feedLagSeconds"] = .number(lag) }
            return details
        }
        try Self.registerMetrics(service.metrics, live: live)

        let database = service.database
        let segments = SegmentStore(database: database)
        let lists = ListStore(database: database)
        let audiences = Audiences(live: live, evaluator: RuleEvaluator(timeZone: timeZone), segments: segments, lists: lists,
                                  catalog: ProfileCatalog(client: service.client, baseURL: settings.profileURL))
        let segmentService = SegmentService(audiences: audiences, store: segments)
        // Creates replay their first answer when repeated with the same Idempotency-Key (DESIGN.md §3).
        // A snapshot of millions of members may take minutes to freeze: a retry must not take over.
        let idempotency = IdempotencyStore(database: database, claimTimeout: 900)
        let router = service.router
        SegmentRoutes.register(on: router, service: segmentService, idempotency: idempotency)
        SegmentMemberRoutes.register(on: router, service: segmentService)
        PortraitRoutes.register(on: router, builder: PortraitBuilder(audiences: audiences))
        ListRoutes.register(on: router, uploads: ListUploads(live: live, store: lists), idempotency: idempotency)
        IndexStatusRoutes.register(on: router, live: live)

        // wiring: entry/exit events, only when someone listens.
        if !settings.eventSubscribers.isEmpty {
            let schema = settings.service.databaseSchema
            let transitions = MembershipTransitions(database: database, outbox: try Outbox(schema: schema),
                                                    destinations: settings.eventSubscribers.keys.sorted())
            service.add(task: MembershipWatcher(live: live, audiences: audiences, transitions: transitions, logger: service.logger))
            try service.addOutboxRelay(subscribers: settings.eventSubscribers)
        }
    }

    public func start() throws { try service.start() }
    public func stop() { service.stop() }
    public func runUntilTerminated() -> Never { service.runUntilTerminated() }

    private static func registerMetrics(_ metrics: MetricsRegistry, live: LiveIndex) throws {
        try metrics.gauge("segment_index_customers", help: "Customers in this replica's index.") { Double(live.feedStatus.customers) }
        try metrics.gauge("segment_index_bytes", help: "Memory held by the index, roughly.") { Double(live.feedStatus.bytes) }
        try metrics.gauge("segment_feed_lag_seconds",
                          help: "Seconds since the index last read the profile's change feed to its end (-1 before the snapshot).") {
            live.feedStatus.lagSeconds ?? -1
        }
        try metrics.gauge("segment_feed_applied_documents", help: "Customer documents applied since start.") {
            Double(live.feedStatus.appliedDocuments)
        }
    }
}

/// The segment schema's migrations (SQL files shipped as a resource next to the executable), then
/// ServiceKit's data-plane tables (outbox, inbox, jobs, idempotency keys).
public enum SegmentMigrations {
    public static func all() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw APIError.internalError("the segment service's Migrations resource is missing next to the executable")
        }
        return try Migration.load(directory: directory) + DataPlaneSchema.migrations
    }
}
