import Contracts
import Foundation
import HTTP

/// The dispatcher's calls to the profile service: contact facts in batches, opt-outs from SMS replies,
/// and `message_clicked` events.
public struct ProfileClient: Sendable {
    let client: HTTPClient
    let baseURL: String
    static let batch = 1_000

    public init(client: HTTPClient, baseURL: String) {
        self.client = client
        self.baseURL = baseURL
    }

    private struct FactsAnswer: Decodable { var items: [CustomerContact] }
    private struct FactsQuery: Encodable {
        var ids: [String]
        var attributes: [String]?
    }

    /// The facts of `ids` (one call per 1,000), with only the `attributes` named when given; 503 when the
    /// profile cannot answer, so that no message is sent without its consent checked.
    func contacts(_ ids: [String], attributes: Set<String>? = nil, requestId: String? = nil) throws -> [String: CustomerContact] {
        var out: [String: CustomerContact] = [:]
        var start = 0
        while start < ids.count {
            let slice = Array(ids[start..<min(start + Self.batch, ids.count)])
            do {
                let answer = try client.post(baseURL + "/internal/v1/customers:contact-facts", body: FactsQuery(ids: slice, attributes: attributes.map { $0.sorted() }),
                                             as: FactsAnswer.self, context: .init(requestId: requestId), timeoutMs: 10_000)
                for c in answer.items { out[c.customerId] = c }
            } catch {
                throw APIError.unavailable("the profile service cannot tell consents now: \(error)", code: "profile_unavailable")
            }
            start += Self.batch
        }
        return out
    }

    /// Records the customer's marketing opt-out (with the reply as evidence source).
    func optOut(_ contact: CustomerContact, source: String) throws {
        guard let identity = contact.actingIdentity else { return }
        let path = contact.customerId.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "_.-:"))) ?? contact.customerId
        let body: JSONValue = .object(["marketingOptOut": .bool(true), "consentSource": .string(String(source.prefix(100)))])
        _ = try client.put(baseURL + "/api/v1/customers/" + path, body: body, as: HTTPClient.NoContent.self,
                           context: .init(identity: identity), timeoutMs: 10_000)
    }

    /// Records a `message_clicked` event.
    func clicked(_ contact: CustomerContact, messageId: String, url: String, code: String, at: Date) throws {
        guard let identity = contact.actingIdentity else { return }
        let event: JSONValue = .object([
            "eventId": .string("click_" + UUID().uuidString.lowercased()),
            "customerId": .string(contact.customerId), "name": .string("message_clicked"),
            "occurredAt": .string(JSONCoding.formatDate(at)),
            "properties": .object(["messageId": .string(messageId), "url": .string(url), "code": .string(code)]),
        ])
        _ = try client.post(baseURL + "/api/v1/events", body: event, as: HTTPClient.NoContent.self, context: .init(identity: identity),
                            timeoutMs: 5_000)
    }
}
