import Foundation
import ServiceKit

/// The canvas service's settings: the common ones plus where its peers listen, how the journey engine
/// runs, and who receives journey events.
public struct CanvasSettings: Sendable {
    public var service: ServiceSettings
    /// `LATTICE_SERVICE_PROFILE`, `_SEGMENT`, `_DISPATCHER`, `_REWARDS`.
    public var profileURL: String
    public var segmentURL: String
    public var dispatcherURL: String
    public var rewardsURL: String
    /// Engine threads of this replica (`LATTICE_CANVAS_WORKERS`).
    public var workers: Int
    /// Journeys a thread claims at once (`LATTICE_CANVAS_BATCH`).
    public var batch: Int
    /// How long a claim stays with a replica that stopped answering (`LATTICE_CANVAS_LEASE`).
    public var lease: TimeInterval
    /// How often idle threads look for due journeys and waves (`LATTICE_CANVAS_POLL_INTERVAL`); an entry wakes them at once.
    public var pollInterval: TimeInterval
    /// Subscribers of journey events, `name=url,…` (`LATTICE_EVENT_SUBSCRIBERS`); empty: none written.
    public var eventSubscribers: [String: String]
    /// Hosts a webhook node may call although they resolve inside the bank (loopback, private,
    /// link-local…), comma-separated (`LATTICE_CANVAS_WEBHOOK_ALLOW`); empty: public addresses only.
    public var webhookAllowedHosts: [String]
    /// Claims of a journey on an unreachable or failing webhook before the node fails and the journey
    /// goes on (`LATTICE_CANVAS_WEBHOOK_ATTEMPTS`); the backoff doubles from 2 s up to a minute.
    public var webhookAttempts: Int

    public init(config: ConfigReader) throws(ConfigError) {
        service = try ServiceSettings(service: "canvas", config: config, defaultPort: 8083)
        func peer(_ name: String, _ port: Int) throws(ConfigError) -> String {
            var s = try config.value(name, .url(schemes: ["http", "https"]), default: URL(string: "http://127.0.0.1:\(port)")!).absoluteString
            while s.hasSuffix("/") { s.removeLast() }
            return s
        }
        profileURL = try peer("LATTICE_SERVICE_PROFILE", 8081)
        segmentURL = try peer("LATTICE_SERVICE_SEGMENT", 8082)
        dispatcherURL = try peer("LATTICE_SERVICE_DISPATCHER", 8084)
        rewardsURL = try peer("LATTICE_SERVICE_REWARDS", 8085)
        workers = try config.int("LATTICE_CANVAS_WORKERS", in: 1...64, default: 4)
        batch = try config.int("LATTICE_CANVAS_BATCH", in: 1...5_000, default: 500)
        lease = try config.duration("LATTICE_CANVAS_LEASE", in: 1...3_600, default: 60)
        pollInterval = try config.duration("LATTICE_CANVAS_POLL_INTERVAL", in: 0.01...60, default: 0.5)
        eventSubscribers = try config.eventSubscribers()
        webhookAllowedHosts = try config.list("LATTICE_CANVAS_WEBHOOK_ALLOW", default: [])
        webhookAttempts = try config.int("LATTICE_CANVAS_WEBHOOK_ATTEMPTS", in: 1...50, default: 10)
    }
}
