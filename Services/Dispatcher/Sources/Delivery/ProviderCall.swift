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

    func send(_ m: Message, via provider: ProviderEndpoint) -> Result {
        var headers = HTTPHeaders()
        headers.add("Idempotency-Key", m.key)
        if let credentials = provider.credentials { headers.add("Authorization", "Bearer " + credentials) }
        let body: [UInt8]
        do {
            body = try client.encode(Payload(messageId: m.id, idempotencyKey: m.key, channel: m.channel.rawValue, customerId: m.customerId,
                                             to: m.recipient, title: m.title, body: m.body))
        } catch {
            return .rejected(status: 0)
        }
        do {
            let response = try client.sendJSON(method: "POST", url: provider.endpoint, body: body, extraHeaders: headers,
                                                timeoutMs: provider.timeoutMs, idempotent: true)
            switch response.status {
            case 200...299:
                let reference = (try? response.decode(JSONValue.self))?["id"]?.stringValue
                return .accepted(reference: reference.map { String($0.prefix(200)) })
            case 408, 429: return .unavailable("provider answered \(response.status)")
            case 400...499: return .rejected(status: response.status)
            default: return .unavailable("provider answered \(response.status)")
            }
        } catch {
            switch error {
            case .invalidURL, .invalidRequest: return .rejected(status: 0)
            default: return .unavailable("\(error)")
            }
        }
    }
}
