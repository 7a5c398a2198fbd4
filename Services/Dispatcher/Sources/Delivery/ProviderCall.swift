import Contracts
import Foundation
import HTTP

/// One call to a provider: the message as JSON, the message's idempotency key as `Idempotency-Key` (a
/// provider that sees it twice sends once), the provider's credentials as a bearer token.
struct ProviderCall {
    /// How the attempt ended, for the retry decision.
    enum Result {
        case accepted(reference: String?)
        /// 4xx but 408/429: the request itself is wrong; retrying cannot help.
        case rejected(status: Int)
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

    /// The client for providers: no internal credential, no retries of its own (the queue retries).
    let client: HTTPClient

    /// Calls the provider for every message of `messages` at once (the client's transfers run side by
    /// side on its I/O thread) and waits for all; results in the order of `messages`.
    func send(_ messages: [Message], via provider: ProviderEndpoint) -> [Result] {
        let results = ResultSlots(count: messages.count)
        let group = DispatchGroup()
        for (index, m) in messages.enumerated() {
            let request: HTTPClientRequest
            do {
                request = try self.request(m, via: provider)
            } catch {
                results.set(index, .rejected(status: 0))
                continue
            }
            group.enter()
            client.send(request) { outcome in
                results.set(index, Self.classify(outcome))
                group.leave()
            }
        }
        group.wait()
        return results.values
    }

    private func request(_ m: Message, via provider: ProviderEndpoint) throws -> HTTPClientRequest {
        var headers = HTTPHeaders()
        headers.add("content-type", "application/json")
        headers.add("Idempotency-Key", m.key)
        if let credentials = provider.credentials { headers.add("Authorization", "Bearer " + credentials) }
        let body = try client.encode(Payload(messageId: m.id, idempotencyKey: m.key, channel: m.channel.rawValue, customerId: m.customerId,
                                             to: m.recipient, title: m.title, body: m.body))
        return HTTPClientRequest(method: "POST", url: provider.endpoint, headers: headers, body: body, timeoutMs: provider.timeoutMs)
    }

    static func classify(_ outcome: Swift.Result<HTTPClientResponse, HTTPClientError>) -> Result {
        switch outcome {
        case .success(let response):
            switch response.status {
            case 200...299:
                let reference = (try? response.decode(JSONValue.self))?["id"]?.stringValue
                return .accepted(reference: reference.map { String($0.prefix(200)) })
            case 408, 429: return .unavailable("provider answered \(response.status)")
            case 400...499: return .rejected(status: response.status)
            default: return .unavailable("provider answered \(response.status)")
            }
        case .failure(let error):
            switch error {
            case .invalidURL, .invalidRequest: return .rejected(status: 0)
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
