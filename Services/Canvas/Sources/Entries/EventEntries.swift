import Contracts
import Foundation
import Postgres
import ServiceKit

/// What the canvas consumes at `POST /internal/v1/events` (ServiceKit `InboxReceiver`, de-duplicated by
/// event id): `profile.event` (real-time entries, breakpoint recall, waitEvent, goals),
/// `segment_enter` and `profile.lifecycle_changed`. Everything an event changes is written in the
/// inbox's transaction.
///
/// Thread-safety: `cached`/`cachedAt` are guarded by `lock`.
public final class EventEntries: @unchecked Sendable {
    let engine: JourneyEngine
    let waves: EntryWaves
    private let lock = NSLock()
    private var cached: [LiveCanvas] = []
    private var cachedAt = Date.distantPast
    /// How long the list of running canvases is reused: a new canvas reacts to events within this.
    let cacheSeconds: TimeInterval = 1

    struct LiveCanvas: Sendable {
        var id: String
        var document: CanvasDocument
    }

    init(engine: JourneyEngine, waves: EntryWaves) {
        self.engine = engine
        self.waves = waves
    }

    func live(on conn: PostgresConnection) throws -> [LiveCanvas] {
        lock.lock()
        if Date().timeIntervalSince(cachedAt) < cacheSeconds { defer { lock.unlock() }; return cached }
        lock.unlock()
        let rows = try conn.query("""
            SELECT c.id, v.document::text AS d FROM canvases c JOIN canvas_versions v ON v.canvas_id = c.id AND v.version = c.live_version
             WHERE c.status = 'running'
            """)
        let list = try rows.map { LiveCanvas(id: try $0.decode("id"), document: try CanvasDocument(json: try Canvas.parse(try $0.decode("d")))) }
        lock.lock()
        cached = list
        cachedAt = Date()
        lock.unlock()
        return list
    }

    /// Forgets the cached canvases (after an approval, a pause…).
    func invalidate() {
        lock.lock()
        cachedAt = .distantPast
        lock.unlock()
    }

    struct BehaviourEvent: Decodable {
        var eventId: String
        var customerId: String
        var orgPath: String?
        var name: String
        var occurredAt: Date
        var properties: [String: JSONValue]?
    }

    struct SegmentTransition: Decodable {
        var segmentId: String
        var customerId: String
        var orgPath: String?
        var at: Date?
    }

    struct LifecycleChange: Decodable {
        var customerId: String
        var orgPath: String?
        var from: String?
        var to: String?
    }

    /// Entries waiting for the end of their batch, by canvas; each candidate carries its event's entry key.
    struct PendingEntries {
        private(set) var byCanvas: [String: (canvas: LiveCanvas, candidates: [JourneyEntry.Candidate])] = [:]

        mutating func add(_ customer: String, orgPath: String?, to canvas: LiveCanvas, key: String) {
            byCanvas[canvas.id, default: (canvas, [])].candidates
                .append(JourneyEntry.Candidate(customerId: customer, customerOrgPath: orgPath, entryKey: key))
        }
    }

    func handle(_ event: ReceivedEvent, on conn: PostgresConnection) throws {
        try handle(batch: [event], on: conn)
    }

    /// A delivered batch in its inbox transaction: every event in order, except that the entries it
    /// causes are made at the end, per canvas, in one set of statements. One by one, each entry locked
    /// the canvas row (its entry count) for the rest of the batch's transaction, so the relay's
    /// deliveries queued behind each other at ~200 events/s. So a goal event later in the same batch
    /// does not yet see a journey that an earlier event of the batch enters.
    func handle(batch events: [ReceivedEvent], on conn: PostgresConnection) throws {
        let now = Date()
        var pending = PendingEntries()
        for event in events { try handle(event, now: now, entering: &pending, on: conn) }
        var entered = 0
        for (_, entry) in pending.byCanvas.sorted(by: { $0.key < $1.key }) {
            entered += try enter(entry.candidates, canvas: entry.canvas, now: now, on: conn)
        }
        if entered > 0 { engine.wakeUp() }
    }

