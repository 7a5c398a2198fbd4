import Foundation
import ServiceKit

/// The segment service's settings: the common ones plus where the profile service (the change feed
/// and the catalogs) listens, how the feed is followed, and who receives segment entry/exit events.
public struct SegmentSettings: Sendable {
    public var service: ServiceSettings
    /// The profile service (`LATTICE_SERVICE_PROFILE`): change feed, snapshot, attribute and tag catalogs.
    public var profileURL: String
    /// How long the feed follower waits after reading the feed to its end (`LATTICE_FEED_POLL_INTERVAL`).
    /// The index lags the profile by at most about this much plus one page's work.
    public var feedPollInterval: TimeInterval
    /// Changes read per feed request (`LATTICE_FEED_PAGE_SIZE`, the profile accepts up to 5,000).
    public var feedPageSize: Int
    /// Subscribers of `segment_enter`/`segment_exit` events, `name=url,…` (`LATTICE_EVENT_SUBSCRIBERS`).
    /// Empty: no entry/exit events are written.
    public var eventSubscribers: [String: String]

    public init(config: ConfigReader) throws(ConfigError) {
        service = try ServiceSettings(service: "segment", config: config, defaultPort: 8082)
        var profile = try config.value("LATTICE_SERVICE_PROFILE", .url(schemes: ["http", "https"]),
                                       default: URL(string: "http://127.0.0.1:8081")!).absoluteString
        while profile.hasSuffix("/") { profile.removeLast() }
        profileURL = profile
        feedPollInterval = try config.duration("LATTICE_FEED_POLL_INTERVAL", in: 0.01...60, default: 0.25)
        feedPageSize = try config.int("LATTICE_FEED_PAGE_SIZE", in: 1...5_000, default: 1_000)
        eventSubscribers = try config.eventSubscribers()
    }
}
