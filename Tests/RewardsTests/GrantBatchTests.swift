import Contracts
import Foundation
import Postgres
@testable import Rewards
import ServiceKit
import TestSupport
import XCTest

/// The batch statement on its own, against the rewards schema of a running platform: a batch that
/// failed every time would be hidden by the fallback (every grant going alone), so these outcomes are
/// checked directly.
final class GrantBatchTests: XCTestCase {
    func testABatchGrantsWhatItCanAndSendsTheRestAloneWithNothingLeaked() throws {
        // One stock row, so that the two shards a batch holds are all the stock there is.
        let platform = try RewardsPlatform(rewardsEnvironment: ["LATTICE_REWARDS_STOCK_SHARDS": "1"])
        defer { platform.stop() }
        let bank = try RewardsBank(platform: platform)
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 5, perCustomer: 1))["id"]?.stringValue)
        let reward = try Reward(row: try platform.pool.query("SELECT \(Reward.columns) FROM rewards r WHERE r.id = $1", id)[0])
        let facts = try RewardFacts(schema: platform.schemas[1], destinations: ["analytics"], notifies: false)
        let log = InMemoryLogSink()
        let batch = GrantBatch(database: platform.pool, facts: facts, timeZone: "Asia/Shanghai", logger: Logger(service: "rewards", sink: log))
        let caller = CallerIdentity(userId: "u-test", orgId: "hq", orgPath: "/hq/", roles: ["operator"], rights: ["edit"])
        func items(_ pairs: [(String, String)]) throws -> [GrantBatch.Item] {
            try pairs.map { customer, key in
                GrantBatch.Item(id: RecordId.timeOrdered("grt_"), reward: reward,
                                request: try GrantRequest(body: ["customerId": .string(customer)]), key: key, caller: caller)
            }
        }
        func names(_ outcomes: [GrantBatch.Outcome]) -> [String] {
            outcomes.map {
                switch $0 {
                case .granted(let grant): return "granted \(grant.customerId)"
                case .limitReached: return "limit"
                case .replay: return "replay"
                case .alone: return "alone"
                }
            }
        }

        XCTAssertEqual(names(batch.grant(try items([("c1", "k1"), ("c2", "k2"), ("c3", "k3")]))),
                       ["granted c1", "granted c2", "granted c3"], log.lines.joined(separator: "\n"))
        // c1 has used its one; k1 was granted; two units are left for three new customers.
        XCTAssertEqual(names(batch.grant(try items([("c1", "k4"), ("c4", "k1"), ("c5", "k5"), ("c6", "k6"), ("c7", "k7")]))),
                       ["limit", "replay", "granted c5", "granted c6", "alone"], log.lines.joined(separator: "\n"))

        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM grants WHERE reward_id = $1", id), 5)
        XCTAssertEqual(try platform.count("SELECT sum(remaining)::bigint AS n FROM reward_stock WHERE reward_id = $1", id), 0)
        XCTAssertEqual(try platform.count("SELECT sum(total)::bigint AS n FROM reward_usage WHERE reward_id = $1", id), 5)
        XCTAssertEqual(try platform.count("""
            SELECT count(*) AS n FROM outbox_events o JOIN grants g ON o.payload->>'grantId' = g.id
             WHERE g.reward_id = $1 AND o.event_type = 'rewards.granted' AND o.destination = 'analytics'
            """, id), 5)
    }
}
