import Foundation
import ServiceKit
import TestSupport
import XCTest

/// Group commit: every caller gets its own item's outcome once, batches form under concurrency, and
/// the limits hold (batch size, keys never shared in a batch, leaders per group, groups apart).
final class GroupCommitTests: XCTestCase {
    /// What the process closure saw. Thread-safety: `lock` guards everything.
    final class Record: @unchecked Sendable {
        let lock = NSLock()
        var batches: [[Int]] = []
        var running: [String: Int] = [:]
        var mostRunning: [String: Int] = [:]
    }

    func testEachCallerGetsItsOwnOutcomeAndTheLimitsHold() {
        let record = Record()
        let commit = GroupCommit<Int, Int>(maxBatch: 8, maxLeaders: 2, keys: { ["k\($0 % 50)"] }) { items in
            let group = items[0] % 2 == 0 ? "even" : "odd"
            record.lock.withLock {
                record.batches.append(items)
                record.running[group, default: 0] += 1
                record.mostRunning[group] = max(record.mostRunning[group] ?? 0, record.running[group]!)
            }
            Thread.sleep(forTimeInterval: 0.002)   // a commit's time: callers arriving meanwhile queue
            record.lock.withLock { record.running[group]! -= 1 }
            return items.map { $0 * 10 }
        }
        let wrong = Record()
        TestThreads.run(32) { t in
            for i in 0..<40 {
                let item = t * 1_000 + i
                let outcome = commit.submit(item, group: item % 2 == 0 ? "even" : "odd")
                if outcome != item * 10 { wrong.lock.withLock { wrong.batches.append([item, outcome]) } }
            }
        }
        XCTAssertEqual(wrong.batches, [], "callers answered with another item's outcome")
        let all = record.batches.flatMap { $0 }
        XCTAssertEqual(all.count, 32 * 40, "each item processed exactly once")
        XCTAssertEqual(Set(all).count, 32 * 40)
        XCTAssertTrue(record.batches.contains { $0.count > 1 }, "no batch formed under 32 concurrent callers")
        for batch in record.batches {
            XCTAssertLessThanOrEqual(batch.count, 8)
            XCTAssertEqual(Set(batch.map { $0 % 50 }).count, batch.count, "two items of one batch share a key: \(batch)")
            XCTAssertEqual(Set(batch.map { $0 % 2 }).count, 1, "groups mixed in one batch: \(batch)")
        }
        XCTAssertLessThanOrEqual(record.mostRunning["even"] ?? 0, 2)
        XCTAssertLessThanOrEqual(record.mostRunning["odd"] ?? 0, 2)
    }

    /// Batches of one gather nothing, so they are not held to the leader limit either.
    func testBatchesOfOneRunAsManyAtOnceAsThereAreCallers() {
        let record = Record()
        let commit = GroupCommit<Int, Int>(maxBatch: 1, maxLeaders: 2) { items in
            record.lock.withLock {
                record.running["g", default: 0] += 1
                record.mostRunning["g"] = max(record.mostRunning["g"] ?? 0, record.running["g"]!)
            }
            Thread.sleep(forTimeInterval: 0.05)
            record.lock.withLock { record.running["g"]! -= 1 }
            return items
        }
        TestThreads.run(8) { t in XCTAssertEqual(commit.submit(t, group: "g"), t) }
        XCTAssertGreaterThan(record.mostRunning["g"] ?? 0, 2, "batches of one were serialized by the leader limit")
    }

    func testAnItemAloneGoesAtOnce() {
        let commit = GroupCommit<String, String>(maxBatch: 64) { items in items.map { $0.uppercased() } }
        let started = Date()
        XCTAssertEqual(commit.submit("a", group: "g"), "A")
        XCTAssertEqual(commit.submit("b", group: "g"), "B")
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "an idle group waits for nothing")
    }
}