    private func handle(_ event: ReceivedEvent, now: Date, entering pending: inout PendingEntries, on conn: PostgresConnection) throws {
        switch event.type {
        case "profile.event":
            let e = try event.payload(as: BehaviourEvent.self)
            try behaviour(e, now: now, entering: &pending, on: conn)
        case "segment_enter":
            let e = try event.payload(as: SegmentTransition.self)
            for c in try live(on: conn) {
                guard case .segmentEnter(let id) = c.document.entry, id == e.segmentId else { continue }
                pending.add(e.customerId, orgPath: e.orgPath, to: c, key: "segment:\(event.id.uuidString.lowercased())")
            }
        case "profile.lifecycle_changed":
            let e = try event.payload(as: LifecycleChange.self)
            for c in try live(on: conn) {
                guard case .lifecycleChanged(let to) = c.document.entry, to == nil || to == e.to else { continue }
                pending.add(e.customerId, orgPath: e.orgPath, to: c, key: "lifecycle:\(event.id.uuidString.lowercased())")
            }
        default:
            break   // not ours: acknowledged and ignored
        }
    }

    /// Enters a canvas's candidates of one batch (in its audience, with the org path the profile gives
    /// then); a customer with several entries enters once a round, in the events' order.
    private func enter(_ candidates: [JourneyEntry.Candidate], canvas: LiveCanvas, now: Date, on conn: PostgresConnection) throws -> Int {
        var passing = candidates
        if let audience = canvas.document.audience {
            let orgPaths = Dictionary(try waves.filter(Array(Set(candidates.map(\.customerId))), audience: audience)
                .map { ($0.customerId, $0.customerOrgPath) }) { first, _ in first }
            passing = candidates.compactMap { c in
                guard let orgPath = orgPaths[c.customerId] else { return nil }
                var c = c
                c.customerOrgPath = orgPath
                return c
            }
        }
        var rounds: [[JourneyEntry.Candidate]] = []
        var seen: [String: Int] = [:]
        for c in passing {
            let round = seen[c.customerId, default: 0]
            seen[c.customerId] = round + 1
            if round == rounds.count { rounds.append([]) }
            rounds[round].append(c)
        }
        var entered = 0
        for round in rounds { entered += try engine.entry.enter(round, canvasId: canvas.id, entryKey: "", now: now, on: conn) }
        return entered
    }

    private func behaviour(_ e: BehaviourEvent, now: Date, entering pending: inout PendingEntries, on conn: PostgresConnection) throws {
        let evaluator = RuleEvaluator(timeZone: waves.timeZone)
        let properties = e.properties ?? [:]
        let canvases = try live(on: conn)
        try recallCancel(e, canvases: canvases, on: conn)
        for c in canvases {
            switch c.document.entry {
            case .event(let name, let condition) where name == e.name:
                if let condition, !evaluator.matches(condition, properties: properties, now: now) { break }
                pending.add(e.customerId, orgPath: e.orgPath, to: c, key: "event:\(e.eventId)")
            case .recall(let name, let condition, let then, let within) where name == e.name:
                if let condition, !evaluator.matches(condition, properties: properties, now: now) { break }
                let due = e.occurredAt.addingTimeInterval(within.timeInterval)
                try lockRecalls(of: e.customerId, on: conn)
                // No candidate when its B already arrived (the relay may deliver B first).
                let n = try conn.execute("""
                    INSERT INTO recall_candidates (canvas_id, customer_id, event_id, cancel_event, due_at, customer_org_path, started_at)
                    SELECT $1, $2, $3, $4, $5, $6, $7
                     WHERE NOT EXISTS (SELECT 1 FROM recall_cancels
                                        WHERE customer_id = $2 AND event = $4 AND occurred_at >= $7 AND occurred_at <= $5)
                    ON CONFLICT DO NOTHING
                    """, c.id, e.customerId, e.eventId, then, due, e.orgPath, e.occurredAt)
                if n > 0 { engine.wakeUp() }
            default: break
            }
        }
        try resumeWaiting(e, on: conn)
        try goals(e, now: now, on: conn)
    }

