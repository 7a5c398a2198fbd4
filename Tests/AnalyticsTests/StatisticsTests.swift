@testable import Analytics
import XCTest

/// The experiment statistics against reference values computed with scipy 1.17 and statsmodels 0.15
/// (`scipy.stats.norm.sf`, `scipy.stats.chisquare`, `scipy.stats.chi2.sf`,
/// `statsmodels.stats.proportion.confint_proportions_2indep(method="newcomb", compare="diff")`).
final class StatisticsTests: XCTestCase {
    struct Case {
        let c1, n1, c2, n2: Int
        let z, p, low, high: Double
    }

    static let comparisons: [Case] = [
        Case(c1: 1200, n1: 10000, c2: 1300, n2: 10000, z: 2.138090, p: 0.032509445, low: 0.00083216, high: 0.01916938),
        Case(c1: 50, n1: 1000, c2: 70, n2: 1000, z: 1.883109, p: 0.059685606, low: -0.00090036, high: 0.04115783),
        Case(c1: 30, n1: 200, c2: 45, n2: 210, z: 1.682976, p: 0.092379671, low: -0.01089741, high: 0.13832335),
        Case(c1: 480, n1: 5000, c2: 520, n2: 5000, z: 1.333333, p: 0.18242244, low: -0.00376690, high: 0.01977362),
        Case(c1: 100, n1: 1000, c2: 100, n2: 1000, z: 0, p: 1, low: -0.02642326, high: 0.02642326),
    ]

    func testPooledZTestAndNewcombeIntervalMatchScipy() throws {
        for c in Self.comparisons {
            let r = ProportionComparison(baseline: ArmCount(customers: c.n1, conversions: c.c1),
                                         treatment: ArmCount(customers: c.n2, conversions: c.c2))
            let label = "\(c.c1)/\(c.n1) vs \(c.c2)/\(c.n2)"
            XCTAssertTrue(r.enoughData, label)
            XCTAssertEqual(try XCTUnwrap(r.zScore), c.z, accuracy: 1e-6, label)
            XCTAssertEqual(try XCTUnwrap(r.pValue), c.p, accuracy: 1e-8, label)
            XCTAssertEqual(try XCTUnwrap(r.confidenceInterval).low, c.low, accuracy: 1e-8, label)
            XCTAssertEqual(try XCTUnwrap(r.confidenceInterval).high, c.high, accuracy: 1e-8, label)
            let p1 = Double(c.c1) / Double(c.n1), p2 = Double(c.c2) / Double(c.n2)
            XCTAssertEqual(try XCTUnwrap(r.absoluteUplift), p2 - p1, accuracy: 1e-12, label)
            XCTAssertEqual(try XCTUnwrap(r.relativeUplift), (p2 - p1) / p1, accuracy: 1e-12, label)
        }
    }

    func testTheIssueReferenceToFourPlaces() throws {
        let r = ProportionComparison(baseline: ArmCount(customers: 10000, conversions: 1200),
                                     treatment: ArmCount(customers: 10000, conversions: 1300))
        XCTAssertEqual((try XCTUnwrap(r.zScore) * 10_000).rounded() / 10_000, 2.1381)
        XCTAssertEqual((try XCTUnwrap(r.pValue) * 1_000_000).rounded() / 1_000_000, 0.032509)
    }

