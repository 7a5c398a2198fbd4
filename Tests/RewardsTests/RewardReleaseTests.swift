import Contracts
import Foundation
import HTTP
@testable import Rewards
import TestSupport
import XCTest

/// What a grant used comes back when it ends without being used: a revocation, or an external
/// provider's final refusal, returns its stock unit (and budget), the customer's limit counts and its
/// quota unit, so the reward can be granted again; a provider that is only unavailable is retried a
/// bounded number of times.
final class RewardReleaseTests: XCTestCase {
    var platform: RewardsPlatform!
    var bank: RewardsBank!

    func start(_ environment: [String: String] = [:]) throws {
        platform = try RewardsPlatform(rewardsEnvironment: environment)
        bank = try RewardsBank(platform: platform)
    }

    override func tearDown() {
        if (testRun?.failureCount ?? 0) > 0, let p = platform {
            print("rewards log:\n" + p.rewards.standardOutput.split(separator: "\n").filter { $0.contains("warn") || $0.contains("error") }
                .suffix(8).joined(separator: "\n"))
        }
        platform?.stop()
    }

    /// Changes how the provider simulator answers (`rejectRate`: 400s, `failureRate`: 503s).
    func provider(_ config: [String: JSONValue]) throws {
        var r = HTTPClientRequest(method: "PUT", url: "http://127.0.0.1:\(platform.simulatorPort)/control/config")
        r.headers.add("content-type", "application/json")
        r.body = Array(try JSONEncoder().encode(JSONValue.object(config)))
        XCTAssertEqual(try platform.client.send(r).status, 200)
    }

    func providerStats() throws -> JSONValue {
        try platform.client.send(HTTPClientRequest(method: "GET", url: "http://127.0.0.1:\(platform.simulatorPort)/control/stats")).jsonValue
    }

    func external(stock: Int, perCustomer: Int? = nil) throws -> String {
        var body: [String: JSONValue] = ["kind": "external", "providerUrl": .string("http://127.0.0.1:\(platform.simulatorPort)/benefits"),
                                         "stock": .number(Double(stock)), "unitCost": "15.00"]
        if let perCustomer { body["perCustomerLimit"] = .number(Double(perCustomer)) }
        return try XCTUnwrap(try bank.reward(body)["id"]?.stringValue)
    }

    func remaining(_ id: String) throws -> JSONValue? {
        try platform.json("GET", "/api/v1/rewards/\(id)", token: bank.hqOperator, expect: 200)["remaining"]
    }

