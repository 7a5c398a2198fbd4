import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// Lottery draws through the gateway: prize stock, the consolation prize, draw limits, points cost and
/// designated winners.
final class LotteryDrawTests: XCTestCase {
    var platform: RewardsPlatform!
    var bank: RewardsBank!

    override func setUpWithError() throws {
        platform = try RewardsPlatform()
        bank = try RewardsBank(platform: platform)
    }

    override func tearDown() {
        if (testRun?.failureCount ?? 0) > 0, let p = platform {
            print("rewards log:\n" + p.rewards.standardOutput.split(separator: "\n").filter { $0.contains("error") }.suffix(5).joined(separator: "\n"))
        }
        platform?.stop()
    }

    func draw(_ id: String, _ customer: String, key: String) throws -> HTTPClientResponse {
        try platform.call("POST", "/api/v1/lotteries/\(id):draw", token: bank.hqOperator, json: #"{"customerId":"\#(customer)"}"#,
                          headers: [("Idempotency-Key", key)])
    }

    func testPrizeStockConsolationDesignationAndLimits() throws {
        let lottery = try bank.reward([
            "kind": "lottery", "stock": 1000, "unitCost": "0", "perCustomerLimit": 2,
            "lottery": [
                "prizes": [["id": "ipad", "name": "iPad", "weight": 100, "stock": 3, "unitCost": "3000.00"],
                           ["id": "tea", "name": "茶叶礼盒", "weight": 0, "stock": 5, "unitCost": "200.00"]],
                "consolation": ["id": "thanks", "name": "5元话费", "unitCost": "5.00"],
                "designated": [["customerId": "vip", "prizeId": "tea"]],
            ],
        ])
        let id = try XCTUnwrap(lottery["id"]?.stringValue)
        // A zero-weight prize is only won by its designated customer.
        let vip = try draw(id, "vip", key: "v1")
        XCTAssertEqual(vip.status, 201, vip.bodyText)
        XCTAssertEqual(vip.jsonValue["prize"]?["id"]?.stringValue, "tea")
        let tally = Tally()
        let platform = self.platform!, token = bank.hqOperator
        platform.concurrently(20, threads: 20) { i in
            guard let r = try? platform.post("/api/v1/lotteries/\(id):draw", token: token, json: #"{"customerId":"c\#(i)"}"#, key: "d\(i)") else { return tally.add("error") }
            tally.add("\(r.status) \(r.jsonValue["prize"]?["id"]?.stringValue ?? r.errorCode ?? "")")
        }
        XCTAssertEqual(tally.counts, ["201 ipad": 3, "201 thanks": 17])
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM grants WHERE reward_id = $1 AND prize_id = 'ipad'", id), 3)
        XCTAssertEqual(try platform.count("SELECT remaining AS n FROM lottery_prizes WHERE lottery_id = $1 AND prize_id = 'ipad'", id), 0)
        // Replay, then the per-customer draw limit.
        XCTAssertEqual(try draw(id, "c0", key: "d0").status, 200)
        XCTAssertEqual(try draw(id, "c0", key: "d0-2").status, 201)
        XCTAssertEqual(try draw(id, "c0", key: "d0-3").errorCode, "limit_reached")
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM outbox_events WHERE event_type = 'rewards.lottery_drawn'"), 22)
        // A lottery is drawn, not granted.
        XCTAssertEqual(try bank.grant(id, customer: "c0", key: "g").status, 422)
    }

    func testDrawsThatCostPointsSpendThemOrAreRefused() throws {
        let lottery = try bank.reward([
            "kind": "lottery", "stock": 100, "unitCost": "0",
            "lottery": ["prizes": [["id": "cup", "name": "杯子", "weight": 1, "stock": 100, "unitCost": "20.00"]],
                        "consolation": ["id": "none", "name": "谢谢参与"], "pointsPerDraw": 50],
        ])
        let id = try XCTUnwrap(lottery["id"]?.stringValue)
        XCTAssertEqual(try draw(id, "p1", key: "a").errorCode, "insufficient_points")
        XCTAssertEqual(try platform.count("SELECT coalesce(sum(remaining), 0)::bigint AS n FROM reward_stock WHERE reward_id = $1", id), 100)
        _ = try platform.call("POST", "/api/v1/points/p1:earn", token: bank.hqOperator, json: #"{"points":120}"#, headers: [("Idempotency-Key", "e")])
        XCTAssertEqual(try draw(id, "p1", key: "b").status, 201)
        XCTAssertEqual(try draw(id, "p1", key: "c").status, 201)
        XCTAssertEqual(try draw(id, "p1", key: "d").errorCode, "insufficient_points")
        XCTAssertEqual(try platform.json("GET", "/api/v1/points/p1", token: bank.hqOperator, expect: 200)["balance"], 20)
    }

    func testALotterysBudgetPaysForItsPrizesOnlyWhileItLasts() throws {
        // The unit cost is 0, so only the prizes' cost can hold the draws to the budget.
        let lottery = try bank.reward([
            "kind": "lottery", "stock": 100, "unitCost": "0", "budget": "10.00",
            "lottery": [
                "prizes": [["id": "cash", "name": "5元红包", "weight": 100, "stock": 50, "unitCost": "5.00"]],
                "consolation": ["id": "thanks", "name": "谢谢参与", "unitCost": "0"],
            ],
        ])
        let id = try XCTUnwrap(lottery["id"]?.stringValue)
        let tally = Tally()
        let platform = self.platform!, token = bank.hqOperator
        platform.concurrently(6, threads: 6) { i in
            guard let r = try? platform.post("/api/v1/lotteries/\(id):draw", token: token, json: #"{"customerId":"b\#(i)"}"#, key: "b\(i)") else { return tally.add("error") }
            tally.add("\(r.status) \(r.jsonValue["prize"]?["id"]?.stringValue ?? r.errorCode ?? "")", value: r.jsonValue["id"]?.stringValue)
        }
        XCTAssertEqual(tally.counts, ["201 cash": 2, "201 thanks": 4])
        let spent = try platform.pool.query("SELECT sum(cost)::text AS s FROM grants WHERE reward_id = $1", id)[0].decode("s", as: String.self)
        XCTAssertEqual(spent, "10.00")
        XCTAssertEqual(try platform.count("SELECT remaining AS n FROM lottery_prizes WHERE lottery_id = $1 AND prize_id = 'cash'", id), 48)
        // A revoked prize gives its money back to the budget.
        let cash = try XCTUnwrap(try platform.pool.query("SELECT id FROM grants WHERE reward_id = $1 AND prize_id = 'cash' LIMIT 1", id)
            .first?.decode("id", as: String.self))
        _ = try platform.json("POST", "/api/v1/grants/\(cash):revoke", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(try draw(id, "b9", key: "b9").jsonValue["prize"]?["id"]?.stringValue, "cash")

        // A consolation prize that costs something is paid from the budget too; past it, the draw is refused.
        let small = try XCTUnwrap(try bank.reward([
            "code": "small-lottery", "kind": "lottery", "stock": 100, "unitCost": "0", "budget": "4.00",
            "lottery": [
                "prizes": [["id": "big", "name": "大奖", "weight": 1, "stock": 5, "unitCost": "50.00"]],
                "consolation": ["id": "coin", "name": "2元话费", "unitCost": "2.00"],
            ],
        ])["id"]?.stringValue)
        XCTAssertEqual(try draw(small, "s1", key: "s1").jsonValue["prize"]?["id"]?.stringValue, "coin")
        XCTAssertEqual(try draw(small, "s2", key: "s2").jsonValue["prize"]?["id"]?.stringValue, "coin")
        XCTAssertEqual(try draw(small, "s3", key: "s3").errorCode, "budget_exhausted")
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM grants WHERE reward_id = $1", small), 2)
    }
}
