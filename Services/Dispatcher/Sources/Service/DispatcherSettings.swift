import Foundation
import ServiceKit

/// The dispatcher's settings: the common ones plus where the profile service listens, the public base
/// of tracked links, and how delivery workers run.
public struct DispatcherSettings: Sendable {
    public var service: ServiceSettings
    /// The profile service (`LATTICE_SERVICE_PROFILE`): consents, opt-out, risk tolerance, clicks.
    public var profileURL: String
    /// Where customers open tracked links (`LATTICE_PUBLIC_URL`, the gateway's public address): a link is
    /// `<publicURL>/t/<code>`.
    public var publicURL: String
    /// Delivery threads of this replica (`LATTICE_DISPATCH_WORKERS`, default 8: they wait on providers
    /// most of the time, and take a database connection only per statement).
    public var deliveryThreads: Int
    /// Messages a delivery thread claims at once (`LATTICE_DISPATCH_BATCH`).
    public var deliveryBatch: Int
    /// How often idle delivery threads look for due messages (`LATTICE_DISPATCH_POLL_INTERVAL`); a send
    /// wakes this replica's threads at once.
    public var deliveryPollInterval: TimeInterval
    /// Calls to a provider before a message fails on timeouts and 5xx (`LATTICE_DISPATCH_MAX_ATTEMPTS`).
    public var maxProviderAttempts: Int
    /// First retry delay, doubled per retry (`LATTICE_DISPATCH_RETRY_BASE`).
    public var retryBase: TimeInterval
    /// How long a claimed message stays with a replica that stopped answering (`LATTICE_DISPATCH_LEASE`).
    public var lease: TimeInterval
    /// Provider calls in flight at once, over all delivery threads (`LATTICE_DISPATCH_PROVIDER_CONCURRENCY`).
    public var providerConcurrency: Int
    /// Who hears of sent, delivered, failed, clicked and suppressed messages (`LATTICE_EVENT_SUBSCRIBERS`,
    /// `name=url,…`; analytics).
    public var eventSubscribers: [String: String]

    public init(config: ConfigReader) throws(ConfigError) {
        service = try ServiceSettings(service: "dispatcher", config: config, defaultPort: 8084, defaultSchema: "dispatch")
        profileURL = Self.trimmed(try config.value("LATTICE_SERVICE_PROFILE", .url(schemes: ["http", "https"]),
                                                   default: URL(string: "http://127.0.0.1:8081")!).absoluteString)
        publicURL = Self.trimmed(try config.value("LATTICE_PUBLIC_URL", .url(schemes: ["http", "https"]),
                                                  default: URL(string: "http://127.0.0.1:8080")!).absoluteString)
        deliveryThreads = try config.int("LATTICE_DISPATCH_WORKERS", in: 1...64, default: 8)
        deliveryBatch = try config.int("LATTICE_DISPATCH_BATCH", in: 1...1_000, default: 100)
        deliveryPollInterval = try config.duration("LATTICE_DISPATCH_POLL_INTERVAL", in: 0.01...60, default: 0.5)
        maxProviderAttempts = try config.int("LATTICE_DISPATCH_MAX_ATTEMPTS", in: 1...50, default: 5)
        retryBase = try config.duration("LATTICE_DISPATCH_RETRY_BASE", in: 0.01...600, default: 2)
        lease = try config.duration("LATTICE_DISPATCH_LEASE", in: 1...3_600, default: 60)
        providerConcurrency = try config.int("LATTICE_DISPATCH_PROVIDER_CONCURRENCY", in: 1...2_048, default: 256)
        eventSubscribers = try config.eventSubscribers()
    }

    static func trimmed(_ url: String) -> String {
        var s = url
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
