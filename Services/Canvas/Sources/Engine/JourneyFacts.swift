import Contracts
import Foundation
import Postgres
import ServiceKit

/// Deterministic assignment of a customer to the control group and to A/B branches: the same
/// (canvas, customer) always lands in the same place, on every replica and in every version.
enum Assignment {
    /// FNV-1a 64 of the text: stable across processes and platforms (Swift's `Hasher` is seeded per run).
    static func bucket(_ salt: String, canvas: String, customer: String) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in "\(salt)|\(canvas)|\(customer)".utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return Int(h % 100)
    }

    static func inControl(canvas: String, customer: String, percent: Int) -> Bool {
        percent > 0 && bucket("control", canvas: canvas, customer: customer) < percent
    }

    /// The branch of an A/B node for this customer, by cumulative weight.
    static func branch(_ branches: [CanvasDocument.Branch], canvas: String, customer: String) -> CanvasDocument.Branch {
        let b = bucket("ab", canvas: canvas, customer: customer)
        var cumulative = 0
        for branch in branches {
            cumulative += branch.weight
            if b < cumulative { return branch }
        }
        return branches[branches.count - 1]
    }

    /// The arm a treated customer's journey is reported under: its branch of the canvas's first A/B
    /// node, or `treatment` when there is none; with the share of entries planned for it.
    static func arm(document: CanvasDocument, canvas: String, customer: String) -> (String, Double) {
        let treated = Double(100 - document.controlGroupPercent) / 100
        for node in document.nodes {
            if case .ab(let branches) = node.kind {
                let b = branch(branches, canvas: canvas, customer: customer)
                return (b.name, treated * Double(b.weight) / 100)
            }
        }
        return ("treatment", treated)
    }
}

/// The journey events analytics counts (`MarketingFact`), written to the outbox in the transaction of
/// the change, one row per subscriber.
public struct JourneyFacts: Sendable {
    let outbox: Outbox?
    let destinations: [String]

    public init(outbox: Outbox?, destinations: [String]) {
        self.outbox = outbox
        self.destinations = destinations
    }

    func write(_ facts: [(MarketingFactType, MarketingFact)], on conn: PostgresConnection) throws {
        guard let outbox, !destinations.isEmpty, !facts.isEmpty else { return }
        var events: [OutboxEvent] = []
        events.reserveCapacity(facts.count * destinations.count)
        for (type, fact) in facts {
            for d in destinations { events.append(try OutboxEvent(type: type.rawValue, destination: d, payload: fact)) }
        }
        try outbox.enqueue(on: conn, events: events)
    }
}

/// Per-node counters, added in the transaction that completes the steps.
enum NodeStats {
    static func add(_ counts: [String: Int64], canvas: String, on conn: PostgresConnection) throws {
        guard !counts.isEmpty else { return }
        var nodes: [String] = [], outcomes: [String] = [], values: [Int64] = []
        for (key, n) in counts.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{1}", maxSplits: 1).map(String.init)
            nodes.append(parts[0])
            outcomes.append(parts.count > 1 ? parts[1] : "reached")
            values.append(n)
        }
        try conn.execute("""
            INSERT INTO node_stats (canvas_id, node, outcome, count)
            SELECT $1, n, o, c FROM unnest($2::text[], $3::text[], $4::bigint[]) AS t(n, o, c)
            ON CONFLICT (canvas_id, node, outcome) DO UPDATE SET count = node_stats.count + excluded.count
            """, canvas, nodes, outcomes, values)
    }

    static func key(_ node: String, _ outcome: String) -> String { node + "\u{1}" + outcome }
}
