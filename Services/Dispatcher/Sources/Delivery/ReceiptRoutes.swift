import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// `POST /api/v1/receipts/{provider}`: a provider's callback, authenticated by the provider's own secret
/// in `X-Provider-Secret` (no user token: the gateway lets it through anonymously).
/// Body: `{"receipts": [{"messageId" | "idempotencyKey", "status": "delivered" | "failed", "error"?}],
/// "replies": [{"customerId" | "phone", "text"}]}`. A reply such as `T` or `TD` opts the customer out.
public enum ReceiptRoutes {
    static let options = RouteOptions(maxBodyBytes: 2 << 20)
    static let secretHeader = "x-provider-secret"
    static let maximumItems = 1_000

    struct Answer: Encodable {
        var applied = 0
        var unknown = 0
        var optedOut = 0
        var ignoredReplies = 0
    }

    static func register(on router: Router, database: PostgresPool, providers: ProviderStore, policies: PolicyStore,
                                profile: ProfileClient, queue: JobQueue, facts: MessageFacts) {
        router.post("/api/v1/receipts/{provider}", options: options) { request, context in
            let providerId = try context.parameters.require("provider")
            // The same answer for an unknown provider and a wrong secret: nothing to probe.
            guard let secret = try providers.receiptSecret(of: providerId), let given = request.headers.first(secretHeader),
                  constantTimeEquals(Array(given.utf8), Array(secret.utf8)) else {
                throw APIError(status: 401, code: "invalid_provider_secret", message: "unknown provider or wrong X-Provider-Secret")
            }
            let f = try BodyFields(try request.decode(JSONValue.self), allowed: ["receipts", "replies"], field: "")
            let receipts = try items(f, "receipts")
            let replies = try items(f, "replies")
            var answer = Answer()
            var parsed: [Receipt] = []
            for (i, r) in receipts.enumerated() {
                let rf = try BodyFields(r, allowed: ["messageId", "idempotencyKey", "status", "error", "id"], field: "receipts[\(i)]")
                guard let ref = try rf.optionalString("messageId", length: 1...300) ?? rf.optionalString("idempotencyKey", length: 1...300) else {
                    throw APIError.badRequest("receipts[\(i)] needs messageId or idempotencyKey", field: "receipts[\(i)].messageId")
                }
                let status = try rf.string("status", length: 1...20)
                guard status == "delivered" || status == "failed" else {
                    throw APIError.badRequest("receipts[\(i)].status must be delivered or failed", field: "receipts[\(i)].status")
                }
                parsed.append(Receipt(ref: ref, delivered: status == "delivered", error: try rf.optionalString("error", length: 1...200)))
            }
            answer.applied = try apply(parsed, provider: providerId, database: database, queue: queue, facts: facts)
            answer.unknown = parsed.count - answer.applied
            let optOutWords = Set(try policies.current().policy.optOutReplies.map { ComplianceReview.normalized($0) })
            for (i, r) in replies.enumerated() {
                let rf = try BodyFields(r, allowed: ["customerId", "phone", "text", "receivedAt"], field: "replies[\(i)]")
                let text = try rf.string("text", length: 1...500, multiline: true)
                guard optOutWords.contains(ComplianceReview.normalized(text)) else { answer.ignoredReplies += 1; continue }
                guard let customerId = try customer(of: rf, index: i, provider: providerId, database: database),
                      let contact = try profile.contacts([customerId])[customerId], contact.exists else {
                    answer.ignoredReplies += 1
                    continue
                }
                do {
                    try profile.optOut(contact, source: "sms_reply:\(providerId)")
                } catch {
                    // The provider retries its callback; the opt-out must not be lost.
                    throw APIError.unavailable("the profile service did not record the opt-out: \(error)", code: "profile_unavailable")
                }
                answer.optedOut += 1
            }
            return try .json(answer)
        }
    }

    static func items(_ f: BodyFields, _ key: String) throws -> [JSONValue] {
        guard let value = f.object[key], value != .null else { return [] }
        guard case .array(let list) = value, list.count <= maximumItems else {
            throw APIError.badRequest("\(key) must be an array of at most \(maximumItems) items", field: key)
        }
        return list
    }

    struct Receipt {
        var ref: String
        var delivered: Bool
        var error: String?
    }

    /// Moves the messages this provider sent to delivered or failed, all of one callback in one
    /// transaction; returns how many receipts named a message of this provider.
    static func apply(_ receipts: [Receipt], provider: String, database: PostgresPool, queue: JobQueue, facts: MessageFacts) throws -> Int {
        guard !receipts.isEmpty else { return 0 }
        return try database.transaction { conn in
            var idOf: [String: (id: String, status: String)] = [:]
            let refs = Array(Set(receipts.map(\.ref)))
            for row in try conn.query("""
                SELECT id, idempotency_key, status FROM messages
                 WHERE (id = ANY($1::text[]) OR idempotency_key = ANY($1::text[])) AND provider_id = $2
                 ORDER BY id FOR UPDATE
                """, refs, provider) {
                let found = (id: try row.decode("id", as: String.self), status: try row.decode("status", as: String.self))
                idOf[found.id] = found
                idOf[try row.decode("idempotency_key")] = found
            }
            var known = 0
            var delivered: [String] = []
            for r in receipts {
                guard let m = idOf[r.ref] else { continue }
                known += 1
                // A receipt may overtake the provider's own answer: `queued` counts as sent.
                guard ["queued", "deferred", "sent"].contains(m.status) else { continue }
                if r.delivered {
                    delivered.append(m.id)
                } else {
                    try Delivery.markFailed(m.id, reason: "receipt:" + (r.error ?? "failed"), on: conn, queue: queue, facts: facts)
                }
            }
            guard !delivered.isEmpty else { return known }
            let rows = try conn.query("""
                UPDATE messages SET status = 'delivered', reason = NULL, delivered_at = now(), sent_at = coalesce(sent_at, now()), updated_at = now()
                 WHERE id = ANY($1::text[]) AND status IN ('queued', 'deferred', 'sent')
                 RETURNING \(MessageFacts.Subject.returning)
                """, delivered)
            try facts.record(.messageDelivered, try rows.map { (try MessageFacts.Subject(row: $0), reason: String?.none) }, on: conn)
            return known
        }
    }

    /// The customer a reply comes from: named, or the last one this provider messaged at that phone number.
    static func customer(of f: BodyFields, index: Int, provider: String, database: PostgresPool) throws -> String? {
        if let id = try f.optionalString("customerId", length: 1...64) { return id }
        guard let phone = try f.optionalString("phone", length: 3...32) else {
            throw APIError.badRequest("replies[\(index)] needs customerId or phone", field: "replies[\(index)].phone")
        }
        return try database.query("""
            SELECT customer_id FROM messages WHERE recipient = $1 AND provider_id = $2 ORDER BY created_at DESC LIMIT 1
            """, phone, provider).first?.decode("customer_id")
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return diff == 0 && a.count == b.count
    }
}
