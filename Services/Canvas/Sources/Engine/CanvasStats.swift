import Contracts
import Foundation
import Postgres

/// `GET /api/v1/canvases/{id}/stats`: entered, in progress, converted and exited journeys, and per node
/// how many reached it with the outcomes it had (sent, suppressed, yes/no, A/B branch, timeout…).
struct CanvasStats: Sendable, Encodable {
    struct NodeCount: Sendable, Encodable {
        var nodeId: String
        var type: String?
        var reached: Int64
        var outcomes: [String: Int64]
    }
    var canvasId: String
    var entered: Int64
    var control: Int64
    var active: Int64
    var converted: Int64
    var exited: Int64
    var exits: [String: Int64]
    var arms: [String: Int64]
    var nodes: [NodeCount]

    static func load(_ canvas: Canvas, database: PostgresPool) throws -> CanvasStats {
        let document = try canvas.liveDocument()
        let byNode = try counts(statsKey: canvas.id, database: database)
        // One pass over the canvas's journeys, per arm (the totals are the arms' sums): a console that
        // refreshes the page every second reads a million journeys each time.
        var arms: [String: Int64] = [:]
        var (active, converted, exited): (Int64, Int64, Int64) = (0, 0, 0)
        for r in try database.query("""
            SELECT coalesce(arm, '') AS arm, count(*) AS entered, count(*) FILTER (WHERE state <> 'done') AS active,
                   count(*) FILTER (WHERE converted_at IS NOT NULL) AS converted, count(*) FILTER (WHERE state = 'done') AS exited
              FROM journeys WHERE canvas_id = $1 AND test_run IS NULL GROUP BY 1
            """, canvas.id) {
            arms[try r.decode("arm")] = try r.decode("entered")
            active += try r.decode("active", as: Int64.self)
            converted += try r.decode("converted", as: Int64.self)
            exited += try r.decode("exited", as: Int64.self)
        }
        let nodes = document.map { nodeCounts(of: $0, byNode) } ?? []
        return CanvasStats(canvasId: canvas.id, entered: arms.values.reduce(0, +), control: arms["control"] ?? 0,
                           active: active, converted: converted, exited: exited,
                           exits: byNode["$exit"] ?? [:], arms: arms, nodes: nodes)
    }

    /// The counters kept under `statsKey` (a canvas id, or a test run's): node → outcome → count.
    static func counts(statsKey: String, database: PostgresPool) throws -> [String: [String: Int64]] {
        var byNode: [String: [String: Int64]] = [:]
        for r in try database.query("SELECT node, outcome, count FROM node_stats WHERE canvas_id = $1", statsKey) {
            byNode[try r.decode("node"), default: [:]][try r.decode("outcome")] = try r.decode("count")
        }
        return byNode
    }

    /// Per node of `document`, in its order: how many reached it and its other outcomes.
    static func nodeCounts(of document: CanvasDocument, _ byNode: [String: [String: Int64]]) -> [NodeCount] {
        document.nodes.map { node in
            var outcomes = byNode[node.id] ?? [:]
            let reached = outcomes.removeValue(forKey: "reached") ?? 0
            return NodeCount(nodeId: node.id, type: node.type, reached: reached, outcomes: outcomes)
        }
    }
}
