import Foundation

/// Everything rules can ask about one customer, as the profile service's change feed and snapshot hand
/// it to the segment service: attributes (built-in and custom, unmasked: internal only), tags, and event
/// aggregates (daily counts of the last `dailyWindowDays` days, first/last occurrence, total). Read it
/// with `AggregateFacts`, the one definition of what aggregates answer to a rule.
public struct CustomerFactsDocument: Sendable, Codable, Equatable {
    public struct EventAggregate: Sendable, Codable, Equatable {
        public var total: Int64
        public var firstAt: Date
        public var lastAt: Date
        /// `YYYY-MM-DD` (bank time zone) → count.
        public var daily: [String: Int]

        public init(total: Int64, firstAt: Date, lastAt: Date, daily: [String: Int] = [:]) {
            self.total = total
            self.firstAt = firstAt
            self.lastAt = lastAt
            self.daily = daily
        }
    }

    public var customerId: String
    /// False when the customer no longer exists (the segment drops it).
    public var exists: Bool
    public var orgPath: String?
    public var attributes: [String: JSONValue]
    /// Tag code → value (`""` for a tag without a value).
    public var tags: [String: String]
    public var events: [String: EventAggregate]

    /// Daily counts older than this are left out of the document (rules look back at most this far
    /// through aggregates; older windows use first/last/total).
    public static let dailyWindowDays = 400

    public init(customerId: String, exists: Bool, orgPath: String?, attributes: [String: JSONValue] = [:],
                tags: [String: String] = [:], events: [String: EventAggregate] = [:]) {
        self.customerId = customerId
        self.exists = exists
        self.orgPath = orgPath
        self.attributes = attributes
        self.tags = tags
        self.events = events
    }
}