    /// A B cancels the recalls of the As that occurred at or before it, within their window. It is also
    /// remembered, for the longest window of the live recalls it cancels, for an A that arrives after it.
    private func recallCancel(_ e: BehaviourEvent, canvases: [LiveCanvas], on conn: PostgresConnection) throws {
        let windows = canvases.compactMap { c -> TimeInterval? in
            guard case .recall(_, _, let then, let within) = c.document.entry, then == e.name else { return nil }
            return within.timeInterval
        }
        // A paused recall's candidates are cancelled too, though its B is not remembered.
        if let longest = windows.max() {
            try lockRecalls(of: e.customerId, on: conn)
            try conn.execute("""
                INSERT INTO recall_cancels (customer_id, event, occurred_at, keep_until) VALUES ($1, $2, $3, $4)
                ON CONFLICT (customer_id, event, occurred_at) DO UPDATE SET keep_until = greatest(recall_cancels.keep_until, EXCLUDED.keep_until)
                """, e.customerId, e.name, e.occurredAt, e.occurredAt.addingTimeInterval(longest))
        }
        try conn.execute("""
            DELETE FROM recall_candidates
             WHERE customer_id = $1 AND cancel_event = $2 AND due_at >= $3 AND (started_at IS NULL OR started_at <= $3)
            """, e.customerId, e.name, e.occurredAt)
    }

