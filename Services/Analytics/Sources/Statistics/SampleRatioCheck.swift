import Foundation

/// The sample-ratio-mismatch check: Pearson's chi-square goodness of fit of the observed arm sizes
/// against the planned shares. A p-value under `alertThreshold` means the assignment or the tracking
/// is broken, and no uplift of the experiment should be trusted.
///
/// Customers assigned under different plans (the versions of a canvas whose A/B weights changed) are
/// separate strata: each is compared with its own plan and the statistics add up — χ² = Σ χ²ᵥ with
/// Σ (kᵥ − 1) degrees of freedom, the test of "every version followed its plan". Pooling them against
/// one plan would raise a false alarm whenever the weights changed.
///
/// A stratum is left out below `minimumExpected` expected customers in any of its arms (the
/// chi-square approximation's usual rule) or with a single arm; "not enough data" when no stratum is
/// left; "plan unknown" when an arm with customers has no planned share.
public struct SampleRatioCheck: Sendable, Equatable {
    public static let alertThreshold = 0.001
    public static let minimumExpected = 5.0

    public enum Outcome: String, Sendable, Codable {
        case ok
        case mismatch
        case notEnoughData = "not_enough_data"
        case planUnknown = "plan_unknown"
    }

    /// The customers of one plan: per arm, how many there are and the arm's planned share (any
    /// positive scale; normalized within the stratum), nil when unknown.
    public struct Stratum: Sendable, Equatable {
        public var observed: [Int]
        public var planned: [Double?]

        public init(observed: [Int], planned: [Double?]) {
            precondition(observed.count == planned.count, "one planned share per arm")
            self.observed = observed
            self.planned = planned
        }
    }

    public var chiSquare: Double?
    public var degreesOfFreedom: Int?
    public var pValue: Double?
    public var outcome: Outcome

    /// One plan for every customer.
    /// - Parameters:
    ///   - observed: customers per arm.
    ///   - planned: each arm's planned share (any positive scale; normalized here), nil when unknown.
    public init(observed: [Int], planned: [Double?]) {
        self.init(strata: [Stratum(observed: observed, planned: planned)])
    }

    /// Each stratum against its own plan.
    public init(strata: [Stratum]) {
        var statistic = 0.0, degrees = 0, planKnown = true
        for stratum in strata {
            let total = Double(stratum.observed.reduce(0, +))
            guard total > 0, stratum.observed.count >= 2 else { continue }
            let shares = stratum.planned.compactMap { $0 }
            guard shares.count == stratum.observed.count, shares.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                planKnown = false
                continue
            }
            let scale = shares.reduce(0, +)
            let expected = shares.map { total * $0 / scale }
            guard expected.allSatisfy({ $0 >= Self.minimumExpected }) else { continue }
            statistic += zip(stratum.observed, expected).reduce(0) { sum, pair in
                let diff = Double(pair.0) - pair.1
                return sum + diff * diff / pair.1
            }
            degrees += stratum.observed.count - 1
        }
        guard planKnown else {
            outcome = .planUnknown
            return
        }
        guard degrees > 0 else {
            outcome = .notEnoughData
            return
        }
        chiSquare = statistic
        degreesOfFreedom = degrees
        let p = Distributions.chiSquareSurvival(statistic, degrees: degrees)
        pValue = p
        outcome = p < Self.alertThreshold ? .mismatch : .ok
    }
}
