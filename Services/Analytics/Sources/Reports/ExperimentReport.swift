import Foundation

/// `GET /api/v1/analytics/canvases/{id}/experiments`: each A/B branch and the control group of a
/// canvas (arms from `canvas.journey_entered`), every treatment compared with the baseline — the
/// control group when there is one, else the first branch by name.
///
/// A customer counts once per canvas, in the arm of its entry, and converts at most once. Statistics
/// (`ProportionComparison`): pooled two-proportion z-test (two-sided), Newcombe's 95% interval of the
/// difference (Wilson score based), absolute and relative uplift; below the sample rules the verdict
/// is `not_enough_data` and no p-value is given. The sample-ratio check compares the arms' sizes with
/// the planned shares carried by the entry facts (`plannedShare`), each canvas version's customers
/// with that version's shares (a new version may change the A/B weights; `SampleRatioCheck` adds the
/// versions up); under p = 0.001 a warning says the split is broken and no uplift should be trusted.
/// An arm's `plannedShare` is the share its versions planned for it, weighted by their customers.
public struct ExperimentReport: TabularReport, Equatable {
    public enum Verdict: String, Encodable, Sendable {
        case baseline
        case significant
        case notSignificant = "not_significant"
        case notEnoughData = "not_enough_data"
    }

    public struct Arm: Encodable, Equatable, Sendable {
        public var arm: String
        public var isBaseline: Bool
        public var customers: Int
        public var conversions: Int
        public var rate: Double?
        public var plannedShare: Double?
        public var observedShare: Double?
        public var absoluteUplift: Double?
        public var relativeUplift: Double?
        public var ciLow: Double?
        public var ciHigh: Double?
        public var zScore: Double?
        public var pValue: Double?
        public var verdict: Verdict
    }

    public struct SampleRatio: Encodable, Equatable, Sendable {
        public var chiSquare: Double?
        public var degreesOfFreedom: Int?
        public var pValue: Double?
        public var outcome: SampleRatioCheck.Outcome
        public var warning: String?
        /// The same check for each canvas version on its own (a mismatch points at its version).
        public var versions: [VersionSampleRatio]
    }

    public struct VersionSampleRatio: Encodable, Equatable, Sendable {
        /// Absent for entries that did not name their canvas version.
        public var canvasVersion: Int?
        public var customers: Int
        public var chiSquare: Double?
        public var pValue: Double?
        public var outcome: SampleRatioCheck.Outcome
    }

    /// One arm's customers among the entries of one canvas version, with that version's planned share
    /// of the arm (nil when the version's entries did not carry one).
    public struct VersionArm: Sendable, Equatable {
        public var canvasVersion: Int?
        public var arm: String
        public var count: ArmCount
        public var plannedShare: Double?

        public init(canvasVersion: Int?, arm: String, count: ArmCount, plannedShare: Double?) {
            self.canvasVersion = canvasVersion
            self.arm = arm
            self.count = count
            self.plannedShare = plannedShare
        }
    }

    public var canvasId: String
    public var orgPath: String
    public var baseline: String?
    public var significanceLevel: Double
    public var confidenceInterval: String
    public var arms: [Arm]
    public var sampleRatio: SampleRatio

    public static let significanceLevel = 0.05

    /// The report of a canvas whose entries all came under one plan.
    public init(canvasId: String, orgPath: String, counts: [(arm: String, count: ArmCount, plannedShare: Double?)]) {
        self.init(canvasId: canvasId, orgPath: orgPath,
                  versionArms: counts.map { VersionArm(canvasVersion: nil, arm: $0.arm, count: $0.count, plannedShare: $0.plannedShare) })
    }

    /// The report from each (canvas version, arm)'s counts: the arms' figures pool the versions, the
    /// sample-ratio check keeps them apart.
    public init(canvasId: String, orgPath: String, versionArms: [VersionArm]) {
        self.canvasId = canvasId
        self.orgPath = orgPath
        significanceLevel = Self.significanceLevel
        confidenceInterval = "95% Newcombe (Wilson score) interval of the rate difference against the baseline"
        let versions = Self.versions(versionArms)
        let sorted = Self.pooled(versionArms, versions: versions)
        let base = sorted.first { $0.arm == "control" } ?? sorted.first
        baseline = base?.arm
        let total = sorted.reduce(0) { $0 + $1.count.customers }
        arms = sorted.map { entry in
            var arm = Arm(arm: entry.arm, isBaseline: entry.arm == base?.arm, customers: entry.count.customers,
                          conversions: entry.count.conversions, rate: entry.count.rate, plannedShare: entry.plannedShare,
                          observedShare: Ratio.of(entry.count.customers, total), verdict: .baseline)
            if let base, entry.arm != base.arm {
                let c = ProportionComparison(baseline: base.count, treatment: entry.count)
                arm.absoluteUplift = c.absoluteUplift
                arm.relativeUplift = c.relativeUplift
                arm.ciLow = c.confidenceInterval?.low
                arm.ciHigh = c.confidenceInterval?.high
                arm.zScore = c.zScore
                arm.pValue = c.pValue
                if let p = c.pValue {
                    arm.verdict = p < Self.significanceLevel ? .significant : .notSignificant
                } else {
                    arm.verdict = .notEnoughData
                }
            }
            return arm
        }
        let check = SampleRatioCheck(strata: versions.map(\.stratum))
        var warning: String?
        if check.outcome == .mismatch {
            warning = String(format: "sample ratio mismatch (p = %.2g < 0.001): the arms' sizes do not match the planned split; "
                             + "check assignment and tracking before trusting any uplift", check.pValue ?? 0)
        }
        let perVersion = versions.filter { $0.customers > 0 }.map { v in
            let c = SampleRatioCheck(strata: [v.stratum])
            return VersionSampleRatio(canvasVersion: v.canvasVersion, customers: v.customers, chiSquare: c.chiSquare, pValue: c.pValue,
                                      outcome: c.outcome)
        }
        sampleRatio = SampleRatio(chiSquare: check.chiSquare, degreesOfFreedom: check.degreesOfFreedom, pValue: check.pValue,
                                  outcome: check.outcome, warning: warning, versions: perVersion)
    }

