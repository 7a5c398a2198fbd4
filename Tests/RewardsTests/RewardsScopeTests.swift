import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// Org scope through the gateway: a branch reads and moves only its own subtree's rewards, grants and
/// points (and its ancestors', which head office publishes for branches), never a sibling branch's;
/// head office sees all. Two sibling branches, 上海分行 `sh` and 北京分行 `bj`.
final class RewardsScopeTests: XCTestCase {
    var platform: RewardsPlatform!
    var bank: RewardsBank!
    /// The Beijing branch's operator and the Shanghai branch's approver (the bank has sh's operator).
    var bjOperator: String!
    var shApprover: String!

    override func setUpWithError() throws {
        platform = try RewardsPlatform()
        bank = try RewardsBank(platform: platform)
        XCTAssertEqual(try platform.call("POST", "/api/v1/orgs", token: bank.admin,
                                         json: #"{"id":"bj","parentId":"hq","kind":"branch","name":"北京分行"}"#).status, 201)
        bjOperator = try platform.user(bank.admin, "bj_op", org: "bj", role: "operator")
        shApprover = try platform.user(bank.admin, "sh_ap", org: "sh", role: "approver")
    }

    override func tearDown() {
        platform?.stop()
    }

    func points(_ customer: String, _ action: String, _ body: JSONValue, key: String, token: String) throws -> HTTPClientResponse {
        try platform.call("POST", "/api/v1/points/\(customer):\(action)", token: token,
                          json: String(decoding: try JSONEncoder().encode(body), as: UTF8.self), headers: [("Idempotency-Key", key)])
    }

    func account(_ customer: String, token: String) throws -> JSONValue {
        try platform.json("GET", "/api/v1/points/\(customer)", token: token, expect: 200)
    }

    /// A branch reward: created by the branch's operator, approved by its approver.
    func shReward(_ body: [String: JSONValue]) throws -> String {
        var b = body
        b["code"] = .string("sh-\(UUID().uuidString.prefix(8).lowercased())")
        b["name"] = "上海分行权益"
        b["validity"] = ["days": 30]
        let created = try platform.json("POST", "/api/v1/rewards", token: bank.shOperator, .object(b), expect: 201)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        XCTAssertEqual(try platform.json("POST", "/api/v1/rewards/\(id):approve", token: shApprover, expect: 200)["status"]?.stringValue, "approved")
        return id
    }

    func testAnotherBranchsPointsAreNeitherShownNorMoved() throws {
        XCTAssertEqual(try points("c-sh", "earn", ["points": 100], key: "sh-e1", token: bank.shOperator).status, 201)

        // Beijing sees a customer without points: no balance, no lot, no ledger line of Shanghai's.
        let seen = try account("c-sh", token: bjOperator)
        XCTAssertEqual(seen["balance"], 0)
        XCTAssertEqual(seen["lots"], .array([]))
        XCTAssertEqual(seen["ledger"]?.items.count, 0)
        // … nor spends them,
        let spend = try points("c-sh", "spend", ["points": 10], key: "bj-s1", token: bjOperator)
        XCTAssertEqual(spend.status, 409)
        XCTAssertEqual(spend.errorCode, "insufficient_points")
        // … nor learns Shanghai's operation by replaying its key (the same body would be a replay).
        let replay = try points("c-sh", "earn", ["points": 100], key: "sh-e1", token: bjOperator)
        XCTAssertEqual(replay.status, 409)
        XCTAssertEqual(replay.errorCode, "idempotency_conflict")
        XCTAssertNil(replay.jsonValue["operation"])

        // Beijing's own points are its own; Shanghai's stay whole.
        let bjEarn = try points("c-sh", "earn", ["points": 30], key: "bj-e1", token: bjOperator)
        XCTAssertEqual(bjEarn.status, 201, bjEarn.bodyText)
        XCTAssertEqual(bjEarn.jsonValue["balance"], 30)
        XCTAssertEqual(try account("c-sh", token: bjOperator)["balance"], 30)
        XCTAssertEqual(try account("c-sh", token: bank.shOperator)["balance"], 100)
        XCTAssertEqual(try points("c-sh", "spend", ["points": 31], key: "bj-s2", token: bjOperator).errorCode, "insufficient_points")

        // Head office sees both and spends across them.
        let hq = try account("c-sh", token: bank.hqOperator)
        XCTAssertEqual(hq["balance"], 130)
        XCTAssertEqual(hq["ledger"]?.items.count, 2)
        let hqSpend = try points("c-sh", "spend", ["points": 120], key: "hq-s1", token: bank.hqOperator)
        XCTAssertEqual(hqSpend.status, 201, hqSpend.bodyText)
        XCTAssertEqual(hqSpend.jsonValue["balance"], 10)
        XCTAssertEqual(try platform.count("SELECT sum(remaining)::bigint AS n FROM points_lots WHERE customer_id = 'c-sh'"), 10)
    }

    func testHeadOfficePointsAreSpentAtABranch() throws {
        XCTAssertEqual(try points("c-hq", "earn", ["points": 50], key: "hq-e1", token: bank.hqOperator).status, 201)
        XCTAssertEqual(try account("c-hq", token: bank.shOperator)["balance"], 50)
        let spend = try points("c-hq", "spend", ["points": 20], key: "sh-s1", token: bank.shOperator)
        XCTAssertEqual(spend.status, 201, spend.bodyText)
        XCTAssertEqual(spend.jsonValue["balance"], 30)
    }

    func testABranchsPointsRewardCreditsPointsOnlyThatBranchAndHeadOfficeSee() throws {
        let id = try shReward(["kind": "points", "points": 200, "stock": 10, "unitCost": "0.20"])
        let grant = try bank.grant(id, customer: "c-p", key: "g1", token: bank.shOperator)
        XCTAssertEqual(grant.status, 201, grant.bodyText)
        XCTAssertEqual(try account("c-p", token: bank.shOperator)["balance"], 200)
        XCTAssertEqual(try account("c-p", token: bank.hqOperator)["balance"], 200)
        XCTAssertEqual(try account("c-p", token: bjOperator)["balance"], 0)
        XCTAssertEqual(try points("c-p", "spend", ["points": 1], key: "bj-s1", token: bjOperator).errorCode, "insufficient_points")
    }

    func testAnotherBranchsRewardsAndGrantsAreNotFound() throws {
        let id = try shReward(["kind": "coupon", "couponType": "cash", "faceValue": "5.00", "stock": 5, "unitCost": "5.00"])
        let g = try bank.grant(id, customer: "c-g", key: "g1", token: bank.shOperator)
        XCTAssertEqual(g.status, 201, g.bodyText)
        let grantId = try XCTUnwrap(g.jsonValue["id"]?.stringValue)

        XCTAssertEqual(try platform.call("GET", "/api/v1/rewards/\(id)", token: bjOperator).status, 404)
        let foreign = try bank.grant(id, customer: "c-g2", key: "g2", token: bjOperator)
        XCTAssertEqual(foreign.status, 404)
        XCTAssertEqual(foreign.errorCode, "reward_not_found")
        XCTAssertEqual(try platform.call("GET", "/api/v1/grants/\(grantId)", token: bjOperator).status, 404)
        XCTAssertEqual(try platform.call("POST", "/api/v1/grants/\(grantId):redeem", token: bjOperator, json: nil).status, 404)
        XCTAssertEqual(try platform.call("POST", "/api/v1/grants/\(grantId):revoke", token: bjOperator, json: nil).status, 404)
        XCTAssertEqual(try platform.json("GET", "/api/v1/customers/c-g/rewards", token: bjOperator, expect: 200).items.count, 0)
        XCTAssertEqual(try platform.json("GET", "/api/v1/rewards", token: bjOperator, expect: 200).items.count, 0)

        XCTAssertEqual(try platform.json("GET", "/api/v1/customers/c-g/rewards", token: bank.hqOperator, expect: 200).items.count, 1)
        XCTAssertEqual(try platform.json("GET", "/api/v1/grants/\(grantId)", token: bank.hqOperator, expect: 200)["status"]?.stringValue, "granted")
        // Nothing Beijing tried moved anything.
        XCTAssertEqual(try platform.json("GET", "/api/v1/rewards/\(id)", token: bank.shOperator, expect: 200)["remaining"], 4)
    }
}
