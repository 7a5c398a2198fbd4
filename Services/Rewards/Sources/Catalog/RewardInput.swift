import Contracts
import Foundation

/// A validated `POST /api/v1/rewards` body. Every fault is a 400 naming its field.
struct RewardInput: Sendable {
    var code: String
    var name: String
    var description: String?
    var kind: RewardKind
    var couponType: CouponType?
    var faceValue: String?
    var points: Int?
    var providerURL: String?
    var stock: Int
    var unitCost: String
    var budget: String?
    var perCustomerLimit: Int?
    var perDayLimit: Int?
    var validityDays: Int?
    var validFrom: Date?
    var validUntil: Date?
    var lottery: LotteryConfig?

    static let allowed: Set<String> = ["code", "name", "description", "kind", "couponType", "faceValue", "points", "providerUrl", "stock",
                                       "unitCost", "budget", "perCustomerLimit", "perDayLimit", "validity", "lottery"]

    init(body: JSONValue) throws {
        let f = try BodyFields(body, allowed: Self.allowed, field: "")
        code = try f.string("code", length: 1...64)
        guard code.unicodeScalars.allSatisfy({ ($0.value >= 0x30 && $0.value <= 0x39) || ($0.value >= 0x61 && $0.value <= 0x7a)
            || ($0.value >= 0x41 && $0.value <= 0x5a) || $0 == "_" || $0 == "-" }) else {
            throw APIError.badRequest("code must be letters, digits, _ and -", field: "code")
        }
        name = try f.string("name", length: 1...100)
        description = try f.optionalString("description", length: 1...2000, multiline: true)
        guard let kind = try f.oneOf("kind", RewardKind.self) else { throw APIError.badRequest("kind is required", field: "kind") }
        self.kind = kind
        couponType = try f.oneOf("couponType", CouponType.self)
        faceValue = try Money.parse(f.object["faceValue"], field: "faceValue", scale: 4)
        points = try f.int("points", in: 1...100_000_000)
        providerURL = try f.optionalString("providerUrl", length: 8...2000)
        guard let stock = try f.int("stock", in: 0...100_000_000) else { throw APIError.badRequest("stock is required", field: "stock") }
        self.stock = stock
        guard let unitCost = try Money.parse(f.object["unitCost"], field: "unitCost") else {
            throw APIError.badRequest("unitCost is required (CNY, a decimal string)", field: "unitCost")
        }
        self.unitCost = unitCost
        budget = try Money.parse(f.object["budget"], field: "budget")
        perCustomerLimit = try f.int("perCustomerLimit", in: 1...1_000_000)
        perDayLimit = try f.int("perDayLimit", in: 1...1_000_000)
        guard let validity = f.object["validity"], validity != .null else {
            throw APIError.badRequest("validity is required: {\"days\": N} or {\"from\", \"until\"}", field: "validity")
        }
        let v = try BodyFields(validity, allowed: ["days", "from", "until"], field: "validity")
        validityDays = try v.int("days", in: 1...3650)
        validFrom = try Self.timestamp(v, "from")
        validUntil = try Self.timestamp(v, "until")
        if validityDays != nil {
            if validFrom != nil || validUntil != nil {
                throw APIError.badRequest("validity is either {days} or {from, until}", field: "validity")
            }
        } else {
            guard let from = validFrom, let until = validUntil else {
                throw APIError.badRequest("validity needs days, or both from and until", field: "validity")
            }
            guard from < until else { throw APIError.badRequest("validity.until must be after validity.from", field: "validity.until") }
        }

        switch kind {
        case .coupon:
            guard let couponType else { throw APIError.badRequest("a coupon needs couponType", field: "couponType") }
            guard faceValue != nil else {
                throw APIError.badRequest(couponType == .rateBoost ? "a rate-boost coupon needs faceValue (percentage points, e.g. \"0.50\")"
                                          : "a coupon needs faceValue (CNY)", field: "faceValue")
            }
        case .points:
            guard points != nil else { throw APIError.badRequest("a points reward needs points", field: "points") }
        case .external:
            guard let url = providerURL, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? "") else {
                throw APIError.badRequest("an external reward needs providerUrl (http or https)", field: "providerUrl")
            }
        case .lottery:
            guard let raw = f.object["lottery"], raw != .null else {
                throw APIError.badRequest("a lottery needs lottery {prizes, consolation}", field: "lottery")
            }
            lottery = try LotteryConfig(body: raw)
        case .gift:
            break
        }
        if kind != .coupon, couponType != nil { throw APIError.badRequest("couponType applies to coupons only", field: "couponType") }
        if kind != .lottery, f.has("lottery") { throw APIError.badRequest("lottery applies to lotteries only", field: "lottery") }
        if kind != .external, providerURL != nil { throw APIError.badRequest("providerUrl applies to external rewards only", field: "providerUrl") }
        if kind != .points, points != nil { throw APIError.badRequest("points applies to points rewards only", field: "points") }
    }

    static func timestamp(_ f: BodyFields, _ key: String) throws -> Date? {
        guard let text = try f.optionalString(key, length: 20...35) else { return nil }
        guard let d = RFC3339.parse(text) else {
            throw APIError.badRequest("\(f.prefix)\(key) must be an RFC 3339 timestamp", field: f.prefix + key)
        }
        return d
    }
}