    func testTinySamplesAndZeroConversionsSayNotEnoughData() throws {
        // scipy would give p = 0.02498 for 0/500 vs 5/500, but 2.5 expected conversions per arm is below the
        // normal approximation's rule: no p-value, while the (Wilson-based) interval is still reported.
        let sparse = ProportionComparison(baseline: ArmCount(customers: 500, conversions: 0), treatment: ArmCount(customers: 500, conversions: 5))
        XCTAssertFalse(sparse.enoughData)
        XCTAssertNil(sparse.pValue)
        XCTAssertNil(sparse.zScore)
        XCTAssertEqual(try XCTUnwrap(sparse.confidenceInterval).low, 0.00046778, accuracy: 1e-8)
        XCTAssertEqual(try XCTUnwrap(sparse.confidenceInterval).high, 0.02319310, accuracy: 1e-8)
        XCTAssertNil(sparse.relativeUplift, "no relative uplift over a 0% baseline")

        let none = ProportionComparison(baseline: ArmCount(customers: 1000, conversions: 0), treatment: ArmCount(customers: 1000, conversions: 0))
        XCTAssertFalse(none.enoughData)
        XCTAssertNil(none.pValue)
        XCTAssertEqual(none.absoluteUplift, 0)

        let tiny = ProportionComparison(baseline: ArmCount(customers: 12, conversions: 6), treatment: ArmCount(customers: 12, conversions: 9))
        XCTAssertFalse(tiny.enoughData, "12 customers per arm is below the minimum of 30")
        XCTAssertNil(tiny.pValue)

        let empty = ProportionComparison(baseline: ArmCount(customers: 0, conversions: 0), treatment: ArmCount(customers: 40, conversions: 9))
        XCTAssertFalse(empty.enoughData)
        XCTAssertNil(empty.absoluteUplift)
        XCTAssertNil(empty.confidenceInterval)

        let all = ProportionComparison(baseline: ArmCount(customers: 1000, conversions: 1000), treatment: ArmCount(customers: 1000, conversions: 1000))
        XCTAssertFalse(all.enoughData, "everyone converted: no variance to test")
    }

    func testSampleRatioMismatchMatchesScipy() throws {
        let cases: [([Int], [Double], Double, Double)] = [
            ([50_500, 49_500], [0.5, 0.5], 10.0, 0.0015654023),
            ([10_000, 10_300], [0.5, 0.5], 4.433498, 0.035240224),
            ([9_000, 45_500, 45_500], [0.1, 0.45, 0.45], 111.111111, 7.4563929e-25),
            ([980, 9_020], [0.1, 0.9], 0.444444, 0.50498508),
            ([1_000, 1_000, 1_000, 1_100], [0.25, 0.25, 0.25, 0.25], 7.317073, 0.062449683),
        ]
        for (observed, planned, chi, p) in cases {
            let r = SampleRatioCheck(observed: observed, planned: planned)
            XCTAssertEqual(try XCTUnwrap(r.chiSquare), chi, accuracy: 1e-5, "\(observed)")
            XCTAssertEqual(try XCTUnwrap(r.pValue), p, accuracy: p * 1e-6, "\(observed)")
            XCTAssertEqual(r.outcome, p < 0.001 ? .mismatch : .ok, "\(observed)")
        }
        // The issue's reference: 50,500 vs 49,500 → χ² = 10.0, p = 0.00157 (above the 0.001 alert threshold).
        let issue = SampleRatioCheck(observed: [50_500, 49_500], planned: [0.5, 0.5])
        XCTAssertEqual((try XCTUnwrap(issue.pValue) * 100_000).rounded() / 100_000, 0.00157)
        XCTAssertEqual(issue.outcome, .ok)
        // Shares need not sum to 1 (A/B weights of the treated share): they are normalized.
        XCTAssertEqual(SampleRatioCheck(observed: [50_500, 49_500], planned: [45, 45]).chiSquare ?? 0, 10.0, accuracy: 1e-9)
    }

