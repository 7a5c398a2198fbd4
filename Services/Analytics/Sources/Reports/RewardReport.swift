import Foundation

/// `GET /api/v1/analytics/rewards`: reward cost and return.
///
/// `by=reward` (the default): per reward over bank-local days `from`…`to`: grants, redemptions,
/// expiries, revocations, lottery draws, points, and cost (of grants and draws).
/// `by=canvas`: per canvas over its whole life: conversions and the converted amount (the goal
/// event's `amount`, carried by `canvas.journey_converted`) against what the canvas spent on rewards
/// and messages; ROI = (converted amount − cost) / cost, absent when nothing was spent.
public struct RewardReport: TabularReport, Equatable {
    public enum Grouping: String, Sendable, CaseIterable { case reward, canvas }

    public struct Reward: Encodable, Equatable, Sendable {
        public var rewardId: String
        public var rewardKind: String?
        public var granted: Int
        public var redeemed: Int
        public var expired: Int
        public var revoked: Int
        public var drawn: Int
        public var pointsEarned: Int
        public var pointsSpent: Int
        public var pointsExpired: Int
        public var cost: String
        /// redeemed / granted.
        public var redemptionRate: Double?
    }

    public struct Canvas: Encodable, Equatable, Sendable {
        public var canvasId: String
        public var conversions: Int
        public var convertedAmount: String
        public var rewardsGranted: Int
        public var rewardCost: String
        public var messageCost: String
        public var totalCost: String
        public var roi: Double?
    }

    public var by: String
    public var from: String?
    public var to: String?
    public var orgPath: String
    public var rewards: [Reward]?
    public var canvases: [Canvas]?

    public var fileName: String { by == "canvas" ? "reward-roi-by-canvas" : "rewards-\(from ?? "")-\(to ?? "")" }

    public var table: ReportTable {
        if let canvases {
            return ReportTable(columns: [("canvasId", "画布"), ("conversions", "转化"), ("convertedAmount", "转化金额(元)"),
                                         ("rewardsGranted", "发放权益数"), ("rewardCost", "权益成本(元)"), ("messageCost", "触达成本(元)"),
                                         ("totalCost", "总成本(元)"), ("roi", "投资回报率")],
                               rows: canvases.map { c in
                                   [.text(c.canvasId), .integer(c.conversions), .decimal(c.convertedAmount), .integer(c.rewardsGranted),
                                    .decimal(c.rewardCost), .decimal(c.messageCost), .decimal(c.totalCost), .number(c.roi)]
                               })
        }
        return ReportTable(columns: [("rewardId", "权益"), ("rewardKind", "权益类型"), ("granted", "发放"), ("redeemed", "核销"),
                                     ("expired", "过期"), ("revoked", "撤销"), ("drawn", "抽奖次数"), ("pointsEarned", "积分发放"),
                                     ("pointsSpent", "积分消耗"), ("pointsExpired", "积分过期"), ("cost", "成本(元)"),
                                     ("redemptionRate", "核销率")],
                           rows: (rewards ?? []).map { r in
                               [.text(r.rewardId), .text(r.rewardKind), .integer(r.granted), .integer(r.redeemed), .integer(r.expired),
                                .integer(r.revoked), .integer(r.drawn), .integer(r.pointsEarned), .integer(r.pointsSpent),
                                .integer(r.pointsExpired), .decimal(r.cost), .number(r.redemptionRate)]
                           })
    }
}