    func testRevocationGivesBackTheUnitTheBudgetTheLimitsAndTheQuota() throws {
        try start()
        // Two units of budget, once per customer and day; Shanghai has a quota of one.
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 5, budget: "10.00", perCustomer: 1, perDay: 1))["id"]?.stringValue)
        _ = try platform.json("POST", "/api/v1/rewards/\(id)/quotas", token: bank.hqOperator, ["orgId": "sh", "orgPath": "/hq/sh/", "units": 1],
                              expect: 200)
        let first = try bank.grant(id, customer: "c1", key: "a", token: bank.shOperator)
        XCTAssertEqual(first.status, 201, first.bodyText)
        XCTAssertEqual(try bank.grant(id, customer: "c1", key: "a2", token: bank.shOperator).errorCode, "quota_exhausted")
        let firstId = try XCTUnwrap(first.jsonValue["id"]?.stringValue)

        let revoked = try platform.json("POST", "/api/v1/grants/\(firstId):revoke", token: bank.shOperator, ["reason": "误发"], expect: 200)
        XCTAssertEqual(revoked["status"]?.stringValue, "revoked")
        XCTAssertEqual(revoked["revokeReason"]?.stringValue, "误发")
        XCTAssertNotEqual(revoked["revokedAt"], .null)
        XCTAssertEqual(try platform.json("GET", "/api/v1/grants/\(firstId)", token: bank.shOperator, expect: 200)["status"]?.stringValue, "revoked")
        XCTAssertEqual(try platform.count("SELECT total AS n FROM reward_usage WHERE reward_id = $1 AND customer_id = 'c1'", id), 0)
        XCTAssertEqual(try platform.count("SELECT day_count AS n FROM reward_usage WHERE reward_id = $1 AND customer_id = 'c1'", id), 0)
        XCTAssertEqual(try platform.count("SELECT used AS n FROM reward_quotas WHERE reward_id = $1 AND org_path = '/hq/sh/'", id), 0)

        // The same customer, the same branch: granted again (limit and quota were given back).
        let again = try bank.grant(id, customer: "c1", key: "b", token: bank.shOperator)
        XCTAssertEqual(again.status, 201, again.bodyText)

        // The rest of the bank shares the remainder (the other unit of budget).
        XCTAssertEqual(try bank.grant(id, customer: "c2", key: "c").status, 201)
        XCTAssertEqual(try bank.grant(id, customer: "c3", key: "d").errorCode, "quota_exhausted")
        XCTAssertEqual(try remaining(id), 0)
    }

    func testRevocationGivesBackTheBudget() throws {
        try start()
        // Stock 5, but the budget pays two units: the second, then refused, then paid again by a revocation.
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 5, budget: "10.00"))["id"]?.stringValue)
        XCTAssertEqual(try bank.grant(id, customer: "c1", key: "a").status, 201)
        let second = try bank.grant(id, customer: "c2", key: "b")
        XCTAssertEqual(second.status, 201, second.bodyText)
        XCTAssertEqual(try bank.grant(id, customer: "c3", key: "c").errorCode, "budget_exhausted")
        let secondId = try XCTUnwrap(second.jsonValue["id"]?.stringValue)
        _ = try platform.json("POST", "/api/v1/grants/\(secondId):revoke", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(try remaining(id), 1)
        XCTAssertEqual(try bank.grant(id, customer: "c3", key: "c").status, 201)
        XCTAssertEqual(try bank.grant(id, customer: "c4", key: "d").errorCode, "budget_exhausted")
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM grants WHERE reward_id = $1 AND status = 'granted'", id), 2)
        // A revoked grant is not revoked twice (nothing given back twice).
        XCTAssertEqual(try platform.call("POST", "/api/v1/grants/\(secondId):revoke", token: bank.hqOperator, json: nil).errorCode, "grant_revoked")
        XCTAssertEqual(try platform.count("SELECT sum(remaining)::bigint AS n FROM reward_stock WHERE reward_id = $1", id), 0)
    }

    func testRevokingADrawReturnsItsPrize() throws {
        try start()
        let lottery = try bank.reward([
            "kind": "lottery", "stock": 10, "unitCost": "0",
            "lottery": [
                "prizes": [["id": "ipad", "name": "iPad", "weight": 1, "stock": 1, "unitCost": "3000.00"]],
                "consolation": ["id": "thanks", "name": "5元话费", "unitCost": "5.00"],
            ],
        ])
        let id = try XCTUnwrap(lottery["id"]?.stringValue)
        func draw(_ customer: String) throws -> HTTPClientResponse {
            try platform.post("/api/v1/lotteries/\(id):draw", token: bank.hqOperator, json: #"{"customerId":"\#(customer)"}"#, key: customer)
        }
        let won = try draw("w1")
        XCTAssertEqual(won.jsonValue["prize"]?["id"]?.stringValue, "ipad", won.bodyText)
        XCTAssertEqual(try draw("w2").jsonValue["prize"]?["id"]?.stringValue, "thanks")
        let wonId = try XCTUnwrap(won.jsonValue["id"]?.stringValue)
        _ = try platform.json("POST", "/api/v1/grants/\(wonId):revoke", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(try platform.count("SELECT remaining AS n FROM lottery_prizes WHERE lottery_id = $1 AND prize_id = 'ipad'", id), 1)
        XCTAssertEqual(try draw("w3").jsonValue["prize"]?["id"]?.stringValue, "ipad")
        // The consolation prize has no stock to return to.
        let thanksId = try XCTUnwrap(try platform.json("GET", "/api/v1/customers/w2/rewards", token: bank.hqOperator, expect: 200)
            .items.first?["id"]?.stringValue)
        _ = try platform.json("POST", "/api/v1/grants/\(thanksId):revoke", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM lottery_prizes WHERE lottery_id = $1 AND remaining IS NULL", id), 1)
    }

    func testAProvidersRefusalIsFinalAndGivesEverythingBack() throws {
        try start()
        let id = try external(stock: 1, perCustomer: 1)
        try provider(["rejectRate": 1])
        let refused = try bank.grant(id, customer: "e1", key: "k")
        XCTAssertEqual(refused.status, 422, refused.bodyText)
        XCTAssertEqual(refused.errorCode, "external_refused")
        XCTAssertTrue(refused.bodyText.contains("HTTP 400"), refused.bodyText)
        let grantId = try XCTUnwrap(refused.jsonValue["error"]?["details"]?["grantId"]?.stringValue)
        let grant = try platform.json("GET", "/api/v1/grants/\(grantId)", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(grant["status"]?.stringValue, "revoked")
        XCTAssertEqual(grant["externalStatus"]?.stringValue, "failed")
        XCTAssertEqual(try remaining(id), 1)
        XCTAssertEqual(try platform.count("SELECT total AS n FROM reward_usage WHERE reward_id = $1", id), 0)
        // The key's answer stays the refusal, and nothing is retried.
        XCTAssertEqual(try bank.grant(id, customer: "e1", key: "k").errorCode, "external_refused")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(try providerStats()["received"], 1)

        // The unit and the customer's allowance are there for the next grant.
        try provider(["rejectRate": 0])
        let granted = try bank.grant(id, customer: "e1", key: "k2")
        XCTAssertEqual(granted.status, 201, granted.bodyText)
        XCTAssertEqual(granted.jsonValue["externalStatus"]?.stringValue, "fetched")
    }

    func testAnUnavailableProviderIsRetriedABoundedNumberOfTimes() throws {
        try start(["LATTICE_REWARDS_EXTERNAL_ATTEMPTS": "3", "LATTICE_REWARDS_EXTERNAL_RETRY_INTERVAL": "100ms"])
        let id = try external(stock: 2)
        try provider(["failureRate": 1])
        let pending = try bank.grant(id, customer: "u1", key: "k")
        XCTAssertEqual(pending.status, 201, pending.bodyText)
        XCTAssertEqual(pending.jsonValue["externalStatus"]?.stringValue, "pending")
        let grantId = try XCTUnwrap(pending.jsonValue["id"]?.stringValue)
        XCTAssertTrue(try platform.eventually(timeout: 15) {
            try platform.json("GET", "/api/v1/grants/\(grantId)", token: bank.hqOperator, expect: 200)["externalStatus"]?.stringValue == "failed"
        })
        let failed = try platform.json("GET", "/api/v1/grants/\(grantId)", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(failed["status"]?.stringValue, "revoked")
        XCTAssertTrue(failed["revokeReason"]?.stringValue?.contains("after 3 attempts") == true, "\(failed)")
        XCTAssertEqual(try remaining(id), 2)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(try providerStats()["failed"], 3)
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM outbox_events WHERE event_type = 'rewards.revoked'"), 1)
    }

    /// An external reward of 2 units and one grant of it left pending by a provider that fails every call
    /// (the service retrying every `retryInterval`): the reward's and the grant's ids.
    func pendingExternalGrant(retryInterval: String) throws -> (rewardId: String, grantId: String) {
        try start(["LATTICE_REWARDS_EXTERNAL_RETRY_INTERVAL": retryInterval])
        let id = try external(stock: 2)
        try provider(["failureRate": 1])
        let pending = try bank.grant(id, customer: "u1", key: "k")
        XCTAssertEqual(pending.jsonValue["externalStatus"]?.stringValue, "pending", pending.bodyText)
        return (id, try XCTUnwrap(pending.jsonValue["id"]?.stringValue))
    }

    func testAProviderBackAfterAnOutageIsFetchedByTheRetry() throws {
        let (id, grantId) = try pendingExternalGrant(retryInterval: "300ms")
        try provider(["failureRate": 0])
        XCTAssertTrue(try platform.eventually(timeout: 15) {
            try platform.json("GET", "/api/v1/grants/\(grantId)", token: bank.hqOperator, expect: 200)["externalStatus"]?.stringValue == "fetched"
        })
        XCTAssertEqual(try remaining(id), 1)
        XCTAssertEqual(try platform.count("SELECT external_attempts AS n FROM grants WHERE id = $1", grantId), 2)
    }

    func testARevokedPendingGrantIsNotFetchedAfterwards() throws {
        let (id, grantId) = try pendingExternalGrant(retryInterval: "200ms")
        let revoked = try platform.json("POST", "/api/v1/grants/\(grantId):revoke", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(revoked["externalStatus"]?.stringValue, "cancelled")
        let attempts = try platform.count("SELECT external_attempts AS n FROM grants WHERE id = $1", grantId)
        // The provider comes back: the retry job must not ask it for a benefit whose unit was given back.
        try provider(["failureRate": 0])
        Thread.sleep(forTimeInterval: 1.5)
        let after = try platform.json("GET", "/api/v1/grants/\(grantId)", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(after["status"]?.stringValue, "revoked")
        XCTAssertEqual(after["externalStatus"]?.stringValue, "cancelled")
        XCTAssertEqual(after["externalRef"], .null)
        XCTAssertEqual(try platform.count("SELECT external_attempts AS n FROM grants WHERE id = $1", grantId), attempts)
        XCTAssertEqual(try remaining(id), 2)
    }

    func testProviderAnswersAreReadAsFinalOrWorthRetrying() {
        // The rule itself, including statuses the simulator does not produce.
        XCTAssertEqual(ExternalFetch.classify(status: 201, body: ["id": "x1"]), .fetched(ref: "x1"))
        XCTAssertEqual(ExternalFetch.classify(status: 200, body: ["ok": true]), .unavailable("HTTP 200 without a reference"))
        XCTAssertEqual(ExternalFetch.classify(status: 404, body: ["error": ["code": "unknown_product"]]), .refused("HTTP 404 unknown_product"))
        XCTAssertEqual(ExternalFetch.classify(status: 400, body: nil), .refused("HTTP 400"))
        XCTAssertEqual(ExternalFetch.classify(status: 408, body: nil), .unavailable("HTTP 408"))
        XCTAssertEqual(ExternalFetch.classify(status: 429, body: nil), .unavailable("HTTP 429"))
        XCTAssertEqual(ExternalFetch.classify(status: 502, body: nil), .unavailable("HTTP 502"))
    }
}
