import Foundation

/// `GET /api/v1/analytics/lifecycle`: customers moving between lifecycle stages (新手/引入期 new,
/// 成长期 growing, 成熟期 mature, 休眠期 dormant, 流失期 churned), per period (`interval` day, week
/// starting Monday, or month) over bank-local days `from`…`to`, from `profile.lifecycle_changed`.
/// An empty `fromStage` is a customer's first stage; an empty `toStage` means no stage holds any more.
public struct LifecycleReport: TabularReport, Equatable {
    public enum Interval: String, Sendable, CaseIterable { case day, week, month }

    public struct Movement: Encodable, Equatable, Sendable {
        public var period: String
        public var fromStage: String
        public var toStage: String
        public var customers: Int
    }

    public struct StageFlow: Encodable, Equatable, Sendable {
        public var stage: String
        public var label: String
        public var entered: Int
        public var left: Int
        public var net: Int
    }

    public var from: String
    public var to: String
    public var interval: String
    public var orgPath: String
    public var movements: [Movement]
    /// Over the whole range: customers who entered and left each stage.
    public var stages: [StageFlow]

    static let labels: [(stage: String, label: String)] = [("new", "新手/引入期"), ("growing", "成长期"), ("mature", "成熟期"),
                                                            ("dormant", "休眠期"), ("churned", "流失期")]

    public init(from: String, to: String, interval: String, orgPath: String, movements: [Movement]) {
        self.from = from
        self.to = to
        self.interval = interval
        self.orgPath = orgPath
        self.movements = movements
        stages = Self.labels.map { stage, label in
            let entered = movements.filter { $0.toStage == stage }.reduce(0) { $0 + $1.customers }
            let left = movements.filter { $0.fromStage == stage }.reduce(0) { $0 + $1.customers }
            return StageFlow(stage: stage, label: label, entered: entered, left: left, net: entered - left)
        }
    }

    public var fileName: String { "lifecycle-\(from)-\(to)" }

    public var table: ReportTable {
        let label = Dictionary(uniqueKeysWithValues: Self.labels.map { ($0.stage, $0.label) })
        return ReportTable(columns: [("period", "周期"), ("fromStage", "原阶段"), ("toStage", "新阶段"), ("customers", "客户数")],
                           rows: movements.map { m in
                               [.text(m.period), .text(label[m.fromStage] ?? m.fromStage), .text(label[m.toStage] ?? m.toStage),
                                .integer(m.customers)]
                           })
    }
}
