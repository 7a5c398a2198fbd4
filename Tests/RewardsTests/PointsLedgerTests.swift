import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The points ledger through the gateway: lots, oldest-expiring first, expiry, and concurrent earn/spend
/// for one customer never going negative.
final class PointsLedgerTests: XCTestCase {
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

    func move(_ customer: String, _ action: String, _ body: JSONValue, key: String) throws -> HTTPClientResponse {
        try platform.call("POST", "/api/v1/points/\(customer):\(action)", token: bank.hqOperator,
                          json: String(decoding: try JSONEncoder().encode(body), as: UTF8.self), headers: [("Idempotency-Key", key)])
    }

    func testSpendTakesTheLotsThatExpireFirstAndNeverGoesNegative() throws {
        XCTAssertEqual(try move("c1", "earn", ["points": 100, "validDays": 30], key: "e1").status, 201)
        XCTAssertEqual(try move("c1", "earn", ["points": 80, "validDays": 5], key: "e2").status, 201)
        XCTAssertEqual(try move("c1", "earn", ["points": 80, "validDays": 5], key: "e2").status, 200)
        XCTAssertEqual(try move("c1", "earn", ["points": 81, "validDays": 5], key: "e2").errorCode, "idempotency_conflict")
        // The 5-day lot goes first and whole; the rest comes from the 30-day lot (the other order would
        // leave 30 of the 80).
        let spent = try move("c1", "spend", ["points": 150, "reason": "兑换"], key: "s1")
        XCTAssertEqual(spent.status, 201, spent.bodyText)
        XCTAssertEqual(spent.jsonValue["balance"], 30)
        let account = try platform.json("GET", "/api/v1/points/c1", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(account["balance"], 30)
        guard case .array(let lots)? = account["lots"] else { return XCTFail("\(account)") }
        XCTAssertEqual(lots.map { $0["remaining"] }, [30])
        XCTAssertEqual(lots.first?["earned"], 100)
        // A request naming no expiry replays as itself a moment later (its default year is not a new body).
        XCTAssertEqual(try move("c1", "earn", ["points": 20], key: "d1").status, 201)
        Thread.sleep(forTimeInterval: 1.1)
        XCTAssertEqual(try move("c1", "earn", ["points": 20], key: "d1").status, 200)
        let tooMuch = try move("c1", "spend", ["points": 51], key: "s2")
        XCTAssertEqual(tooMuch.status, 409)
        XCTAssertEqual(tooMuch.errorCode, "insufficient_points")
        XCTAssertEqual(try move("c1", "spend", ["points": 0], key: "s3").status, 400)
        XCTAssertEqual(try move("c1", "spend", ["points": 5], key: "").status, 400)
        // The ledger sums to the balance.
        XCTAssertEqual(try platform.count("SELECT sum(points)::bigint AS n FROM points_entries WHERE customer_id = 'c1'"), 50)
    }

    func testConcurrentEarnAndSpendForOneCustomer() throws {
        XCTAssertEqual(try move("c2", "earn", ["points": 1000], key: "seed").status, 201)
        let tally = Tally()
        let platform = self.platform!, token = bank.hqOperator
        // 300 spends of 10 race 100 earns of 5: at most 1,500 points ever exist, so at most 150 spends pass.
        platform.concurrently(400, threads: 48) { i in
            let r = i % 4 == 0 ? try? platform.post("/api/v1/points/c2:earn", token: token, json: #"{"points":5}"#, key: "earn-\(i)")
                               : try? platform.post("/api/v1/points/c2:spend", token: token, json: #"{"points":10}"#, key: "spend-\(i)")
            tally.add(r.map { "\(i % 4 == 0 ? "earn" : "spend") \($0.status) \($0.errorCode ?? "")" } ?? "error")
        }
        let counts = tally.counts
        XCTAssertEqual(counts["earn 201 "], 100, "\(counts)")
        let spends = counts["spend 201 "] ?? 0
        XCTAssertEqual(spends + (counts["spend 409 insufficient_points"] ?? 0), 300, "\(counts)")
        let balance = try platform.count("SELECT balance AS n FROM points_accounts WHERE customer_id = 'c2'")
        XCTAssertEqual(balance, 1000 + 100 * 5 - spends * 10)
        XCTAssertGreaterThanOrEqual(balance, 0)
        XCTAssertEqual(try platform.count("SELECT sum(points)::bigint AS n FROM points_entries WHERE customer_id = 'c2'"), balance)
        XCTAssertEqual(try platform.count("SELECT sum(remaining)::bigint AS n FROM points_lots WHERE customer_id = 'c2'"), balance)
    }

    func testExpiredLotsCloseByTheScheduledJob() throws {
        let f = ISO8601DateFormatter()
        XCTAssertEqual(try move("c3", "earn", ["points": 40, "expiresAt": .string(f.string(from: Date().addingTimeInterval(2)))], key: "soon").status, 201)
        XCTAssertEqual(try move("c3", "earn", ["points": 60], key: "later").status, 201)
        XCTAssertTrue(try platform.eventually(timeout: 10) {
            try platform.count("SELECT count(*) AS n FROM points_entries WHERE customer_id = 'c3' AND kind = 'expire'") == 1
        })
        XCTAssertEqual(try platform.json("GET", "/api/v1/points/c3", token: bank.hqOperator, expect: 200)["balance"], 60)
        XCTAssertEqual(try platform.count("SELECT balance AS n FROM points_accounts WHERE customer_id = 'c3'"), 60)
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM outbox_events WHERE event_type = 'rewards.points_expired'"), 1)
    }
}
