import Foundation
import ServiceKit

/// The rewards service's settings: the common ones plus stock sharding, the expiry schedule and who
/// hears of grants.
public struct RewardsSettings: Sendable {
    public var service: ServiceSettings
    /// Stock rows per new reward (`LATTICE_REWARDS_STOCK_SHARDS`): more shards, fewer grants queueing on one row.
    public var stockShards: Int
    /// The most concurrent common grants of one reward granted in one statement and one commit
    /// (`LATTICE_REWARDS_GRANT_BATCH`); 1 grants each on its own.
    public var grantBatch: Int
    /// How often the expiry tick runs (`LATTICE_REWARDS_EXPIRY_INTERVAL`): grants and points lots past their
    /// validity, and external fetches to retry.
    public var expiryInterval: TimeInterval
    /// Timeout of one call to an external reward's provider (`LATTICE_REWARDS_PROVIDER_TIMEOUT`).
    public var providerTimeout: TimeInterval
    /// Attempts at an external reward's provider before a grant it keeps failing (5xx, timeouts) is given
    /// up and its unit returned (`LATTICE_REWARDS_EXTERNAL_ATTEMPTS`); a 4xx is final at once.
    public var externalAttempts: Int
    /// The pause after a first failed external fetch, doubled after each next one
    /// (`LATTICE_REWARDS_EXTERNAL_RETRY_INTERVAL`); also how often the retry tick runs.
    public var externalRetryInterval: TimeInterval
    /// Whether outbox writes NOTIFY the relay (`LATTICE_REWARDS_OUTBOX_NOTIFY`). NOTIFY takes a global lock at
    /// commit; at thousands of grants a second turn it off and let the relay poll.
    public var outboxNotifies: Bool
    /// Who hears of grants, redemptions, expiry, draws and points (`LATTICE_EVENT_SUBSCRIBERS`, `name=url,…`).
    public var eventSubscribers: [String: String]

    public init(config: ConfigReader) throws(ConfigError) {
        service = try ServiceSettings(service: "rewards", config: config, defaultPort: 8085, defaultSchema: "rewards")
        stockShards = try config.int("LATTICE_REWARDS_STOCK_SHARDS", in: 1...256, default: 16)
        grantBatch = try config.int("LATTICE_REWARDS_GRANT_BATCH", in: 1...500, default: 64)
        expiryInterval = try config.duration("LATTICE_REWARDS_EXPIRY_INTERVAL", in: 0.05...86_400, default: 60)
        providerTimeout = try config.duration("LATTICE_REWARDS_PROVIDER_TIMEOUT", in: 0.1...60, default: 5)
        externalAttempts = try config.int("LATTICE_REWARDS_EXTERNAL_ATTEMPTS", in: 1...100, default: 8)
        externalRetryInterval = try config.duration("LATTICE_REWARDS_EXTERNAL_RETRY_INTERVAL", in: 0.05...3_600, default: 5)
        outboxNotifies = try config.bool("LATTICE_REWARDS_OUTBOX_NOTIFY", default: true)
        eventSubscribers = try config.eventSubscribers()
    }
}
