import Foundation

/// One arm of an experiment: how many customers it had and how many of them converted.
public struct ArmCount: Sendable, Equatable {
    public var customers: Int
    public var conversions: Int

    public init(customers: Int, conversions: Int) {
        self.customers = customers
        self.conversions = conversions
    }

    public var rate: Double? { customers > 0 ? Double(conversions) / Double(customers) : nil }
}

/// A treatment arm compared with the baseline (the control group, or the first A/B branch):
/// the pooled two-proportion z-test, Newcombe's 95% interval of the difference (his method 10, built
/// from the two Wilson score intervals: it stays inside [-1, 1] and is honest at 0% and 100%, where
/// Wald's collapses to zero width), and the absolute and relative uplift.
///
/// "Not enough data": the z-test's normal approximation needs, in each arm, at least
/// `minimumCustomers` customers and at least `minimumExpected` expected conversions and
/// non-conversions under the pooled rate. Short of that, `zScore` and `pValue` are nil and
/// `enoughData` is false: a p-value from 3 conversions misleads more than it tells.
public struct ProportionComparison: Sendable, Equatable {
    public static let minimumCustomers = 30
    public static let minimumExpected = 5.0

    public var baseline: ArmCount
    public var treatment: ArmCount
    /// treatment rate − baseline rate.
    public var absoluteUplift: Double?
    /// (treatment rate − baseline rate) / baseline rate; nil when the baseline rate is 0.
    public var relativeUplift: Double?
    public var confidenceInterval: (low: Double, high: Double)?
    public var zScore: Double?
    public var pValue: Double?
    public var enoughData: Bool

    public init(baseline: ArmCount, treatment: ArmCount) {
        self.baseline = baseline
        self.treatment = treatment
        guard let p1 = baseline.rate, let p2 = treatment.rate else {
            enoughData = false
            return
        }
        absoluteUplift = p2 - p1
        relativeUplift = p1 > 0 ? (p2 - p1) / p1 : nil
        confidenceInterval = Self.newcombeInterval(baseline: baseline, treatment: treatment)
        let n1 = Double(baseline.customers), n2 = Double(treatment.customers)
        let pooled = Double(baseline.conversions + treatment.conversions) / (n1 + n2)
        enoughData = baseline.customers >= Self.minimumCustomers && treatment.customers >= Self.minimumCustomers
            && min(n1, n2) * min(pooled, 1 - pooled) >= Self.minimumExpected
        guard enoughData else { return }
        let se = (pooled * (1 - pooled) * (1 / n1 + 1 / n2)).squareRoot()
        let z = se > 0 ? (p2 - p1) / se : 0
        zScore = z
        pValue = Distributions.twoSidedNormalP(z)
    }

    /// Wilson's 95% score interval of one proportion.
    static func wilson(_ arm: ArmCount, z: Double = Distributions.z95) -> (low: Double, high: Double) {
        let n = Double(arm.customers), p = Double(arm.conversions) / n, z2 = z * z
        let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        return (max(0, centre - half), min(1, centre + half))
    }

    /// Newcombe (1998) method 10 for p2 − p1.
    static func newcombeInterval(baseline: ArmCount, treatment: ArmCount) -> (low: Double, high: Double) {
        let p1 = Double(baseline.conversions) / Double(baseline.customers)
        let p2 = Double(treatment.conversions) / Double(treatment.customers)
        let (l1, u1) = wilson(baseline), (l2, u2) = wilson(treatment)
        let d = p2 - p1
        let low = d - ((p2 - l2) * (p2 - l2) + (u1 - p1) * (u1 - p1)).squareRoot()
        let high = d + ((u2 - p2) * (u2 - p2) + (p1 - l1) * (p1 - l1)).squareRoot()
        return (low, high)
    }

    public static func == (a: ProportionComparison, b: ProportionComparison) -> Bool {
        a.baseline == b.baseline && a.treatment == b.treatment && a.absoluteUplift == b.absoluteUplift
            && a.relativeUplift == b.relativeUplift && a.confidenceInterval?.low == b.confidenceInterval?.low
            && a.confidenceInterval?.high == b.confidenceInterval?.high && a.zScore == b.zScore && a.pValue == b.pValue
            && a.enoughData == b.enoughData
    }
}
