@testable import Analytics
import Contracts
import Foundation
import Postgres
import TestSupport
import XCTest

/// The sample-ratio check of a canvas whose versions split customers with different weights: each
/// version's customers against that version's plan (review finding: pooling the versions against the
/// latest plan raised a false alarm).
final class ExperimentVersionTests: XCTestCase {
    let data = AnalyticsTestDatabase()
    let store = FactStore(timeZone: "Asia/Shanghai")
    let base = Date(timeIntervalSince1970: 1_796_000_000)

    override func tearDown() { data.dropAll() }

    /// Entries of `cvs_ab` under `version`: `split` customers per arm with the version's `plan`, every
    /// tenth converting; customer ids from `first`.
    func entries(version: Int?, plan: [String: Double], split: [String: Int], first: Int, at offset: TimeInterval) -> [Fact] {
        var facts: [Fact] = []
        var n = first
        for arm in split.keys.sorted() {
            for _ in 0..<(split[arm] ?? 0) {
                let customer = "c\(n)"
                let f = MarketingFact(customerId: customer, orgPath: "/hq/sh/", canvasId: "cvs_ab", canvasVersion: version, nodeId: "n1",
                                      arm: arm, plannedShare: plan[arm])
                facts.append(Fact(eventId: UUID(), type: .journeyEntered, occurredAt: base.addingTimeInterval(offset + Double(n)), fact: f))
                if n % 10 == 0 {
                    facts.append(Fact(eventId: UUID(), type: .journeyConverted, occurredAt: base.addingTimeInterval(offset + Double(n) + 5),
                                      fact: MarketingFact(customerId: customer, orgPath: "/hq/sh/", canvasId: "cvs_ab", canvasVersion: version,
                                                          nodeId: "n1", amount: "10.00")))
                }
                n += 1
            }
        }
        return facts
    }

    func report(_ facts: [Fact]) throws -> ExperimentReport {
        let db = try data.make()
        for start in stride(from: 0, to: facts.count, by: 500) {
            try db.transaction { try store.ingest(Array(facts[start..<min(start + 500, facts.count)]), on: $0) }
        }
        return try ReportStore(database: db, days: BankDays(timeZone: TimeZone(identifier: "Asia/Shanghai")!))
            .experiments(canvasId: "cvs_ab", orgPath: "/hq/")
    }

    /// Version 1 splits A/B 50/50, version 2 80/20; both follow their plan. Pooled against the latest
    /// plan (3,700 / 1,300 against 4,000 / 1,000 expected: χ² = 112.5) this would be a mismatch.
    func testTwoVersionsWithDifferentWeightsAndNoRealMismatchRaiseNoWarning() throws {
        let v1 = entries(version: 1, plan: ["A": 0.5, "B": 0.5], split: ["A": 500, "B": 500], first: 0, at: 0)
        let v2 = entries(version: 2, plan: ["A": 0.8, "B": 0.2], split: ["A": 3_200, "B": 800], first: 1_000, at: 100_000)
        // Customers of version 1 entering again under version 2 stay in their first arm and version.
        let again = entries(version: 2, plan: ["A": 0.8, "B": 0.2], split: ["B": 50], first: 0, at: 200_000)
            .filter { $0.type == MarketingFactType.journeyEntered.rawValue }
        let r = try report(v1 + v2 + again)
        XCTAssertEqual(r.sampleRatio.outcome, .ok)
        XCTAssertNil(r.sampleRatio.warning)
        XCTAssertEqual(try XCTUnwrap(r.sampleRatio.chiSquare), 0, accuracy: 1e-9)
        XCTAssertEqual(r.sampleRatio.degreesOfFreedom, 2)
        XCTAssertEqual(r.sampleRatio.versions.map(\.canvasVersion), [1, 2])
        XCTAssertEqual(r.sampleRatio.versions.map(\.customers), [1_000, 4_000])
        XCTAssertEqual(r.sampleRatio.versions.map(\.outcome), [.ok, .ok])
        let a = try XCTUnwrap(r.arms.first { $0.arm == "A" }), b = try XCTUnwrap(r.arms.first { $0.arm == "B" })
        XCTAssertEqual(a.customers, 3_700)
        XCTAssertEqual(b.customers, 1_300)
        XCTAssertEqual(a.conversions + b.conversions, 500)
        // The plan an arm had over the versions, weighted by their customers, matches what it got.
        XCTAssertEqual(try XCTUnwrap(a.plannedShare), 0.74, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(b.plannedShare), 0.26, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(a.observedShare), 0.74, accuracy: 1e-12)
    }

