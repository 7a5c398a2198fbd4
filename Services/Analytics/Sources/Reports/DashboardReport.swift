import Foundation

/// `GET /api/v1/analytics/dashboard`: today (the bank-local day) for an org unit and everything below
/// it — a branch's big screen (数字大屏): journeys entered, messages sent, delivered and clicked,
/// conversions and their amount, reward cost, behaviour events; the top canvases by conversions; and
/// the same figures per org unit (the CSV has the per-unit rows).
public struct DashboardReport: TabularReport, Equatable {
    public struct Figures: Encodable, Equatable, Sendable {
        public var entered: Int
        public var sends: Int
        public var delivered: Int
        public var clicks: Int
        public var conversions: Int
        public var convertedAmount: String
        public var rewardCost: String
    }

    public struct CanvasFigures: Encodable, Equatable, Sendable {
        public var canvasId: String
        public var entered: Int
        public var sends: Int
        public var conversions: Int
        public var convertedAmount: String
    }

    public struct UnitFigures: Encodable, Equatable, Sendable {
        public var orgPath: String
        public var figures: Figures
    }

    public struct ChannelSends: Encodable, Equatable, Sendable {
        public var channel: String
        public var sent: Int
        public var delivered: Int
        public var clicked: Int
    }

    public struct EventCount: Encodable, Equatable, Sendable {
        public var name: String
        public var events: Int
    }

    public var day: String
    public var timeZone: String
    public var orgPath: String
    public var totals: Figures
    public var behaviourEvents: Int
    public var topCanvases: [CanvasFigures]
    public var channels: [ChannelSends]
    public var topEvents: [EventCount]
    public var units: [UnitFigures]
    public var generatedAt: Date

    public var fileName: String { "dashboard-\(day)" }

    public var table: ReportTable {
        ReportTable(columns: [("orgPath", "机构"), ("entered", "进入旅程"), ("sends", "发送"), ("delivered", "送达"), ("clicks", "点击"),
                              ("conversions", "转化"), ("convertedAmount", "转化金额(元)"), ("rewardCost", "权益成本(元)")],
                    rows: units.map { u in
                        [.text(u.orgPath), .integer(u.figures.entered), .integer(u.figures.sends), .integer(u.figures.delivered),
                         .integer(u.figures.clicks), .integer(u.figures.conversions), .decimal(u.figures.convertedAmount),
                         .decimal(u.figures.rewardCost)]
                    })
    }
}
