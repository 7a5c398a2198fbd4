import Foundation

/// One occurrence of an event for a customer.
public struct CustomerEvent: Sendable, Hashable, Codable {
    public var name: String
    public var occurredAt: Date
    public var properties: [String: JSONValue]

    public init(name: String, occurredAt: Date, properties: [String: JSONValue] = [:]) {
        self.name = name
        self.occurredAt = occurredAt
        self.properties = properties
    }
}

/// Everything about one customer held in memory: the facts a canvas has at hand, and the fixture of
/// tests. Event counts are over `events` only, so give it every event the rules' windows reach.
public struct CustomerSnapshot: CustomerFacts, Sendable, Hashable {
    public var attributes: [String: JSONValue]
    /// Tag code → the tag's values (`[]` for a tag without values).
    public var tags: [String: [String]]
    public var events: [CustomerEvent]
    public var segments: Set<String>
    public var lists: Set<String>

    public init(attributes: [String: JSONValue] = [:], tags: [String: [String]] = [:], events: [CustomerEvent] = [],
                segments: Set<String> = [], lists: Set<String> = []) {
        self.attributes = attributes
        self.tags = tags
        self.events = events
        self.segments = segments
        self.lists = lists
    }

    public func attribute(_ name: String) -> JSONValue? { attributes[name] }

    public func tagValues(_ code: String) -> [String]? { tags[code] }

    public func eventCount(name: String, matching filter: EventFilter?, since: Date?, until: Date) -> Int {
        var count = 0
        for event in events where event.name == name && event.occurredAt <= until {
            if let since, event.occurredAt < since { continue }
            if let filter, !filter.matches(event.properties) { continue }
            count += 1
        }
        return count
    }

    public func isMember(segment id: String) -> Bool { segments.contains(id) }

    public func isMember(list id: String) -> Bool { lists.contains(id) }
}