    /// The check still finds a real mismatch, and names its version.
    func testAVersionThatBrokeItsSplitIsAMismatchNamedByVersion() throws {
        let v1 = entries(version: 1, plan: ["A": 0.5, "B": 0.5], split: ["A": 500, "B": 500], first: 0, at: 0)
        let v2 = entries(version: 2, plan: ["A": 0.8, "B": 0.2], split: ["A": 600, "B": 400], first: 1_000, at: 100_000)
        let r = try report(v1 + v2)
        XCTAssertEqual(r.sampleRatio.outcome, .mismatch)
        XCTAssertNotNil(r.sampleRatio.warning)
        XCTAssertEqual(r.sampleRatio.versions.map(\.outcome), [.ok, .mismatch])
        // χ² of version 2: (600 − 800)² / 800 + (400 − 200)² / 200 = 250, with 2 degrees of freedom in all.
        XCTAssertEqual(try XCTUnwrap(r.sampleRatio.chiSquare), 250, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(r.sampleRatio.pValue), exp(-125), accuracy: 1e-60)
    }

    /// Entries without a version are their own stratum (the canvas did not say), shown without one.
    func testEntriesWithoutAVersionAreAStratumOfTheirOwn() throws {
        let legacy = entries(version: nil, plan: ["A": 0.5, "B": 0.5], split: ["A": 100, "B": 100], first: 0, at: 0)
        let v3 = entries(version: 3, plan: ["A": 0.9, "B": 0.1], split: ["A": 900, "B": 100], first: 200, at: 100_000)
        let r = try report(legacy + v3)
        XCTAssertEqual(r.sampleRatio.outcome, .ok)
        XCTAssertEqual(r.sampleRatio.versions.map(\.canvasVersion), [nil, 3])
    }

    func testReportFromVersionCountsWithoutADatabase() throws {
        func arm(_ v: Int?, _ name: String, _ n: Int, _ share: Double?) -> ExperimentReport.VersionArm {
            ExperimentReport.VersionArm(canvasVersion: v, arm: name, count: ArmCount(customers: n, conversions: n / 10), plannedShare: share)
        }
        // Version 2 drops arm B: its absence from that plan is a planned share of 0 there.
        let dropped = ExperimentReport(canvasId: "c", orgPath: "/hq/", versionArms: [
            arm(1, "A", 500, 0.5), arm(1, "B", 500, 0.5), arm(2, "A", 1_000, 1.0),
        ])
        XCTAssertEqual(dropped.sampleRatio.outcome, .ok)
        XCTAssertEqual(dropped.sampleRatio.degreesOfFreedom, 1, "a one-arm version has nothing to compare")
        XCTAssertEqual(try XCTUnwrap(dropped.arms.first { $0.arm == "B" }?.plannedShare), 0.25, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(dropped.arms.first { $0.arm == "A" }?.plannedShare), 0.75, accuracy: 1e-12)
        // An arm with customers but no share in its version: the plan is unknown, and so is the arm's pooled share.
        let unknown = ExperimentReport(canvasId: "c", orgPath: "/hq/", versionArms: [
            arm(1, "A", 500, 0.5), arm(1, "B", 500, 0.5), arm(2, "A", 800, 0.8), arm(2, "C", 200, nil),
        ])
        XCTAssertEqual(unknown.sampleRatio.outcome, .planUnknown)
        XCTAssertNil(unknown.arms.first { $0.arm == "C" }?.plannedShare)
        XCTAssertNil(unknown.arms.first { $0.arm == "B" }?.plannedShare)
        // An arm planned in a version but given nobody is the plainest mismatch.
        let empty = ExperimentReport(canvasId: "c", orgPath: "/hq/", versionArms: [
            arm(1, "A", 500, 0.5), arm(1, "B", 500, 0.5), arm(2, "A", 1_000, 0.5), arm(2, "B", 0, 0.5),
        ])
        XCTAssertEqual(empty.sampleRatio.outcome, .mismatch)
        XCTAssertEqual(empty.sampleRatio.versions.map(\.outcome), [.ok, .mismatch])
    }
}
