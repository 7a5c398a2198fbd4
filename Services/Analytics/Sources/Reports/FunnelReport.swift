import Foundation

/// `GET /api/v1/analytics/canvases/{id}/funnel`: per node of a canvas, how many journeys reached it
/// and what its messages did, with the canvas's entries, conversions and exits.
///
/// Counts are facts: a node reached twice on a loop counts twice. A conversion counts at the node the
/// journey was at when its goal was met (the `nodeId` of `canvas.journey_converted`, last touch); one
/// without a node counts in the canvas's total only.
public struct FunnelReport: TabularReport, Equatable {
    public struct Node: Encodable, Equatable, Sendable {
        public var nodeId: String
        public var nodeType: String?
        public var reached: Int
        public var sent: Int
        public var delivered: Int
        public var failed: Int
        public var clicked: Int
        public var suppressed: Int
        public var suppressedByReason: [String: Int]
        public var converted: Int
        /// delivered / sent.
        public var deliveryRate: Double?
        /// clicked / delivered.
        public var clickRate: Double?
        /// converted / reached.
        public var conversionRate: Double?
    }

    public var canvasId: String
    public var orgPath: String
    public var entered: Int
    public var converted: Int
    public var exited: Int
    /// converted / entered.
    public var conversionRate: Double?
    public var convertedAmount: String
    public var nodes: [Node]

    public var fileName: String { "funnel-\(canvasId)" }

    public var table: ReportTable {
        ReportTable(columns: [("nodeId", "节点"), ("nodeType", "节点类型"), ("reached", "到达"), ("sent", "发送"), ("delivered", "送达"),
                              ("failed", "失败"), ("clicked", "点击"), ("suppressed", "拦截"), ("suppressedByReason", "拦截原因"),
                              ("converted", "转化"), ("deliveryRate", "送达率"), ("clickRate", "点击率"), ("conversionRate", "转化率")],
                    rows: nodes.map { n in
                        [.text(n.nodeId), .text(n.nodeType), .integer(n.reached), .integer(n.sent), .integer(n.delivered), .integer(n.failed),
                         .integer(n.clicked), .integer(n.suppressed),
                         .text(n.suppressedByReason.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: "; ")),
                         .integer(n.converted), .number(n.deliveryRate), .number(n.clickRate), .number(n.conversionRate)]
                    })
    }
}