    /// Strata (canvas versions with their own weights) add up: χ² = Σ χ²ᵥ on Σ (kᵥ − 1) degrees of freedom.
    /// With 2 degrees of freedom the chi-square survival is exactly exp(−x/2), a reference without scipy.
    func testStrataAreEachJudgedByTheirOwnPlanAndAddUp() throws {
        let strata = [SampleRatioCheck.Stratum(observed: [510, 490], planned: [0.5, 0.5]),
                      SampleRatioCheck.Stratum(observed: [850, 150], planned: [0.8, 0.2])]
        let r = SampleRatioCheck(strata: strata)
        // 10² / 500 · 2 = 0.4, plus 50² / 800 + 50² / 200 = 15.625.
        XCTAssertEqual(try XCTUnwrap(r.chiSquare), 16.025, accuracy: 1e-9)
        XCTAssertEqual(r.degreesOfFreedom, 2)
        XCTAssertEqual(try XCTUnwrap(r.pValue), exp(-16.025 / 2), accuracy: 1e-15)
        XCTAssertEqual(r.outcome, .mismatch)
        // Each version on plan: no alarm, where pooling 1,300 / 700 against the latest 80/20 would raise one.
        let onPlan = SampleRatioCheck(strata: [SampleRatioCheck.Stratum(observed: [500, 500], planned: [0.5, 0.5]),
                                               SampleRatioCheck.Stratum(observed: [800, 200], planned: [0.8, 0.2])])
        XCTAssertEqual(onPlan.outcome, .ok)
        XCTAssertEqual(SampleRatioCheck(observed: [1_300, 700], planned: [0.8, 0.2]).outcome, .mismatch)
        // A stratum too small to judge, or of one arm, is left out; one without a plan makes the plan unknown.
        let small = SampleRatioCheck(strata: [SampleRatioCheck.Stratum(observed: [3, 4], planned: [0.5, 0.5]),
                                              SampleRatioCheck.Stratum(observed: [900], planned: [1]),
                                              SampleRatioCheck.Stratum(observed: [50_500, 49_500], planned: [0.5, 0.5])])
        XCTAssertEqual(try XCTUnwrap(small.chiSquare), 10.0, accuracy: 1e-9)
        XCTAssertEqual(small.degreesOfFreedom, 1)
        XCTAssertEqual(SampleRatioCheck(strata: [SampleRatioCheck.Stratum(observed: [3, 4], planned: [0.5, 0.5])]).outcome, .notEnoughData)
        XCTAssertEqual(SampleRatioCheck(strata: [SampleRatioCheck.Stratum(observed: [500, 500], planned: [0.5, 0.5]),
                                                 SampleRatioCheck.Stratum(observed: [300, 100], planned: [nil, 0.5])]).outcome, .planUnknown)
        XCTAssertEqual(SampleRatioCheck(strata: []).outcome, .notEnoughData)
    }

    func testSampleRatioEdgeCases() {
        XCTAssertEqual(SampleRatioCheck(observed: [3, 4], planned: [0.5, 0.5]).outcome, .notEnoughData)
        XCTAssertNil(SampleRatioCheck(observed: [3, 4], planned: [0.5, 0.5]).pValue)
        XCTAssertEqual(SampleRatioCheck(observed: [300, 400], planned: [0.5, nil]).outcome, .planUnknown)
        XCTAssertEqual(SampleRatioCheck(observed: [300], planned: [1]).outcome, .notEnoughData)
        // An arm that got nobody is the plainest mismatch.
        XCTAssertEqual(SampleRatioCheck(observed: [1_000, 0], planned: [0.5, 0.5]).outcome, .mismatch)
    }

    func testChiSquareSurvivalMatchesScipy() {
        let cases: [(Double, Int, Double)] = [(10, 1, 0.001565402258), (3.5, 2, 0.1737739435), (7.8, 3, 0.05033109786),
                                              (0.5, 4, 0.9735009788), (30, 5, 1.474858104e-05)]
        for (x, k, expected) in cases {
            XCTAssertEqual(Distributions.chiSquareSurvival(x, degrees: k), expected, accuracy: expected * 1e-8, "χ²(\(k)) > \(x)")
        }
        XCTAssertEqual(Distributions.chiSquareSurvival(0, degrees: 3), 1)
        // One degree of freedom is the square of a normal: Q(x) = 2·(1 − Φ(√x)).
        for x in stride(from: 0.1, through: 40, by: 0.7) {
            XCTAssertEqual(Distributions.chiSquareSurvival(x, degrees: 1), Distributions.twoSidedNormalP(x.squareRoot()), accuracy: 1e-12)
        }
        XCTAssertEqual(Distributions.normalCDF(1.959963984540054), 0.975, accuracy: 1e-12)
        XCTAssertEqual(Distributions.normalSurvival(8), 6.22096057e-16, accuracy: 1e-23)
    }
}
