import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The gateway assembled: identity, authentication, authorization, audit, rate limits, the proxy to
/// every service, the OpenAPI document and aggregated health.
public final class GatewayApp: Sendable {
    public let service: Service
    public let settings: GatewaySettings

    public init(settings: GatewaySettings, logSink: any LogSink = StandardOutputLogSink.shared) throws {
        self.settings = settings
        service = try Service(name: "gateway", settings: settings.service, migrations: try GatewayMigrations.all(),
                              exposure: .publicGateway, logSink: logSink)
    }

    public func start() throws { try service.start() }
    public func stop() { service.stop() }
    public func runUntilTerminated() -> Never { service.runUntilTerminated() }
}

/// The identity schema's migrations: SQL files shipped as a resource bundle next to the executable.
public enum GatewayMigrations {
    public static func all() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw APIError.internalError("the gateway's Migrations resource is missing next to the executable")
        }
        return try Migration.load(directory: directory) + DataPlaneSchema.migrations
    }
}
