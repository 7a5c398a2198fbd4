import Foundation

/// `GET /api/v1/analytics/channels`: per channel over bank-local days `from`…`to`: messages sent,
/// delivered, failed, clicked and suppressed, their cost, and the rates (delivery = delivered / sent,
/// click = clicked / delivered, cost per click).
public struct ChannelReport: TabularReport, Equatable {
    public struct Channel: Encodable, Equatable, Sendable {
        public var channel: String
        public var sent: Int
        public var delivered: Int
        public var failed: Int
        public var clicked: Int
        public var suppressed: Int
        public var cost: String
        public var deliveryRate: Double?
        public var clickRate: Double?
        public var costPerClick: String?
    }

    public var from: String
    public var to: String
    public var orgPath: String
    public var channels: [Channel]

    public var fileName: String { "channels-\(from)-\(to)" }

    public var table: ReportTable {
        ReportTable(columns: [("channel", "渠道"), ("sent", "发送"), ("delivered", "送达"), ("failed", "失败"), ("clicked", "点击"),
                              ("suppressed", "拦截"), ("cost", "成本(元)"), ("deliveryRate", "送达率"), ("clickRate", "点击率"),
                              ("costPerClick", "单次点击成本(元)")],
                    rows: channels.map { c in
                        [.text(c.channel), .integer(c.sent), .integer(c.delivered), .integer(c.failed), .integer(c.clicked),
                         .integer(c.suppressed), .decimal(c.cost), .number(c.deliveryRate), .number(c.clickRate), .decimal(c.costPerClick ?? "")]
                    })
    }
}
