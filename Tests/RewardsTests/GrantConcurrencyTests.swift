import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The money proofs: real concurrent HTTP clients through the gateway against the real process, and the
/// outcome counted from the database.
final class GrantConcurrencyTests: XCTestCase {
    var platform: RewardsPlatform!
    var bank: RewardsBank!

    override func setUpWithError() throws {
        platform = try RewardsPlatform()
        bank = try RewardsBank(platform: platform)
    }

    override func tearDown() {
        if (testRun?.failureCount ?? 0) > 0, let p = platform {
            // Errors and 5xx answers only: the relay's warnings about its absent subscriber would bury them.
            print("rewards log:\n" + p.rewards.standardOutput.split(separator: "\n")
                .filter { $0.contains("\"level\":\"error\"") || $0.contains("\"status\":5") }.suffix(5).joined(separator: "\n"))
            print("gateway log:\n" + p.gateway.standardOutput.split(separator: "\n")
                .filter { $0.contains("\"level\":\"error\"") || $0.contains("\"status\":5") }.suffix(5).joined(separator: "\n"))
        }
        platform?.stop()
    }

    func grantsAndRemaining(_ id: String) throws -> (granted: Int, remaining: Int) {
        (try platform.count("SELECT count(*) AS n FROM grants WHERE reward_id = $1 AND status = 'granted'", id),
         try platform.count("SELECT coalesce(sum(remaining), 0)::bigint AS n FROM reward_stock WHERE reward_id = $1", id))
    }

    func testTwoThousandConcurrentGrantsOnAStockOfOneThousandGrantExactlyOneThousand() throws {
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 1000))["id"]?.stringValue)
        let tally = Tally()
        let bank = self.bank!
        platform.concurrently(2000, threads: 64) { i in
            do {
                let r = try bank.grant(id, customer: "c\(i)", key: "k\(i)")
                tally.add(r.status == 201 ? "201" : "\(r.status) \(r.errorCode ?? r.bodyText)")
            } catch {
                tally.add("error \(error)")
            }
        }
        XCTAssertEqual(tally.counts, ["201": 1000, "409 out_of_stock": 1000])
        let (granted, remaining) = try grantsAndRemaining(id)
        XCTAssertEqual(granted, 1000)
        XCTAssertEqual(remaining, 0)
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM outbox_events WHERE event_type = 'rewards.granted'"), 1000)
    }

    func testTheBudgetIsNeverExceeded() throws {
        // 1,000 in stock at 5.00 each, but only 2,500.00 of budget: 500 grants.
        let reward = try bank.reward(RewardsBank.coupon(stock: 1000, cost: "5.00", budget: "2500.00"))
        let id = try XCTUnwrap(reward["id"]?.stringValue)
        XCTAssertEqual(reward["grantable"], 500)
        let tally = Tally()
        let bank = self.bank!
        platform.concurrently(800, threads: 64) { i in
            let r = try? bank.grant(id, customer: "c\(i)", key: "k\(i)")
            tally.add(r.map { $0.status == 201 ? "201" : "\($0.status) \($0.errorCode ?? "")" } ?? "error")
        }
        XCTAssertEqual(tally.counts, ["201": 500, "409 budget_exhausted": 300])
        let spent = try platform.pool.query("SELECT sum(cost)::text AS s FROM grants WHERE reward_id = $1", id)[0].decode("s", as: String.self)
        XCTAssertEqual(spent, "2500.00")
    }

    func testOneCustomerHammeringNeverPassesItsLimits() throws {
        let total = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 1000, perCustomer: 3))["id"]?.stringValue)
        let daily = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 1000, perDay: 2))["id"]?.stringValue)
        let bank = self.bank!
        for (id, limit) in [(total, 3), (daily, 2)] {
            let tally = Tally()
            platform.concurrently(200, threads: 32) { i in
                let r = try? bank.grant(id, customer: "same", key: "k\(i)")
                tally.add(r.map { $0.status == 201 ? "201" : "\($0.status) \($0.errorCode ?? "")" } ?? "error")
            }
            XCTAssertEqual(tally.counts, ["201": limit, "409 limit_reached": 200 - limit])
            XCTAssertEqual(try grantsAndRemaining(id).granted, limit)
            XCTAssertEqual(try grantsAndRemaining(id).remaining, 1000 - limit)
        }
        // The next bank-local day (the usage rows dated a day back): the daily limit starts over, the total does not.
        try platform.pool.execute("UPDATE reward_usage SET day = day - 1 WHERE reward_id = ANY($1::text[])", [total, daily])
        XCTAssertEqual(try bank.grant(total, customer: "same", key: "next-t1").errorCode, "limit_reached")
        XCTAssertEqual(try bank.grant(daily, customer: "same", key: "next-d1").status, 201)
        XCTAssertEqual(try bank.grant(daily, customer: "same", key: "next-d2").status, 201)
        XCTAssertEqual(try bank.grant(daily, customer: "same", key: "next-d3").errorCode, "limit_reached")
    }

    func testARepeatedIdempotencyKeyNeverGrantsTwice() throws {
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 1000))["id"]?.stringValue)
        let tally = Tally()
        let bank = self.bank!
        platform.concurrently(300, threads: 64) { i in
            // Three keys, each sent 100 times at once.
            guard let r = try? bank.grant(id, customer: "c\(i % 3)", key: "key-\(i % 3)") else { return tally.add("error") }
            tally.add("\(r.status)", value: r.jsonValue["id"]?.stringValue)
        }
        XCTAssertEqual(tally.counts["201"], 3, "\(tally.counts)")
        XCTAssertEqual(tally.counts["200"], 297, "\(tally.counts)")
        XCTAssertEqual(Set(tally.collected).count, 3)
        let (granted, remaining) = try grantsAndRemaining(id)
        XCTAssertEqual(granted, 3)
        // The trap of the notes: no unit lost to a skipped duplicate.
        XCTAssertEqual(remaining, 997)
    }
}