    /// Serialises one customer's A and B across inbox transactions: each reads what the other writes,
    /// and two concurrent ones would each miss the other's uncommitted row.
    private func lockRecalls(of customer: String, on conn: PostgresConnection) throws {
        try conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('canvas.recall:' || $1, 0))", customer)
    }

    /// Journeys of this customer waiting for this event leave by `onEvent`.
    private func resumeWaiting(_ e: BehaviourEvent, on conn: PostgresConnection) throws {
        let rows = try conn.query("""
            SELECT id, canvas_id, version, node, step, test_run FROM journeys
             WHERE customer_id = $1 AND state = 'active' AND wait_event = $2 AND due_at >= $3 FOR UPDATE
            """, e.customerId, e.name, e.occurredAt)
        var moved = false
        for r in rows {
            let canvas: String = try r.decode("canvas_id")
            let testRun: String? = try r.decode("test_run")
            let version: Int = try r.decode("version")
            let document = try testRun.map { try engine.document(testRun: $0, canvas: canvas) } ?? engine.document(canvas: canvas, version: version)
            guard let nodeId: String = try r.decode("node"), let node = document.node(nodeId),
                  case .waitEvent(_, _, let onEvent, _) = node.kind else { continue }
            let n = try conn.execute("""
                UPDATE journeys SET node = $3, wait_event = NULL, due_at = now(), step = step + 1,
                       state = CASE WHEN $3::text IS NULL THEN 'done' ELSE state END,
                       exit_reason = CASE WHEN $3::text IS NULL THEN 'completed' ELSE NULL END,
                       exited_at = CASE WHEN $3::text IS NULL THEN now() ELSE NULL END
                 WHERE id = $1 AND step = $2
                """, try r.decode("id", as: Int64.self), try r.decode("step", as: Int.self), onEvent)
            if n == 1 {
                try NodeStats.add([NodeStats.key(nodeId, "event"): 1], canvas: testRun ?? canvas, on: conn)
                moved = true
            }
        }
        if moved { engine.wakeUp() }
    }

    /// The goal event within the window converts the journey (the control group's too); `exitOnGoal` ends it.
    /// The converted fact names the node the journey reached last and, with `goal.amountProperty`, the amount
    /// the event carries (analytics' converted amount for the rewards ROI).
    private func goals(_ e: BehaviourEvent, now: Date, on conn: PostgresConnection) throws {
        let canvases = try live(on: conn).filter { $0.document.goal?.event == e.name }
        guard !canvases.isEmpty else { return }
        let amountProperty = Dictionary(canvases.compactMap { c in c.document.goal?.amountProperty.map { (c.id, $0) } }) { first, _ in first }
        let exiting = canvases.filter { $0.document.goal?.exitOnGoal == true }.map(\.id)
        let rows = try conn.query("""
            UPDATE journeys SET converted_at = $3,
                   state = CASE WHEN canvas_id = ANY($4::text[]) THEN 'done' ELSE state END,
                   exit_reason = CASE WHEN canvas_id = ANY($4::text[]) THEN 'goal' ELSE exit_reason END,
                   exited_at = CASE WHEN canvas_id = ANY($4::text[]) THEN now() ELSE exited_at END,
                   step = step + 1
             WHERE customer_id = $1 AND canvas_id = ANY($2::text[]) AND converted_at IS NULL AND state <> 'done'
               AND goal_until >= $3 AND entered_at <= $3 AND test_run IS NULL
            RETURNING canvas_id, version, arm, customer_org_path, state, last_node
            """, e.customerId, canvases.map(\.id), e.occurredAt, exiting)
        var facts: [(MarketingFactType, MarketingFact)] = []
        for r in rows {
            let canvas: String = try r.decode("canvas_id")
            let version: Int = try r.decode("version")
            // Loads the canvas's owner too: this replica may not have moved any of its journeys yet.
            _ = try engine.document(canvas: canvas, version: version)
            let owner = engine.owner(canvas)
            let fact = MarketingFact(customerId: e.customerId, orgPath: owner.orgPath, customerOrgPath: try r.decode("customer_org_path"),
                                     canvasId: canvas, canvasVersion: version, arm: try r.decode("arm"))
            var converted = fact
            converted.nodeId = try r.decode("last_node", as: String?.self)   // last touch (analytics' funnel)
            // The amount of the canvas's live version: the goal is the one the event was matched with.
            converted.amount = ConvertedAmount.read(e.properties ?? [:], property: amountProperty[canvas])
            facts.append((.journeyConverted, converted))
            var stats = [NodeStats.key("$goal", "converted"): Int64(1)]
            if try r.decode("state", as: String.self) == "done" {
                var exit = fact
                exit.reason = "goal"
                facts.append((.journeyExited, exit))
                stats[NodeStats.key("$exit", "goal")] = 1
            }
            try NodeStats.add(stats, canvas: canvas, on: conn)
        }
        try engine.facts.write(facts, on: conn)
    }

    /// Enters the customers whose recall time passed without the cancelling event; returns how many rows.
    func runRecalls(limit: Int = 500) throws -> Int {
        try engine.database.transaction { conn in
            let rows = try conn.query("""
                DELETE FROM recall_candidates r USING (
                    SELECT canvas_id, customer_id, event_id FROM recall_candidates WHERE due_at <= now()
                     ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED) d
                 WHERE r.canvas_id = d.canvas_id AND r.customer_id = d.customer_id AND r.event_id = d.event_id
                RETURNING r.canvas_id, r.customer_id, r.event_id, r.customer_org_path
                """, limit)
            try conn.execute("DELETE FROM recall_cancels WHERE keep_until < now()")
            let now = Date()
            for r in rows {
                try engine.entry.enter([JourneyEntry.Candidate(customerId: try r.decode("customer_id"), customerOrgPath: try r.decode("customer_org_path"))],
                                       canvasId: try r.decode("canvas_id"), entryKey: "recall:\(try r.decode("event_id", as: String.self))",
                                       now: now, on: conn)
            }
            if !rows.isEmpty { engine.wakeUp() }
            return rows.count
        }
    }
}
