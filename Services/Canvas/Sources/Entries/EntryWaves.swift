import Contracts
import Foundation
import Postgres
import ServiceKit

/// Segment entries: the waves planned when a canvas is approved (one at `at` or at the start, or one
/// every N until a date), and their execution page by page — each page of members is entered in the
/// transaction that moves the wave's cursor, so a wave cut by a crash resumes where it stopped and
/// enters nobody twice.
public struct EntryWaves: Sendable {
    let database: PostgresPool
    let peers: Peers
    let entry: JourneyEntry
    let timeZone: TimeZone
    let lease: TimeInterval
    static let maximumWaves = 1_000

    /// Plans the waves of `document` (replacing waves of an earlier version that have not begun).
    func plan(canvas: Canvas, document: CanvasDocument, now: Date, on conn: PostgresConnection) throws {
        try conn.execute("DELETE FROM entry_waves WHERE canvas_id = $1 AND NOT done AND cursor IS NULL AND entered = 0", canvas.id)
        guard case .segment(_, let at, let every, let until) = document.entry else { return }
        let first = max(at ?? document.window.startAt ?? now, document.window.startAt ?? .distantPast)
        var times = [first]
        if let every {
            let end = until ?? document.window.endAt ?? first.addingTimeInterval(365 * 86_400)
            var t = first.addingTimeInterval(every.timeInterval)
            while t <= end && times.count < Self.maximumWaves {
                times.append(t)
                t = t.addingTimeInterval(every.timeInterval)
            }
        }
        let base = try conn.query("SELECT coalesce(max(wave), 0) AS w FROM entry_waves WHERE canvas_id = $1", canvas.id)[0].decode("w", as: Int.self)
        try conn.execute("""
            INSERT INTO entry_waves (canvas_id, wave, due_at) SELECT $1, $2 + n, t FROM unnest($3::timestamptz[]) WITH ORDINALITY AS u(t, n)
            """, canvas.id, base, times)
    }

    /// Enters one page of one due wave; returns how many members the page had (0: nothing due).
    func runPage() throws -> Int {
        guard let row = try database.query("""
            WITH due AS (
                SELECT w.canvas_id, w.wave FROM entry_waves w JOIN canvases c ON c.id = w.canvas_id
                 WHERE NOT w.done AND w.due_at <= now() AND c.status = 'running'
                   AND (w.claimed_until IS NULL OR w.claimed_until < now())
                 ORDER BY w.due_at LIMIT 1 FOR UPDATE OF w SKIP LOCKED)
            UPDATE entry_waves w SET claimed_until = now() + $1 * interval '1 second' FROM due
             WHERE w.canvas_id = due.canvas_id AND w.wave = due.wave
            RETURNING w.canvas_id, w.wave, w.cursor
            """, lease).first else { return 0 }
        let canvasId: String = try row.decode("canvas_id")
        let wave: Int = try row.decode("wave")
        let cursor: String? = try row.decode("cursor")
        let canvas = try database.query("""
            SELECT c.org_id, c.org_path, v.document::text AS d FROM canvases c
              JOIN canvas_versions v ON v.canvas_id = c.id AND v.version = c.live_version WHERE c.id = $1
            """, canvasId)[0]
        let document = try CanvasDocument(json: try Canvas.parse(try canvas.decode("d")))
        guard case .segment(let segment, _, _, _) = document.entry else {
            try database.execute("UPDATE entry_waves SET done = true WHERE canvas_id = $1 AND wave = $2", canvasId, wave)
            return 0
        }
        let identity = Peers.system(orgPath: try canvas.decode("org_path"), orgId: try canvas.decode("org_id"))
        let page: Peers.MemberPage
        do {
            page = try peers.members(segment: segment, after: cursor, as: identity)
        } catch {
            try? database.execute("UPDATE entry_waves SET claimed_until = now() + interval '5 seconds' WHERE canvas_id = $1 AND wave = $2",
                                  canvasId, wave)
            throw error
        }
        let ids = page.items.map(\.customerId)
        let candidates = try filter(ids, audience: document.audience)
        let now = Date()
        // The page and the cursor commit together; the claim is released with them so that the next
        // page (on any replica) follows at once.
        try database.transaction { conn in
            let n = try entry.enter(candidates, canvasId: canvasId, entryKey: "wave:\(wave)", now: now, on: conn)
            try conn.execute("""
                UPDATE entry_waves SET cursor = $3, entered = entered + $4, done = $5, claimed_until = NULL
                 WHERE canvas_id = $1 AND wave = $2
                """, canvasId, wave, page.nextCursor ?? cursor, Int64(n), page.nextCursor == nil)
        }
        return max(ids.count, 1)
    }

    /// The candidates among `ids` that pass the audience filter (on their current profile).
    func filter(_ ids: [String], audience: Rule?) throws -> [JourneyEntry.Candidate] {
        guard let audience else { return ids.map { JourneyEntry.Candidate(customerId: $0, customerOrgPath: nil) } }
        let docs = try peers.facts(ids)
        let evaluator = RuleEvaluator(timeZone: timeZone)
        let now = Date()
        return ids.compactMap { id in
            guard let d = docs[id], d.exists, evaluator.evaluate(audience, for: AggregateFacts(document: d, timeZone: timeZone), now: now) else {
                return nil
            }
            return JourneyEntry.Candidate(customerId: id, customerOrgPath: d.orgPath)
        }
    }
}
