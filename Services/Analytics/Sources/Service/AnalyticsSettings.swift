import Foundation
import ServiceKit

/// The analytics service's settings: the common ones plus how far ahead fact partitions are made and
/// how long received event ids are kept for de-duplication.
public struct AnalyticsSettings: Sendable {
    public var service: ServiceSettings
    /// Days of fact partitions made ahead of today (`LATTICE_ANALYTICS_PARTITION_DAYS_AHEAD`).
    public var partitionDaysAhead: Int
    /// How often the partition job runs (`LATTICE_ANALYTICS_MAINTENANCE_INTERVAL`).
    public var maintenanceInterval: TimeInterval
    /// How long an event id stays in the inbox (`LATTICE_ANALYTICS_INBOX_RETENTION`): a redelivery
    /// later than this would count again, so keep it well above the producers' relay retry schedule.
    public var inboxRetention: TimeInterval

    public init(config: ConfigReader) throws(ConfigError) {
        service = try ServiceSettings(service: "analytics", config: config, defaultPort: 8086, defaultSchema: "analytics")
        partitionDaysAhead = try config.int("LATTICE_ANALYTICS_PARTITION_DAYS_AHEAD", in: 1...90, default: 7)
        maintenanceInterval = try config.duration("LATTICE_ANALYTICS_MAINTENANCE_INTERVAL", in: 1...86_400, default: 3_600)
        inboxRetention = try config.duration("LATTICE_ANALYTICS_INBOX_RETENTION", in: 86_400...(366 * 86_400), default: 30 * 86_400)
    }
}
