import Foundation
import ServiceKit

/// The profile service's settings: the common ones plus who receives its events and where the
/// services of the 360° view listen.
public struct ProfileSettings: Sendable {
    public var service: ServiceSettings
    /// Subscribers of behaviour and lifecycle events, `name=url,…` (`LATTICE_EVENT_SUBSCRIBERS`), e.g.
    /// `canvas=http://127.0.0.1:8083/internal/v1/events`. Empty: events are stored and not published.
    public var eventSubscribers: [String: String]
    /// Services the 360° view gathers from (`LATTICE_SERVICE_CANVAS`, `…_DISPATCHER`, `…_REWARDS`).
    public var viewSources: [String: URL]
    /// Whether events of a name missing from the event-type catalog are accepted (`LATTICE_ACCEPT_UNKNOWN_EVENTS`).
    public var acceptsUnknownEvents: Bool
    /// The most single-event POSTs stored by one statement and commit (`LATTICE_SINGLE_EVENT_BATCH`;
    /// 1: each alone).
    public var singleEventBatch: Int
    /// How often rule tags with time windows are re-evaluated for every customer (`LATTICE_TAG_SWEEP_INTERVAL`).
    public var tagSweepInterval: TimeInterval

    public init(config: ConfigReader) throws(ConfigError) {
        service = try ServiceSettings(service: "profile", config: config, defaultPort: 8081)
        eventSubscribers = try config.eventSubscribers()
        var sources: [String: URL] = [:]
        for (name, port) in [("canvas", 8083), ("dispatcher", 8084), ("rewards", 8085)] {
            sources[name] = try config.value("LATTICE_SERVICE_\(name.uppercased())", .url(schemes: ["http", "https"]),
                                             default: URL(string: "http://127.0.0.1:\(port)")!)
        }
        viewSources = sources
        acceptsUnknownEvents = try config.bool("LATTICE_ACCEPT_UNKNOWN_EVENTS", default: true)
        singleEventBatch = try config.int("LATTICE_SINGLE_EVENT_BATCH", in: 1...1_000, default: 64)
        tagSweepInterval = try config.duration("LATTICE_TAG_SWEEP_INTERVAL", in: 60...86_400, default: 3_600)
    }
}
