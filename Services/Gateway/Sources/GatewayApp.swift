import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The gateway assembled: identity, authentication, authorization, audit, rate limits, the proxy to
/// every service, the OpenAPI document and aggregated health.
///
/// Order on every request: request id → access log → metrics → error mapping → the gateway's door
/// (IP limit, token, route right, token limit, audit) → the gateway's own endpoints or the proxy.
public final class GatewayApp: Sendable {
    public let service: Service
    public let settings: GatewaySettings
    public let identity: IdentityStore
    public let audit: AuditLog

    public init(settings: GatewaySettings, logSink: any LogSink = StandardOutputLogSink.shared) throws {
        self.settings = settings
        service = try Service(name: "gateway", settings: settings.service, migrations: try GatewayMigrations.all(),
                              exposure: .publicGateway, logSink: logSink)
        identity = IdentityStore(database: service.database, settings: settings)
        audit = try AuditLog(database: service.database, logger: service.logger, metrics: service.metrics,
                             batchSize: settings.auditBatchSize)

        let router = service.router
        router.add(middleware: GatewayAuthMiddleware(
            authenticator: identity, audit: audit,
            ipLimiter: RateLimiter(ratePerSecond: settings.ipRatePerSecond, burst: settings.ipBurst),
            tokenLimiter: RateLimiter(ratePerSecond: settings.tokenRatePerSecond, burst: settings.tokenBurst)))
        IdentityRoutes.register(on: router, store: identity, audit: audit)
        AuditRoutes.register(on: router, log: audit)
        OpenAPIRoute.register(on: router)
        InternalRoutes.register(on: router, store: identity, internalSecret: settings.service.internalSecret)

        let table = UpstreamTable(services: settings.upstreams)
        ProxyRoutes.register(on: router, proxy: Proxy(table: table, internalSecret: settings.service.internalSecret,
                                                      connectTimeout: settings.upstreamConnectTimeout,
                                                      timeout: settings.upstreamTimeout))
        let health = UpstreamHealthMonitor(table: table)
        service.setHealthDetails { health.report }
        service.add(task: IdentityBootstrap(store: identity, settings: settings, logger: service.logger))
        service.add(task: health)
    }

    public func start() throws { try service.start() }
    public func stop() { service.stop() }
    public func runUntilTerminated() -> Never { service.runUntilTerminated() }
}

/// The identity schema's migrations: SQL files shipped as a resource bundle next to the executable,
/// then ServiceKit's data-plane tables.
public enum GatewayMigrations {
    public static func all() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw APIError.internalError("the gateway's Migrations resource is missing next to the executable")
        }
        return try Migration.load(directory: directory) + DataPlaneSchema.migrations
    }
}
