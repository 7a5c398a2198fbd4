import Contracts
import Foundation

/// A validated `POST /api/v1/tags/{code}/members` body:
/// `{"customerIds": [...], "value"?: "...", "remove"?: bool}` (manual, activity and score tags) or, for
/// score tags, `{"scores": [{"customerId", "score"}]}`. At most `maximumMembers` customers per call;
/// a customer named twice counts once (for scores, the last score wins).
struct TagMembershipChange: Sendable {
    enum Operation: Sendable {
        /// Give these customers the tag with `value` ('' for none).
        case add(ids: [String], value: String)
        case remove(ids: [String])
        /// Customer id → score, bucketed into values.
        case scores([(id: String, score: Decimal)])
    }

    var operation: Operation

    static let maximumMembers = 10_000
    static let allowedKeys: Set<String> = ["customerIds", "value", "remove", "scores"]

    init(body: [String: JSONValue]) throws {
        if let unknown = body.keys.sorted().first(where: { !Self.allowedKeys.contains($0) }) {
            throw APIError.badRequest("unknown member \(unknown.prefix(64))", field: String(unknown.prefix(64)))
        }
        if let scores = body["scores"] {
            guard body["customerIds"] == nil, body["value"] == nil, body["remove"] == nil else {
                throw APIError.badRequest("scores cannot be combined with customerIds, value or remove", field: "scores")
            }
            guard case .array(let items) = scores, (1...Self.maximumMembers).contains(items.count) else {
                throw APIError.badRequest("scores must be an array of 1 to \(Self.maximumMembers) {customerId, score}", field: "scores")
            }
            var order: [String] = []
            var byId: [String: Decimal] = [:]
            for (i, item) in items.enumerated() {
                guard case .object(let o) = item, case .string(let id)? = o["customerId"], case .number(let n)? = o["score"],
                      n.isFinite, abs(n) < 1e15, o.count == 2 else {
                    throw APIError.badRequest("scores[\(i)] must be {customerId: string, score: number}", field: "scores[\(i)]")
                }
                guard CustomerStore.isCustomerId(id) else {
                    throw APIError.badRequest("scores[\(i)].customerId is not a customer id", field: "scores[\(i)].customerId")
                }
                if byId[id] == nil { order.append(id) }
                byId[id] = Decimal(string: "\(n)") ?? Decimal(n)
            }
            operation = .scores(order.map { ($0, byId[$0] ?? 0) })
            return
        }
        guard case .array(let items)? = body["customerIds"], (1...Self.maximumMembers).contains(items.count) else {
            throw APIError.badRequest("customerIds must be an array of 1 to \(Self.maximumMembers) customer ids", field: "customerIds")
        }
        var seen = Set<String>()
        var ids: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let id) = item, CustomerStore.isCustomerId(id) else {
                throw APIError.badRequest("customerIds[\(i)] is not a customer id", field: "customerIds[\(i)]")
            }
            if seen.insert(id).inserted { ids.append(id) }
        }
        var remove = false
        switch body["remove"] {
        case nil, .null?: break
        case .bool(let b)?: remove = b
        default: throw APIError.badRequest("remove must be a boolean", field: "remove")
        }
        switch body["value"] {
        case nil, .null?:
            operation = remove ? .remove(ids: ids) : .add(ids: ids, value: "")
        case .string(let v)?:
            guard !remove else { throw APIError.badRequest("remove takes no value", field: "value") }
            guard NewTag.isValue(v) else { throw APIError.badRequest("value must be 1 to 100 characters", field: "value") }
            operation = .add(ids: ids, value: v)
        default:
            throw APIError.badRequest("value must be a string", field: "value")
        }
    }
}

/// The answer of the members endpoint: how many customers changed, and each customer refused with why.
public struct TagMembershipResult: Sendable, Codable, Equatable {
    public struct Rejection: Sendable, Codable, Equatable {
        public var customerId: String
        /// `customer_not_found` (unknown or outside the caller's subtree — the two are not told apart),
        /// `score_out_of_buckets`.
        public var reason: String
    }

    public var tag: String
    /// Customers whose membership or value changed.
    public var applied: Int
    /// Customers in scope that already had that state.
    public var unchanged: Int
    public var rejected: [Rejection]
}
