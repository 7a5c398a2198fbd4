import Contracts
import Foundation
import Postgres

/// What a reward gives (DESIGN.md §3 "Rewards").
public enum RewardKind: String, Sendable, Codable, CaseIterable {
    case coupon, points, lottery, gift, external
}

/// The three coupons a bank hands out: cash off, a rate boost on a deposit or wealth product (加息券), a
/// waived fee.
public enum CouponType: String, Sendable, Codable, CaseIterable {
    case cash
    case rateBoost = "rate_boost"
    case feeWaiver = "fee_waiver"
}

/// A catalog entry as stored. Money members are the database's decimal text ("12.50"), never floats.
public struct Reward: Sendable {
    public enum Status: String, Sendable { case pending, approved }

    public var id: String
    public var code: String
    public var name: String
    public var description: String?
    public var kind: RewardKind
    public var couponType: CouponType?
    public var faceValue: String?
    public var points: Int?
    public var providerURL: String?
    public var stock: Int
    public var grantable: Int
    public var remaining: Int
    public var unitCost: String
    public var budget: String?
    public var perCustomerLimit: Int?
    public var perDayLimit: Int?
    public var validityDays: Int?
    public var validFrom: Date?
    public var validUntil: Date?
    public var lottery: JSONValue?
    public var shards: Int
    public var status: Status
    public var orgId: String
    public var orgPath: String
    public var createdBy: String
    public var approvedBy: String?
    public var approvedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    /// The columns `init(row:)` reads (`r` is the rewards table), with the remaining stock summed over shards.
    static let columns = """
        r.id, r.code, r.name, r.description, r.kind, r.coupon_type, r.face_value::text AS face_value, r.points, r.provider_url, r.stock,
        r.grantable, r.unit_cost::text AS unit_cost, r.budget::text AS budget, r.per_customer_limit, r.per_day_limit, r.validity_days,
        r.valid_from, r.valid_until, r.lottery::text AS lottery, r.shards, r.status, r.org_id, r.org_path, r.created_by, r.approved_by,
        r.approved_at, r.created_at, r.updated_at,
        (SELECT coalesce(sum(s.remaining), 0) FROM reward_stock s WHERE s.reward_id = r.id)::int AS remaining
        """

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        guard let kind = RewardKind(rawValue: try row.decode("kind")), let status = Status(rawValue: try row.decode("status")) else {
            throw APIError.internalError("reward \(id) holds an unknown kind or status")
        }
        self.kind = kind
        self.status = status
        code = try row.decode("code")
        name = try row.decode("name")
        description = try row.decode("description")
        couponType = try row.decode("coupon_type", as: String?.self).flatMap(CouponType.init(rawValue:))
        faceValue = try row.decode("face_value")
        points = try row.decode("points")
        providerURL = try row.decode("provider_url")
        stock = try row.decode("stock")
        grantable = try row.decode("grantable")
        remaining = try row.decode("remaining")
        unitCost = try row.decode("unit_cost")
        budget = try row.decode("budget")
        perCustomerLimit = try row.decode("per_customer_limit")
        perDayLimit = try row.decode("per_day_limit")
        validityDays = try row.decode("validity_days")
        validFrom = try row.decode("valid_from")
        validUntil = try row.decode("valid_until")
        lottery = try row.decode("lottery", as: String?.self).flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        shards = try row.decode("shards")
        orgId = try row.decode("org_id")
        orgPath = try row.decode("org_path")
        createdBy = try row.decode("created_by")
        approvedBy = try row.decode("approved_by")
        approvedAt = try row.decode("approved_at")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }

    /// The API's view.
    var json: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "code": .string(code), "name": .string(name), "kind": .string(kind.rawValue),
            "stock": .number(Double(stock)), "grantable": .number(Double(grantable)), "remaining": .number(Double(remaining)),
            "granted": .number(Double(grantable - remaining)), "unitCost": .string(unitCost), "status": .string(status.rawValue),
            "orgId": .string(orgId), "createdBy": .string(createdBy), "createdAt": .string(RFC3339.string(createdAt)),
            "updatedAt": .string(RFC3339.string(updatedAt)),
        ]
        o["description"] = description.map(JSONValue.string) ?? .null
        o["couponType"] = couponType.map { .string($0.rawValue) } ?? .null
        o["faceValue"] = faceValue.map(JSONValue.string) ?? .null
        o["points"] = points.map { .number(Double($0)) } ?? .null
        o["providerUrl"] = providerURL.map(JSONValue.string) ?? .null
        o["budget"] = budget.map(JSONValue.string) ?? .null
        o["perCustomerLimit"] = perCustomerLimit.map { .number(Double($0)) } ?? .null
        o["perDayLimit"] = perDayLimit.map { .number(Double($0)) } ?? .null
        if let validityDays {
            o["validity"] = .object(["days": .number(Double(validityDays))])
        } else if let validFrom, let validUntil {
            o["validity"] = .object(["from": .string(RFC3339.string(validFrom)), "until": .string(RFC3339.string(validUntil))])
        }
        o["lottery"] = lottery ?? .null
        o["approvedBy"] = approvedBy.map(JSONValue.string) ?? .null
        o["approvedAt"] = approvedAt.map { .string(RFC3339.string($0)) } ?? .null
        return .object(o)
    }
}

/// RFC 3339 UTC text with milliseconds, as every Lattice API writes timestamps: `JSONCoding`'s, which
/// formats without a per-call formatter (a grant's answer has up to seven timestamps; building an
/// `ISO8601DateFormatter` for each was half of the grant path's CPU).
enum RFC3339 {
    static func string(_ date: Date) -> String { JSONCoding.formatDate(date) }

    /// A timestamp with or without fractional seconds, `Z` or a numeric offset; nil otherwise.
    static func parse(_ text: String) -> Date? { JSONCoding.parseDate(text) }
}

/// CNY amounts as decimal text: at most 12 integer digits and `scale` decimals. Never a binary float.
enum Money {
    static func parse(_ value: JSONValue?, field: String, scale: Int = 2) throws -> String? {
        guard let value, value != .null else { return nil }
        guard case .string(let text) = value, isDecimal(text, scale: scale) else {
            throw APIError.badRequest("\(field) must be a decimal string such as \"12.50\" (at most \(scale) decimals)", field: field)
        }
        return text
    }

    static func isDecimal(_ text: String, scale: Int) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, (1...12).contains(whole.count), whole.allSatisfy(\.isASCIIDigit) else { return false }
        if parts.count == 2 { return (1...scale).contains(parts[1].count) && parts[1].allSatisfy(\.isASCIIDigit) }
        return true
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
