import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The 360° view of `GET /api/v1/customers/{id}`: the profile's own data (attributes, consents, tags,
/// lifecycle stage, recent events) and what other services hold about the customer (journeys,
/// messages, rewards), gathered in parallel with a short deadline. A service that is down or slow
/// does not fail the view: it is named in `unavailable` and its part is null.
public struct CustomerViewAssembler: Sendable {
    let database: PostgresPool
    let client: HTTPClient
    /// Service name → base URL, for the remote parts.
    let sources: [String: URL]
    /// How long the view waits for the other services.
    let deadline: TimeInterval

    /// The remote parts: (field in the view, service, internal path under the service).
    static let remoteParts: [(field: String, service: String, path: String)] = [
        ("journeys", "canvas", "/internal/v1/customers/{id}/journeys"),
        ("messages", "dispatcher", "/internal/v1/customers/{id}/messages"),
        ("rewards", "rewards", "/internal/v1/customers/{id}/rewards"),
    ]
    static let recentEventLimit = 20

    public init(database: PostgresPool, client: HTTPClient, sources: [String: URL], deadline: TimeInterval = 1.5) {
        self.database = database
        self.client = client
        self.sources = sources
        self.deadline = deadline
    }

    public func view(of customer: Customer, caller: CallerIdentity, requestId: String) throws -> CustomerView {
        let remote = gatherRemote(customerId: customer.id, caller: caller, requestId: requestId)
        let tags = try database.query("""
            SELECT tag_code, value, source, set_at FROM customer_tags WHERE customer_id = $1 ORDER BY tag_code
            """, customer.id).map { row in
            CustomerView.TagValue(code: try row.decode("tag_code"), value: try row.decode("value"),
                                  source: try row.decode("source"), setAt: try row.decode("set_at"))
        }
        let events = try database.query("""
            SELECT event_id, name, occurred_at, properties::text AS properties FROM events
             WHERE customer_id = $1 ORDER BY occurred_at DESC LIMIT $2
            """, customer.id, Self.recentEventLimit).map { row in
            CustomerView.RecentEvent(eventId: try row.decode("event_id"), name: try row.decode("name"),
                                     occurredAt: try row.decode("occurred_at"),
                                     properties: try JSONCoding.decoder().decode([String: JSONValue].self,
                                                                                  from: Data(try row.decode("properties", as: String.self).utf8)))
        }
        return CustomerView(customer: customer, tags: tags, lifecycle: tags.first { $0.code == "lifecycle" }?.value,
                            recentEvents: events, journeys: remote.parts["journeys"] ?? nil,
                            messages: remote.parts["messages"] ?? nil, rewards: remote.parts["rewards"] ?? nil,
                            unavailable: remote.unavailable)
    }

    /// Calls every remote part at once and waits at most `deadline` for all of them.
    private func gatherRemote(customerId: String, caller: CallerIdentity, requestId: String)
        -> (parts: [String: JSONValue?], unavailable: [String]) {
        final class Collected: @unchecked Sendable {   // Thread-safety: guarded by `lock`.
            let lock = NSLock()
            var parts: [String: JSONValue] = [:]
        }
        let collected = Collected()
        let group = DispatchGroup()
        let call = HTTPClient.CallContext(requestId: requestId, identity: caller)
        let escaped = customerId.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? customerId
        for part in Self.remoteParts {
            guard let base = sources[part.service] else { continue }
            var request = HTTPClientRequest(method: "GET", url: base.absoluteString.trimmingSuffix("/")
                                            + part.path.replacingOccurrences(of: "{id}", with: escaped))
            request.timeoutMs = Int(deadline * 1000)
            request.connectTimeoutMs = 300
            group.enter()
            client.send(request, context: call) { result in
                if case .success(let response) = result, response.status == 200,
                   let value = try? JSONCoding.decoder().decode(JSONValue.self, from: Data(response.body)) {
                    collected.lock.lock()
                    collected.parts[part.field] = value
                    collected.lock.unlock()
                }
                group.leave()
            }
        }
        _ = group.wait(timeout: .now() + deadline + 0.2)
        collected.lock.lock()
        defer { collected.lock.unlock() }
        let unavailable = Self.remoteParts.filter { collected.parts[$0.field] == nil }.map(\.service)
        return (collected.parts.mapValues { Optional($0) }, unavailable)
    }
}

/// The 360° view: the customer, its tags and lifecycle stage, recent events, and the parts other
/// services hold (null when `unavailable` names their service).
public struct CustomerView: Sendable, Encodable {
    public struct TagValue: Sendable, Codable, Equatable {
        public var code: String
        public var value: String
        public var source: String
        public var setAt: Date
    }
    public struct RecentEvent: Sendable, Codable, Equatable {
        public var eventId: String
        public var name: String
        public var occurredAt: Date
        public var properties: [String: JSONValue]
    }

    public var customer: Customer
    public var tags: [TagValue]
    public var lifecycle: String?
    public var recentEvents: [RecentEvent]
    public var journeys: JSONValue?
    public var messages: JSONValue?
    public var rewards: JSONValue?
    public var unavailable: [String]

    /// The customer's fields at the top level, then the view's own.
    public func encode(to encoder: any Encoder) throws {
        try customer.encode(to: encoder)
        enum Keys: String, CodingKey { case tags, lifecycle, recentEvents, journeys, messages, rewards, unavailable }
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(tags, forKey: .tags)
        try c.encode(lifecycle, forKey: .lifecycle)
        try c.encode(recentEvents, forKey: .recentEvents)
        try c.encode(journeys, forKey: .journeys)
        try c.encode(messages, forKey: .messages)
        try c.encode(rewards, forKey: .rewards)
        try c.encode(unavailable, forKey: .unavailable)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var s = self
        while s.hasSuffix(suffix) { s.removeLast(suffix.count) }
        return s
    }
}
