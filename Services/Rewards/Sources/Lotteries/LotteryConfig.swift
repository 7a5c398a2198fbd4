import Contracts
import Foundation

/// A lottery's prize pool as given on create: weighted prizes with their own stock, one consolation prize
/// (no stock: it is what a customer gets when the drawn prize is gone), the points a draw costs, and the
/// customers designated to win a given prize (指定用户中奖).
struct LotteryConfig: Sendable {
    struct Prize: Sendable {
        var id: String
        var name: String
        var weight: Int
        var stock: Int?
        var unitCost: String
    }

    var prizes: [Prize]
    var consolation: Prize
    var pointsPerDraw: Int?
    var designated: [(customerId: String, prizeId: String)]

    init(body: JSONValue) throws {
        let f = try BodyFields(body, allowed: ["prizes", "consolation", "pointsPerDraw", "designated"], field: "lottery")
        guard case .array(let items)? = f.object["prizes"], (1...50).contains(items.count) else {
            throw APIError.badRequest("lottery.prizes must be an array of 1 to 50 prizes", field: "lottery.prizes")
        }
        prizes = try items.enumerated().map { i, item in try Self.prize(item, field: "lottery.prizes[\(i)]", consolation: false) }
        guard let c = f.object["consolation"], c != .null else {
            throw APIError.badRequest("lottery.consolation is required: a draw whose prize is gone gets it", field: "lottery.consolation")
        }
        consolation = try Self.prize(c, field: "lottery.consolation", consolation: true)
        var seen = Set<String>()
        for p in prizes + [consolation] where !seen.insert(p.id).inserted {
            throw APIError.badRequest("prize id \(p.id) is used twice", field: "lottery.prizes")
        }
        guard prizes.contains(where: { $0.weight > 0 }) else {
            throw APIError.badRequest("at least one prize needs a positive weight", field: "lottery.prizes")
        }
        pointsPerDraw = try f.int("pointsPerDraw", in: 1...10_000_000)
        designated = []
        if let raw = f.object["designated"], raw != .null {
            guard case .array(let list) = raw, list.count <= 10_000 else {
                throw APIError.badRequest("lottery.designated must be an array of at most 10000 entries", field: "lottery.designated")
            }
            var customers = Set<String>()
            for (i, item) in list.enumerated() {
                let d = try BodyFields(item, allowed: ["customerId", "prizeId"], field: "lottery.designated[\(i)]")
                let customer = try d.string("customerId", length: 1...64)
                let prize = try d.string("prizeId", length: 1...64)
                guard prizes.contains(where: { $0.id == prize }) else {
                    throw APIError.badRequest("lottery.designated[\(i)].prizeId names no prize of this lottery", field: "lottery.designated[\(i)].prizeId")
                }
                guard customers.insert(customer).inserted else {
                    throw APIError.badRequest("customer \(customer) is designated twice", field: "lottery.designated[\(i)].customerId")
                }
                designated.append((customer, prize))
            }
        }
    }

    static func prize(_ value: JSONValue, field: String, consolation: Bool) throws -> Prize {
        let f = try BodyFields(value, allowed: consolation ? ["id", "name", "unitCost"] : ["id", "name", "weight", "stock", "unitCost"], field: field)
        let id = try f.string("id", length: 1...64)
        guard id.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") }) else {
            throw APIError.badRequest("\(field).id must be letters, digits, _ and -", field: field + ".id")
        }
        let name = try f.string("name", length: 1...100)
        let unitCost = try Money.parse(f.object["unitCost"], field: field + ".unitCost") ?? "0"
        if consolation { return Prize(id: id, name: name, weight: 0, stock: nil, unitCost: unitCost) }
        guard let weight = try f.int("weight", in: 0...1_000_000) else { throw APIError.badRequest("\(field).weight is required", field: field + ".weight") }
        guard let stock = try f.int("stock", in: 0...100_000_000) else { throw APIError.badRequest("\(field).stock is required", field: field + ".stock") }
        return Prize(id: id, name: name, weight: weight, stock: stock, unitCost: unitCost)
    }

    /// The pool as the reward shows it (`lottery` member).
    var json: JSONValue {
        func p(_ x: Prize, consolation: Bool) -> JSONValue {
            var o: [String: JSONValue] = ["id": .string(x.id), "name": .string(x.name), "unitCost": .string(x.unitCost)]
            if !consolation { o["weight"] = .number(Double(x.weight)); o["stock"] = .number(Double(x.stock ?? 0)) }
            return .object(o)
        }
        return .object([
            "prizes": .array(prizes.map { p($0, consolation: false) }), "consolation": p(consolation, consolation: true),
            "pointsPerDraw": pointsPerDraw.map { .number(Double($0)) } ?? .null,
            "designatedCustomers": .number(Double(designated.count)),
        ])
    }
}
