import Foundation

/// How an `OutboxRelay` claims, delivers and retries. The defaults suit production; tests shorten
/// the timings.
public struct OutboxRelayConfiguration: Sendable {
    /// The service schema holding `outbox_events`.
    public var schema: String
    /// Destination name → the URL events for it are POSTed to. Only configured names are delivered to:
    /// the relay sends the internal credential, which must never reach a host from the database.
    public var subscribers: [String: String]
    /// Written into `lease_owner` while this relay holds rows.
    public var relayId: String
    /// Threads claiming and delivering in parallel (a slow subscriber then holds up only one).
    public var deliveryThreads: Int
    /// Rows one thread claims at a time.
    public var batchSize: Int
    /// Most events one POST carries (a batch to one destination; `OutboxEnvelope.maxBatchEvents` at most).
    public var eventsPerRequest: Int
    /// Most envelope bytes one POST carries, unless one event alone is larger; keep it under the
    /// receivers' body limit.
    public var maxRequestBytes: Int
    /// Longest sleep between looks for due rows when no NOTIFY arrives.
    public var pollInterval: TimeInterval
    /// How long a claim holds a row. A killed relay's rows are delivered by another after this; it
    /// must be at least twice `deliveryTimeout` (the relay gives back rows it cannot finish in time).
    public var lease: TimeInterval
    /// Total time allowed for one HTTP delivery.
    public var deliveryTimeout: TimeInterval
    /// Attempts before an event is dead-lettered (`status = 'dead'`).
    public var maxAttempts: Int
    /// Delay between failed attempts.
    public var backoff: RetryBackoff
    /// Whether to LISTEN for the outbox's NOTIFY (polling continues either way).
    public var listensForNotifications: Bool
    /// How often the backlog gauges are refreshed from the table.
    public var backlogRefreshInterval: TimeInterval

    public init(schema: String, subscribers: [String: String], relayId: String = InstanceName.make("outbox-relay"),
                deliveryThreads: Int = 2, batchSize: Int = 200, eventsPerRequest: Int = 100,
                maxRequestBytes: Int = 192 << 10, pollInterval: TimeInterval = 2,
                lease: TimeInterval = 60, deliveryTimeout: TimeInterval = 10, maxAttempts: Int = 25,
                backoff: RetryBackoff = RetryBackoff(base: 1, maximum: 600),
                listensForNotifications: Bool = true, backlogRefreshInterval: TimeInterval = 5) {
        self.schema = schema
        self.subscribers = subscribers
        self.relayId = relayId
        self.deliveryThreads = deliveryThreads
        self.batchSize = batchSize
        self.eventsPerRequest = eventsPerRequest
        self.maxRequestBytes = maxRequestBytes
        self.pollInterval = pollInterval
        self.lease = lease
        self.deliveryTimeout = deliveryTimeout
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.listensForNotifications = listensForNotifications
        self.backlogRefreshInterval = backlogRefreshInterval
    }

    /// Parses a subscriber list `name=url,name=url` (as kept in one environment variable).
    public static func parseSubscribers(_ text: String) throws(OutboxError) -> [String: String] {
        var result: [String: String] = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: true) {
            let entry = item.trimmingCharacters(in: .whitespaces)
            guard let equals = entry.firstIndex(of: "=") else {
                throw .invalidConfiguration("subscriber entry '\(entry.prefix(80))' must be name=url")
            }
            let name = String(entry[..<equals])
            let url = String(entry[entry.index(after: equals)...])
            guard result[name] == nil else { throw .invalidConfiguration("subscriber '\(name.prefix(80))' is listed twice") }
            result[name] = url
        }
        return result
    }

    /// Checks every value; the relay refuses to start with an unusable configuration.
    func validated() throws(OutboxError) -> OutboxRelayConfiguration {
        func require(_ ok: Bool, _ why: String) throws(OutboxError) {
            if !ok { throw .invalidConfiguration(why) }
        }
        try require(DataPlaneText.isName(relayId, maxLength: 200, allowsAt: true), "relayId must be 1…200 characters of A-Z a-z 0-9 _ . : - @")
        try require((1...64).contains(deliveryThreads), "deliveryThreads must be 1…64")
        try require((1...1_000).contains(batchSize), "batchSize must be 1…1000")
        try require((1...OutboxEnvelope.maxBatchEvents).contains(eventsPerRequest), "eventsPerRequest must be 1…\(OutboxEnvelope.maxBatchEvents)")
        try require((1_024...(64 << 20)).contains(maxRequestBytes), "maxRequestBytes must be 1 KiB…64 MiB")
        try require(pollInterval >= 0.01 && pollInterval <= 3_600, "pollInterval must be 10 ms…1 h")
        try require(deliveryTimeout >= 0.01 && deliveryTimeout <= 600, "deliveryTimeout must be 10 ms…10 min")
        try require(lease >= 2 * deliveryTimeout && lease <= 86_400, "lease must be at least twice deliveryTimeout and at most 1 day")
        try require((1...1_000).contains(maxAttempts), "maxAttempts must be 1…1000")
        try require(backlogRefreshInterval >= 0.05, "backlogRefreshInterval must be at least 50 ms")
        for (name, url) in subscribers {
            try require(DataPlaneText.isName(name), "subscriber name '\(name.prefix(80))' must be 1…100 characters of A-Z a-z 0-9 _ . : -")
            let lower = url.lowercased()
            try require((lower.hasPrefix("http://") || lower.hasPrefix("https://")) && url.count > 8
                            && url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
                        "subscriber '\(name)' needs an absolute http(s) URL")
        }
        return self
    }
}

extension ConfigReader {
    /// The service's event subscribers, `LATTICE_EVENT_SUBSCRIBERS` = `name=url,…` (empty: none): the
    /// outbox destinations its events are written for and the relay delivers to.
    public func eventSubscribers() throws(ConfigError) -> [String: String] {
        try value("LATTICE_EVENT_SUBSCRIBERS", ConfigParser<[String: String]>(
            expected: "name=url pairs separated by commas", placeholder: { [:] }) {
                try? OutboxRelayConfiguration.parseSubscribers($0)
            }, default: [:])
    }
}
