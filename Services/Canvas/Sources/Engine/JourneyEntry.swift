import Contracts
import Foundation
import Postgres
import ServiceKit

/// Puts customers into a canvas: the schedule window, the maximum number of entries, the re-entry
/// rule and the control group are decided here, in the caller's transaction, for every entry path
/// (segment waves, events, recalls, segment entries, lifecycle changes).
struct JourneyEntry: Sendable {
    let facts: JourneyFacts

    struct Candidate: Sendable {
        var customerId: String
        var customerOrgPath: String?
        /// This candidate's own entry key (one event's), instead of the call's.
        var entryKey: String? = nil
    }

    /// Enters `candidates` (already filtered by the audience) under `entryKey` (or each under its own);
    /// returns how many entered. A customer listed twice enters once: callers with several entries of
    /// one customer (events of one batch) call again for each repeat.
    /// The canvas row is locked for the count of entries, so two replicas never pass the maximum.
    @discardableResult
    func enter(_ candidates: [Candidate], canvasId: String, entryKey: String, now: Date, on conn: PostgresConnection) throws -> Int {
        guard !candidates.isEmpty else { return 0 }
        guard let row = try conn.query("""
            SELECT c.status, c.live_version, c.entries, c.org_path, v.document::text AS document FROM canvases c
              JOIN canvas_versions v ON v.canvas_id = c.id AND v.version = c.live_version
             WHERE c.id = $1 FOR UPDATE OF c
            """, canvasId).first else { return 0 }
        guard try row.decode("status", as: String.self) == "running" else { return 0 }
        let version: Int = try row.decode("live_version")
        let orgPath: String = try row.decode("org_path")
        let document = try CanvasDocument(json: try Canvas.parse(try row.decode("document")))
        guard document.window.contains(now) else { return 0 }
        var room = Int.max
        if let max = document.maxEntries { room = max - Int(try row.decode("entries", as: Int64.self)) }
        guard room > 0 else { return 0 }

        // Re-entry: who is excluded by an earlier journey of this canvas.
        let ids = candidates.map(\.customerId)
        var blocked = Set<String>()
        let since: Date? = {
            switch document.reentry {
            case .never: return .distantFuture
            case .always: return nil
            case .after(let d): return now.addingTimeInterval(-d.timeInterval)
            }
        }()
        for r in try conn.query("""
            SELECT DISTINCT customer_id FROM journeys
             WHERE canvas_id = $1 AND customer_id = ANY($2::text[]) AND test_run IS NULL
               AND (state <> 'done' OR $3::boolean OR entered_at > $4)
            """, canvasId, ids, since == .distantFuture, since ?? now.addingTimeInterval(1)) {
            blocked.insert(try r.decode("customer_id"))
        }
        var seen = Set<String>()
        var chosen: [Candidate] = []
        for c in candidates where !blocked.contains(c.customerId) && seen.insert(c.customerId).inserted {
            if chosen.count >= room { break }
            chosen.append(c)
        }
        guard !chosen.isEmpty else { return 0 }

        var customers: [String] = [], keys: [String] = [], orgs: [String?] = [], arms: [String] = [], states: [String] = [], nodes: [String?] = []
        var goalUntil: [Date?] = [], due: [Date] = []
        var events: [(MarketingFactType, MarketingFact)] = []
        var controlCount: Int64 = 0
        for c in chosen {
            let control = Assignment.inControl(canvas: canvasId, customer: c.customerId, percent: document.controlGroupPercent)
            let (arm, share) = control ? ("control", Double(document.controlGroupPercent) / 100)
                                       : Assignment.arm(document: document, canvas: canvasId, customer: c.customerId)
            let goalEnd = document.goal.map { now.addingTimeInterval($0.within.timeInterval) }
            customers.append(c.customerId)
            keys.append(c.entryKey ?? entryKey)
            orgs.append(c.customerOrgPath)
            arms.append(arm)
            states.append(control ? "control" : "active")
            nodes.append(control ? nil : document.start)
            goalUntil.append(goalEnd)
            // The control group is tracked for the goal, then leaves.
            due.append(control ? (goalEnd ?? now) : now)
            if control { controlCount += 1 }
            events.append((.journeyEntered, MarketingFact(customerId: c.customerId, orgPath: orgPath, customerOrgPath: c.customerOrgPath,
                                                          canvasId: canvasId, canvasVersion: version, arm: arm, plannedShare: share)))
        }
        let inserted = try conn.query("""
            INSERT INTO journeys (canvas_id, version, customer_id, customer_org_path, arm, state, node, due_at, goal_until, entry_key, entered_at)
            SELECT $1, $2, t.c, t.o, t.a, t.s, t.n, t.d, t.g, t.k, $3
              FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[])
                   AS t(c, o, a, s, n, d, g, k)
            ON CONFLICT (canvas_id, entry_key, customer_id) DO NOTHING
            RETURNING customer_id
            """, canvasId, version, now, customers, orgs, arms, states, nodes, due, goalUntil, keys)
        let enteredIds = Set(try inserted.map { try $0.decode("customer_id", as: String.self) })
        guard !enteredIds.isEmpty else { return 0 }
        try conn.execute("UPDATE canvases SET entries = entries + $2 WHERE id = $1", canvasId, Int64(enteredIds.count))
        var stats: [String: Int64] = [NodeStats.key("$entry", "entered"): Int64(enteredIds.count)]
        let controlEntered = chosen.filter { enteredIds.contains($0.customerId) && Assignment.inControl(canvas: canvasId, customer: $0.customerId, percent: document.controlGroupPercent) }.count
        if controlEntered > 0 { stats[NodeStats.key("$entry", "control")] = Int64(controlEntered) }
        _ = controlCount
        try NodeStats.add(stats, canvas: canvasId, on: conn)
        try facts.write(events.filter { enteredIds.contains($0.1.customerId) }, on: conn)
        return enteredIds.count
    }
}
