import Foundation

/// The sample-ratio-mismatch check: Pearson's chi-square goodness of fit of the observed arm sizes
/// against the planned shares (k − 1 degrees of freedom). A p-value under `alertThreshold` means the
/// assignment or the tracking is broken, and no uplift of the experiment should be trusted.
///
/// "Not enough data" below `minimumExpected` expected customers in any arm (the chi-square
/// approximation's usual rule); "plan unknown" when an arm has no planned share.
public struct SampleRatioCheck: Sendable, Equatable {
    public static let alertThreshold = 0.001
    public static let minimumExpected = 5.0

    public enum Outcome: String, Sendable, Codable {
        case ok
        case mismatch
        case notEnoughData = "not_enough_data"
        case planUnknown = "plan_unknown"
    }

    public var chiSquare: Double?
    public var pValue: Double?
    public var outcome: Outcome

    /// - Parameters:
    ///   - observed: customers per arm.
    ///   - planned: each arm's planned share (any positive scale; normalized here), nil when unknown.
    public init(observed: [Int], planned: [Double?]) {
        precondition(observed.count == planned.count, "one planned share per arm")
        let shares = planned.compactMap { $0 }
        guard observed.count >= 2, shares.count == observed.count, shares.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            outcome = observed.count >= 2 ? .planUnknown : .notEnoughData
            return
        }
        let total = Double(observed.reduce(0, +))
        let scale = shares.reduce(0, +)
        let expected = shares.map { total * $0 / scale }
        guard expected.allSatisfy({ $0 >= Self.minimumExpected }) else {
            outcome = .notEnoughData
            return
        }
        let statistic = zip(observed, expected).reduce(0) { sum, pair in
            let diff = Double(pair.0) - pair.1
            return sum + diff * diff / pair.1
        }
        chiSquare = statistic
        let p = Distributions.chiSquareSurvival(statistic, degrees: observed.count - 1)
        pValue = p
        outcome = p < Self.alertThreshold ? .mismatch : .ok
    }
}
