import Contracts
import Foundation
import HTTP

/// The services a canvas works through, called on their own ports with the internal credential
/// (the service's `HTTPClient`) and an identity: the caller's when a user is saving, the canvas's
/// system identity (`svc:canvas` in the canvas's unit) when a journey is moving.
public struct Peers: Sendable {
    let client: HTTPClient
    /// For URLs outside the bank (webhooks): without the internal credential.
    let outside: HTTPClient
    let segmentURL: String
    let dispatcherURL: String
    let rewardsURL: String
    let profileURL: String
    /// What a webhook may call (no address inside the bank unless allowed).
    let webhookGuard: WebhookGuard

    init(client: HTTPClient, outside: HTTPClient, webhookGuard: WebhookGuard, segmentURL: String, dispatcherURL: String,
         rewardsURL: String, profileURL: String) {
        self.client = client
        self.outside = outside
        self.webhookGuard = webhookGuard
        self.segmentURL = segmentURL
        self.dispatcherURL = dispatcherURL
        self.rewardsURL = rewardsURL
        self.profileURL = profileURL
    }

    /// The identity a journey acts with: the canvas's own unit, edit rights only.
    static func system(orgPath: String, orgId: String) -> CallerIdentity {
        CallerIdentity(userId: "svc:canvas", orgId: orgId, orgPath: orgPath, roles: [], rights: ["view", "edit"])
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "_.-"))) ?? s
    }

    /// A resource read for validation: its JSON, nil when the service says 404, 503 when it cannot answer.
    func lookup(_ base: String, _ path: String, service: String, caller: CallerIdentity) throws -> JSONValue? {
        do {
            let r = try client.sendJSON(method: "GET", url: base + path, body: nil, context: .init(identity: caller), timeoutMs: 5_000)
            if r.status == 404 { return nil }
            guard r.status == 200 else {
                throw APIError.unavailable("the \(service) service answered \(r.status) checking \(path)", code: "\(service)_unavailable")
            }
            return try r.decode(JSONValue.self)
        } catch let e as APIError {
            throw e
        } catch {
            throw APIError.unavailable("the \(service) service cannot be reached to check the canvas's references (\(error)); try again",
                                       code: "\(service)_unavailable")
        }
    }

    // MARK: segment

    struct MemberPage: Decodable {
        struct Member: Decodable { var customerId: String }
        var items: [Member]
        var nextCursor: String?
    }

    /// One page of a segment's members (at most 1,000), as the canvas's unit sees them.
    func members(segment: String, after cursor: String?, as identity: CallerIdentity) throws -> MemberPage {
        var url = segmentURL + "/api/v1/segments/\(Self.escape(segment))/members?limit=1000"
        if let cursor { url += "&cursor=" + Self.escape(cursor) }
        return try client.get(url, as: MemberPage.self, context: .init(identity: identity), timeoutMs: 60_000)
    }

    // MARK: dispatcher

    /// What the canvas reads of the dispatcher's batch answer. Only the fields it uses are decoded:
    /// decoding each item's whole message as a `JSONValue` tree was two thirds of the canvas's CPU in
    /// a 1M-customer batch.
    struct BatchAnswer: Decodable {
        struct Item: Decodable {
            var index: Int
            var message: Message?
            var error: Refusal?
        }
        /// An accepted message: `queued`, `suppressed` …
        struct Message: Decodable { var status: String? }
        /// A refused one: its error code.
        struct Refusal: Decodable { var code: String? }
        var items: [Item]
    }

    /// Sends up to 1,000 messages at once; each item's answer (message or refusal) by index. Throws on a
    /// transport failure or a 5xx: the caller retries the whole batch, and keys make that harmless.
    func send(_ messages: [JSONValue], as identity: CallerIdentity) throws -> BatchAnswer {
        try client.post(dispatcherURL + "/api/v1/messages", body: JSONValue.object(["messages": .array(messages)]), as: BatchAnswer.self,
                        context: .init(identity: identity), timeoutMs: 60_000)
    }

    // MARK: rewards

    enum GrantOutcome { case granted, refused(String) }

    /// A grant keyed by journey step: 201/200 granted (or replayed), 409 a final business answer.
    func grant(reward: String, customerId: String, canvasId: String, nodeId: String, key: String,
               as identity: CallerIdentity) throws -> GrantOutcome {
        let body = JSONValue.object(["customerId": .string(customerId), "canvasId": .string(canvasId), "nodeId": .string(nodeId)])
        var headers = HTTPHeaders()
        headers.add("Idempotency-Key", key)
        let r = try client.sendJSON(method: "POST", url: rewardsURL + "/api/v1/rewards/\(Self.escape(reward))/grants",
                                    body: try client.encode(body), extraHeaders: headers, context: .init(identity: identity),
                                    timeoutMs: 10_000, idempotent: true)
        switch r.status {
        case 200, 201: return .granted
        case 409, 422, 404: return .refused((try? r.decode(JSONValue.self))?["error"]?["code"]?.stringValue ?? "refused_\(r.status)")
        default: throw APIError.unavailable("the rewards service answered \(r.status)", code: "rewards_unavailable")
        }
    }

    // MARK: profile

    private struct FactsAnswer: Decodable { var items: [CustomerFactsDocument] }

    /// The current facts (attributes, tags, event aggregates) of up to 1,000 customers.
    func facts(_ ids: [String]) throws -> [String: CustomerFactsDocument] {
        guard !ids.isEmpty else { return [:] }
        let answer = try client.post(profileURL + "/internal/v1/customers:facts", body: ["ids": ids], as: FactsAnswer.self, timeoutMs: 30_000)
        var out: [String: CustomerFactsDocument] = [:]
        for d in answer.items { out[d.customerId] = d }
        return out
    }

    /// Adds (or removes) a manual tag for one customer.
    func tag(_ code: String, value: String?, remove: Bool, customerId: String, as identity: CallerIdentity) throws {
        var body: [String: JSONValue] = ["customerIds": .array([.string(customerId)])]
        if remove { body["remove"] = .bool(true) } else if let value { body["value"] = .string(value) }
        let r = try client.sendJSON(method: "POST", url: profileURL + "/api/v1/tags/\(Self.escape(code))/members", body: try client.encode(JSONValue.object(body)),
                                    context: .init(identity: identity), timeoutMs: 10_000, idempotent: true)
        guard (200..<300).contains(r.status) || (400..<500).contains(r.status) else {
            throw APIError.unavailable("the profile service answered \(r.status) tagging", code: "profile_unavailable")
        }
    }

    enum WebhookOutcome: Equatable {
        /// The URL answered this status (2xx–4xx; a 4xx is final).
        case answered(Int)
        /// The guard refused to call it; never retried.
        case refused(String)
        /// Unreachable or failing (5xx) through every attempt the engine gives it.
        case failed(String)
    }

    /// Posts a journey step to an outside URL with the step's idempotency key, once `webhookGuard` lets
    /// it; 4xx is final, 5xx and DNS failing for now are retried (the key makes that harmless).
    func webhook(_ url: String, payload: JSONValue, key: String) throws -> WebhookOutcome {
        let pinned: [String]
        switch webhookGuard.check(url) {
        case .refused(let why): return .refused(why)
        case .retryLater(let why): throw APIError.unavailable("the webhook cannot be called now: \(why)", code: "webhook_unavailable")
        case .allowed(let addresses): pinned = addresses
        }
        var headers = HTTPHeaders()
        headers.add("Idempotency-Key", key)
        let r = try outside.sendJSON(method: "POST", url: url, body: try outside.encode(payload), extraHeaders: headers, timeoutMs: 10_000,
                                    idempotent: true, pinnedAddresses: pinned.isEmpty ? nil : pinned)
        if r.status >= 500 { throw APIError.unavailable("the webhook answered \(r.status)", code: "webhook_unavailable") }
        return .answered(r.status)
    }
}
