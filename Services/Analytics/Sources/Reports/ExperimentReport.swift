import Foundation

/// `GET /api/v1/analytics/canvases/{id}/experiments`: each A/B branch and the control group of a
/// canvas (arms from `canvas.journey_entered`), every treatment compared with the baseline — the
/// control group when there is one, else the first branch by name.
///
/// A customer counts once per canvas, in the arm of its entry, and converts at most once. Statistics
/// (`ProportionComparison`): pooled two-proportion z-test (two-sided), Newcombe's 95% interval of the
/// difference (Wilson score based), absolute and relative uplift; below the sample rules the verdict
/// is `not_enough_data` and no p-value is given. The sample-ratio check compares the arms' sizes with
/// the planned shares carried by the entry facts (`plannedShare`); under p = 0.001 a warning says the
/// split is broken and no uplift should be trusted.
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
        public var pValue: Double?
        public var outcome: SampleRatioCheck.Outcome
        public var warning: String?
    }

    public var canvasId: String
    public var orgPath: String
    public var baseline: String?
    public var significanceLevel: Double
    public var confidenceInterval: String
    public var arms: [Arm]
    public var sampleRatio: SampleRatio

    public static let significanceLevel = 0.05

    public init(canvasId: String, orgPath: String, counts: [(arm: String, count: ArmCount, plannedShare: Double?)]) {
        self.canvasId = canvasId
        self.orgPath = orgPath
        significanceLevel = Self.significanceLevel
        confidenceInterval = "95% Newcombe (Wilson score) interval of the rate difference against the baseline"
        let sorted = counts.sorted { $0.arm < $1.arm }
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
        let check = SampleRatioCheck(observed: sorted.map(\.count.customers), planned: sorted.map(\.plannedShare))
        var warning: String?
        if check.outcome == .mismatch {
            warning = String(format: "sample ratio mismatch (p = %.2g < 0.001): the arms' sizes do not match the planned split; "
                             + "check assignment and tracking before trusting any uplift", check.pValue ?? 0)
        }
        sampleRatio = SampleRatio(chiSquare: check.chiSquare, pValue: check.pValue, outcome: check.outcome, warning: warning)
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