/// A rewards process killed in the middle of concurrent grants loses no accepted grant and leaks no unit.
final class GrantCrashTests: XCTestCase {
    func testAKilledProcessLosesNoAcceptedGrantAndLeaksNoStock() throws {
        let platform = try RewardsPlatform()
        defer { platform.stop() }
        let bank = try RewardsBank(platform: platform)
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 100_000))["id"]?.stringValue)
        let accepted = Tally()
        let killer = Thread {
            Thread.sleep(forTimeInterval: 1.0)
            try? platform.crashAndRestartRewards()
        }
        killer.start()
        platform.concurrently(3000, threads: 32) { i in
            guard let r = try? bank.grant(id, customer: "c\(i)", key: "k\(i)") else { return accepted.add("error") }
            if r.status == 201 || r.status == 200 { accepted.add("ok", value: r.jsonValue["id"]?.stringValue) } else { accepted.add("\(r.status)") }
        }
        while platform.rewards.process.isRunning == false { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertTrue(platform.eventually(timeout: 20) { (try? bank.grant(id, customer: "after", key: "after").status) == 201 })
        // Every grant answered 201/200 is in the database; granted + left in the shards = the stock.
        let ids = Set(accepted.collected)
        XCTAssertGreaterThan(ids.count, 0)
        let stored = try platform.pool.query("SELECT id FROM grants WHERE reward_id = $1", id).map { try $0.decode("id", as: String.self) }
        XCTAssertTrue(ids.isSubset(of: Set(stored)), "accepted grants missing after the crash")
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM grants WHERE reward_id = $1", id)
                       + platform.count("SELECT sum(remaining)::bigint AS n FROM reward_stock WHERE reward_id = $1", id), 100_000)
        // And every stored grant has its fact.
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM outbox_events WHERE event_type = 'rewards.granted'"), stored.count)
        print("crash test: \(accepted.counts)")
    }
}
