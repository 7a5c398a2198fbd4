import Foundation
import ServiceKit

/// The rewards service's settings: the common ones plus stock sharding, the expiry schedule and who
/// hears of grants.
public struct RewardsSettings: Sendable {
    public var service: ServiceSettings
    /// Stock rows per new reward (`LATTICE_REWARDS_STOCK_SHARDS`): more shards, fewer grants queueing on one row.
    public var stockShards: Int
    /// How often the expiry tick runs (`LATTICE_REWARDS_EXPIRY_INTERVAL`): grants and points lots past their
    /// validity, and external fetches to retry.
    public var expiryInterval: TimeInterval
    /// Timeout of one call to an external reward's provider (`LATTICE_REWARDS_PROVIDER_TIMEOUT`).
    public var providerTimeout: TimeInterval
    /// Whether outbox writes NOTIFY the relay (`LATTICE_REWARDS_OUTBOX_NOTIFY`). NOTIFY takes a global lock at
    /// commit; at thousands of grants a second turn it off and let the relay poll.
    public var outboxNotifies: Bool
    /// Who hears of grants, redemptions, expiry, draws and points (`LATTICE_EVENT_SUBSCRIBERS`, `name=url,…`).
    public var eventSubscribers: [String: String]

    public init(config: ConfigReader) throws(ConfigError) {
        service = try ServiceSettings(service: "rewards", config: config, defaultPort: 8085, defaultSchema: "rewards")
        stockShards = try config.int("LATTICE_REWARDS_STOCK_SHARDS", in: 1...256, default: 16)
        expiryInterval = try config.duration("LATTICE_REWARDS_EXPIRY_INTERVAL", in: 0.05...86_400, default: 60)
        providerTimeout = try config.duration("LATTICE_REWARDS_PROVIDER_TIMEOUT", in: 0.1...60, default: 5)
        outboxNotifies = try config.bool("LATTICE_REWARDS_OUTBOX_NOTIFY", default: true)
        eventSubscribers = try config.eventSubscribers()
    }
}
