import Contracts
import Foundation
import HTTP

/// Calls to a provider, with its credentials as a bearer token. A provider of batch size 1 gets one
/// message a request, its idempotency key as `Idempotency-Key` (a provider that sees it twice sends
/// once). A larger batch size is the provider's batch submission: `{"messages": [...]}`, each message
/// with its own `idempotencyKey`, answered `{"results": [{idempotencyKey, status, id?, error?}]}` with
/// status `accepted`, `rejected` (final) or `failed` (worth another attempt).
struct ProviderCall {
    /// How the attempt ended, for the retry decision.
    enum Result {
        case accepted(reference: String?)
        /// 4xx but 408/429, or a batch item the provider rejected: the request itself is wrong; retrying
        /// cannot help. The HTTP status or the provider's error code.
        case rejected(String)
        /// Timeouts, connection failures, 5xx, 408, 429: worth another attempt.
        case unavailable(String)
    }

    struct Payload: Encodable {
        var messageId: String
        var idempotencyKey: String
        var channel: String
        var customerId: String
        var to: String?
        var title: String?
        var body: String
    }

    struct Batch: Encodable {
        var messages: [Payload]
    }

    /// The client for providers: no internal credential, no retries of its own (the queue retries).
    let client: HTTPClient

    /// Calls the provider for every message of `messages` at once, in calls of the provider's batch size
    /// (the client's transfers run side by side on its I/O thread), and waits for all; results in the
    /// order of `messages`.
    func send(_ messages: [Message], via provider: ProviderEndpoint) -> [Result] {
        let results = ResultSlots(count: messages.count)
        let group = DispatchGroup()
        let size = max(1, provider.batchSize), batched = size > 1
        for start in stride(from: 0, to: messages.count, by: size) {
            let range = start..<min(start + size, messages.count)
            let chunk = Array(messages[range])
            let request: HTTPClientRequest
            do {
                request = try self.request(chunk, batched: batched, via: provider)
            } catch {
                for i in range { results.set(i, .rejected("unencodable")) }
                continue
            }
            group.enter()
            client.send(request) { outcome in
                let outcomes = batched ? Self.classify(outcome, keys: chunk.map(\.key)) : [Self.classify(outcome)]
                for (offset, result) in outcomes.enumerated() { results.set(range.lowerBound + offset, result) }
                group.leave()
            }
        }
        group.wait()
        return results.values
    }

    private func request(_ chunk: [Message], batched: Bool, via provider: ProviderEndpoint) throws -> HTTPClientRequest {
        var headers = HTTPHeaders()
        headers.add("content-type", "application/json")
        if let credentials = provider.credentials { headers.add("Authorization", "Bearer " + credentials) }
        let payloads = chunk.map { m in
            Payload(messageId: m.id, idempotencyKey: m.key, channel: m.channel.rawValue, customerId: m.customerId, to: m.recipient,
                    title: m.title, body: m.body)
        }
        let body: [UInt8]
        if batched {
            body = try client.encode(Batch(messages: payloads))
        } else {
            headers.add("Idempotency-Key", chunk[0].key)
            body = try client.encode(payloads[0])
        }
        return HTTPClientRequest(method: "POST", url: provider.endpoint, headers: headers, body: body, timeoutMs: provider.timeoutMs)
    }

    /// The results of a batch call, in the order of `keys`: the call's own outcome for every message
    /// unless it was answered with results, then each message's result by its key (a message the answer
    /// leaves out is retried).
    static func classify(_ outcome: Swift.Result<HTTPClientResponse, HTTPClientError>, keys: [String]) -> [Result] {
        guard case .success(let response) = outcome, (200...299).contains(response.status) else {
            return Array(repeating: classify(outcome), count: keys.count)
        }
        guard case .array(let items)? = (try? response.decode(JSONValue.self))?["results"] else {
            return Array(repeating: .unavailable("the provider's batch answer has no results"), count: keys.count)
        }
        var byKey: [String: JSONValue] = [:]
        for item in items { if let key = item["idempotencyKey"]?.stringValue { byKey[key] = item } }
        return keys.map { key in
            guard let item = byKey[key] else { return .unavailable("the provider's batch answer left the message out") }
            let error = item["error"]?.stringValue.map { String($0.prefix(100)) }
            switch item["status"]?.stringValue {
            case "accepted": return .accepted(reference: item["id"]?.stringValue.map { String($0.prefix(200)) })
            case "rejected": return .rejected(error ?? "rejected")
            default: return .unavailable("the provider failed the message: \(error ?? "no reason")")
            }
        }
    }

    static func classify(_ outcome: Swift.Result<HTTPClientResponse, HTTPClientError>) -> Result {
        switch outcome {
        case .success(let response):
            switch response.status {
            case 200...299:
                let reference = (try? response.decode(JSONValue.self))?["id"]?.stringValue
                return .accepted(reference: reference.map { String($0.prefix(200)) })
            case 408, 429: return .unavailable("provider answered \(response.status)")
            case 400...499: return .rejected("\(response.status)")
            default: return .unavailable("provider answered \(response.status)")
            }
        case .failure(let error):
            switch error {
            case .invalidURL, .invalidRequest: return .rejected("0")
            default: return .unavailable("\(error)")
            }
        }
    }
}

/// The results of one batch's calls as their completions arrive. Thread-safety: `lock` guards `slots`.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [ProviderCall.Result?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: ProviderCall.Result) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    var values: [ProviderCall.Result] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0 ?? .unavailable("no answer") }
    }
}