    /// One canvas version's arms: those its plan names and those that got customers.
    struct Version {
        var canvasVersion: Int?
        var arms: [VersionArm]
        var customers: Int { arms.reduce(0) { $0 + $1.count.customers } }
        /// Whether the version's plan names a share for every arm that got customers.
        var planKnown: Bool { arms.allSatisfy { $0.plannedShare != nil || $0.count.customers == 0 } && arms.contains { $0.plannedShare != nil } }
        var stratum: SampleRatioCheck.Stratum {
            SampleRatioCheck.Stratum(observed: arms.map(\.count.customers), planned: arms.map(\.plannedShare))
        }
    }

    static func versions(_ versionArms: [VersionArm]) -> [Version] {
        Dictionary(grouping: versionArms, by: \.canvasVersion)
            .map { Version(canvasVersion: $0.key, arms: $0.value.sorted { $0.arm < $1.arm }) }
            .sorted { ($0.canvasVersion ?? Int.min) < ($1.canvasVersion ?? Int.min) }
    }

    /// Each arm over all versions, by name: customers and conversions summed, and the planned share as
    /// the versions' shares weighted by their customers (an arm a version's plan leaves out had a share
    /// of 0 there); nil when a version with customers has no plan for the arm.
    static func pooled(_ versionArms: [VersionArm], versions: [Version]) -> [(arm: String, count: ArmCount, plannedShare: Double?)] {
        let total = versions.reduce(0) { $0 + $1.customers }
        return Set(versionArms.map(\.arm)).sorted().map { name in
            var count = ArmCount(customers: 0, conversions: 0)
            var share: Double? = 0
            for version in versions {
                let entry = version.arms.first { $0.arm == name }
                if let entry {
                    count.customers += entry.count.customers
                    count.conversions += entry.count.conversions
                }
                guard version.customers > 0, let sum = share else { continue }
                if let planned = entry?.plannedShare {
                    share = sum + Double(version.customers) / Double(total) * planned
                } else if entry != nil || !version.planKnown {
                    share = nil   // customers in an arm their version did not plan, or a version without a plan
                }                 // else the version's plan leaves the arm out: a share of 0 there
            }
            // No version with customers: the plan as written (one version's share, when there is one).
            if total == 0 { share = versionArms.first { $0.arm == name && $0.plannedShare != nil }?.plannedShare }
            return (name, count, share)
        }
    }

    public var fileName: String { "experiments-\(canvasId)" }

    public var table: ReportTable {
        ReportTable(columns: [("arm", "分组"), ("isBaseline", "基准组"), ("customers", "人数"), ("conversions", "转化人数"), ("rate", "转化率"),
                              ("plannedShare", "计划占比"), ("observedShare", "实际占比"), ("absoluteUplift", "绝对提升"),
                              ("relativeUplift", "相对提升"), ("ciLow", "95%置信区间下限"), ("ciHigh", "95%置信区间上限"),
                              ("zScore", "Z值"), ("pValue", "P值"), ("verdict", "结论"), ("srmPValue", "样本比例检验P值"),
                              ("srmOutcome", "样本比例检验")],
                    rows: arms.map { a in
                        [.text(a.arm), .text(a.isBaseline ? "yes" : "no"), .integer(a.customers), .integer(a.conversions), .number(a.rate),
                         .number(a.plannedShare), .number(a.observedShare), .number(a.absoluteUplift), .number(a.relativeUplift),
                         .number(a.ciLow), .number(a.ciHigh), .number(a.zScore), .number(a.pValue), .text(a.verdict.rawValue),
                         .number(sampleRatio.pValue), .text(sampleRatio.outcome.rawValue)]
                    })
    }
}
