import Contracts
import Foundation
import Postgres
import ServiceKit

/// `:draw` on a lottery: a grant of the lottery reward (its stock counts draws, its limits are the draw
/// limits per customer, its idempotency the draw's) whose prize is chosen inside the grant's transaction:
/// the customer's designated prize if one is waiting (指定用户中奖), else a weighted pick; a picked prize
/// whose stock is gone, or that the rest of the lottery's budget cannot pay for, turns into the consolation
/// prize. A draw that costs points spends them in the same transaction, so a refused draw costs nothing.
struct LotteryDraw: Sendable {
    let ledger: GrantLedger
    let points: PointsLedger

    static let notALottery = APIError.unprocessable("this reward is not a lottery", code: "reward_not_lottery")

    struct PrizeRow: Sendable {
        var id: String
        var name: String
        var weight: Int
        var cost: String
        var consolation: Bool
    }

    func draw(lottery: Reward, request: GrantRequest, key: String, caller: CallerIdentity) throws -> (GrantLedger.Outcome, consolation: Bool) {
        guard lottery.kind == .lottery else { throw Self.notALottery }
        let pointsPerDraw = lottery.lottery?["pointsPerDraw"]?.doubleValue.map { Int($0) }
        let outcome = try ledger.grant(reward: lottery, request: request, key: key, caller: caller) { conn, grantId in
            if let cost = pointsPerDraw {
                _ = try points.spend(on: conn, customerId: request.customerId, points: cost, key: "draw:" + grantId,
                                     reason: "lottery \(lottery.code)", orgPath: lottery.orgPath,
                                     scope: caller.orgPath)
            }
            let prizes = try conn.query("""
                SELECT prize_id, name, weight, unit_cost::text AS cost, consolation FROM lottery_prizes WHERE lottery_id = $1 ORDER BY position
                """, lottery.id).map { r in
                PrizeRow(id: try r.decode("prize_id"), name: try r.decode("name"), weight: try r.decode("weight"), cost: try r.decode("cost"),
                         consolation: try r.decode("consolation"))
            }
            guard let consolation = prizes.first(where: \.consolation) else {
                throw APIError.internalError("lottery \(lottery.id) has no consolation prize")
            }
            // Lock order after the grant's stock shard: the lottery's row (its budget), then the prize.
            func pay(_ prize: PrizeRow) throws -> Bool {
                guard lottery.budget != nil, Decimal(string: prize.cost) != 0 else { return true }
                return try conn.execute("""
                    UPDATE rewards SET prize_spent = prize_spent + $2::numeric WHERE id = $1 AND prize_spent + $2::numeric <= budget
                    """, lottery.id, prize.cost) == 1
            }
            func take(_ prize: PrizeRow) throws -> Bool {
                guard try pay(prize) else { return false }
                if try conn.execute("""
                    UPDATE lottery_prizes SET remaining = remaining - 1 WHERE lottery_id = $1 AND prize_id = $2 AND remaining > 0
                    """, lottery.id, prize.id) == 1 { return true }
                if lottery.budget != nil {
                    try conn.execute("UPDATE rewards SET prize_spent = prize_spent - $2::numeric WHERE id = $1", lottery.id, prize.cost)
                }
                return false
            }
            if let designated = try conn.query("""
                UPDATE lottery_designations SET used_at = now() WHERE lottery_id = $1 AND customer_id = $2 AND used_at IS NULL RETURNING prize_id
                """, lottery.id, request.customerId).first {
                let id: String = try designated.decode("prize_id")
                if let prize = prizes.first(where: { $0.id == id }), try take(prize) {
                    return GrantLedger.Prize(id: prize.id, name: prize.name, cost: prize.cost)
                }
            }
            let drawable = prizes.filter { !$0.consolation }
            var generator = SystemRandomNumberGenerator()
            if let index = PrizePicker.pick(weights: drawable.map(\.weight), using: &generator), try take(drawable[index]) {
                let prize = drawable[index]
                return GrantLedger.Prize(id: prize.id, name: prize.name, cost: prize.cost)
            }
            // A drawn prize that is gone, or that the rest of the budget cannot pay for: the consolation prize.
            guard try pay(consolation) else { throw GrantLedger.budgetExhausted }
            return GrantLedger.Prize(id: consolation.id, name: consolation.name, cost: consolation.cost)
        }
        let consolationId = lottery.lottery?["consolation"]?["id"]?.stringValue
        return (outcome, outcome.grant.prizeId == consolationId)
    }
}
