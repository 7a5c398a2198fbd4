import Contracts
import Foundation
import Postgres
import ServiceKit

/// Moves journeys: worker threads claim due journeys in batches (`FOR UPDATE SKIP LOCKED`, under a
/// lease), advance each through the nodes that need nothing outside (ab, split, wait, exit), perform
/// the side effects of the batch together (sends in batches of up to 1,000 through the dispatcher,
/// grants, tags, webhooks — each keyed `<journey>:<node>`), and complete the whole batch in one
/// transaction with its statistics and outbox events. A journey whose step is retried after a crash
/// or a failure sends nothing twice: the dispatcher and the rewards service replay keyed requests.
///
/// Several replicas cooperate through the database alone; a paused canvas's journeys are not claimed.
///
/// Journeys of a test run (`:test`, `Claimed.testRun`) move the same way on the run's own copy of the
/// document, whatever the canvas's status: their messages go out for real, to the test customers, but
/// as the run's campaign rather than the canvas's; rewards, tags, tasks and webhooks are skipped
/// (outcome `test_skipped`), their counts go to the run, and they write no journey facts.
///
/// Thread-safety: `versions` is guarded by `lock`; everything else is immutable or thread-confined.
public final class JourneyEngine: BackgroundTask, @unchecked Sendable {
    public var taskName: String { "journey-engine" }
    let database: PostgresPool
    let peers: Peers
    let facts: JourneyFacts
    let entry: JourneyEntry
    let threads: Int
    let batchSize: Int
    let lease: TimeInterval
    let pollInterval: TimeInterval
    let timeZone: TimeZone
    /// Claims of one journey on a failing webhook before the node gives up (`failed`) and the journey
    /// moves on; with the backoff of `release(_:)`, 10 cover about eight minutes of an outside outage.
    let webhookAttempts: Int
    let logger: Logger
    let wake = WakeSignal()
    private var loops: [BackgroundLoop] = []
    private let lock = NSLock()
    private var versions: [String: CanvasDocument] = [:]
    private var owners: [String: (orgId: String, orgPath: String)] = [:]

    init(database: PostgresPool, peers: Peers, facts: JourneyFacts, threads: Int, batchSize: Int, lease: TimeInterval,
         pollInterval: TimeInterval, timeZone: TimeZone, webhookAttempts: Int = 10, logger: Logger) {
        self.database = database
        self.peers = peers
        self.facts = facts
        self.entry = JourneyEntry(facts: facts)
        self.threads = threads
        self.batchSize = batchSize
        self.lease = lease
        self.pollInterval = pollInterval
        self.timeZone = timeZone
        self.webhookAttempts = webhookAttempts
        self.logger = logger
    }

    public func start() throws {
        for i in 0..<threads {
            let loop = BackgroundLoop(name: "journey-engine-\(i)")
            loops.append(loop)
            try loop.start { [self] in
                while !loop.isStopping {
                    let seen = wake.current
                    do {
                        if try runBatch() > 0 { continue }
                    } catch {
                        logger.error("journey batch failed", ["error": .string("\(error)")])
                        loop.pause(1)
                    }
                    wake.wait(since: seen, timeout: pollInterval)
                }
            }
        }
    }

    @discardableResult
    public func stop(timeout: TimeInterval) -> Bool {
        wake.stop()
        var ok = true
        for l in loops { ok = l.stop(timeout: timeout) && ok }
        return ok
    }

    public func wakeUp() { wake.signal() }

    // MARK: one batch

    struct Claimed {
        var id: Int64
        var canvasId: String
        var version: Int
        var customerId: String
        var customerOrgPath: String?
        var arm: String?
        var state: String
        var node: String?
        var waitEvent: String?
        var step: Int
        var visits: [String: Int]
        var attempts: Int
        /// The test run the journey belongs to; nil for the canvas's real journeys.
        var testRun: String?

        /// Where the journey's counts go: the canvas's statistics, or the test run's.
        var statsKey: String { testRun ?? canvasId }
    }

    /// Where a journey ends up after this claim.
    struct Outcome {
        var journey: Claimed
        var node: String?
        var dueAt: Date?
        var waitEvent: String?
        var done: Bool = false
        var exitReason: String?
        var visits: [String: Int]
        /// The node reached last in this claim (nil: none), the journey's last touch.
        var lastNode: String?
        var stats: [String: Int64] = [:]
        var events: [(MarketingFactType, MarketingFact)] = []
        var tasks: [(node: String, text: String)] = []
        /// The side effect the journey waits for at `node` (nil: settled for this claim).
        var pending: Pending?
        /// Why this journey's effect could not be done now: the journey alone goes back to the queue with
        /// a backoff (its keys make the retry harmless), the rest of the batch goes on.
        var heldBack: String?
    }


    enum Pending { case send, split, reward, tag, webhook }

    func document(canvas: String, version: Int) throws -> CanvasDocument {
        try cachedDocument("\(canvas)#\(version)", canvas: canvas, missing: "canvas \(canvas) has no version \(version)") {
            try database.query("""
                SELECT v.document::text AS d, c.org_id, c.org_path FROM canvas_versions v JOIN canvases c ON c.id = v.canvas_id
                 WHERE v.canvas_id = $1 AND v.version = $2
                """, canvas, version).first
        }
    }

    /// The document cached under `key`, or loaded by `load` (a row of `d`, `org_id`, `org_path`) and
    /// cached with its canvas's owner; documents never change once stored, so the cache never expires.
    private func cachedDocument(_ key: String, canvas: String, missing: @autoclosure () -> String,
                                load: () throws -> PostgresRow?) throws -> CanvasDocument {
        lock.lock()
        if let d = versions[key] { lock.unlock(); return d }
        lock.unlock()
        guard let row = try load() else { throw APIError.internalError(missing()) }
        let d = try CanvasDocument(json: try Canvas.parse(try row.decode("d")))
        lock.lock()
        versions[key] = d
        owners[canvas] = (try row.decode("org_id"), try row.decode("org_path"))
        lock.unlock()
        return d
    }

    /// The document a claimed journey runs: its canvas version's, or its test run's copy.
    func document(for journey: Claimed) throws -> CanvasDocument {
        guard let run = journey.testRun else { return try document(canvas: journey.canvasId, version: journey.version) }
        return try document(testRun: run, canvas: journey.canvasId)
    }

    /// The copy of the document a test run rehearses (a draft has no version).
    func document(testRun run: String, canvas: String) throws -> CanvasDocument {
        try cachedDocument("test:\(run)", canvas: canvas, missing: "test run \(run) is missing") {
            try database.query("""
                SELECT t.document::text AS d, c.org_id, c.org_path FROM test_runs t JOIN canvases c ON c.id = t.canvas_id WHERE t.id = $1
                """, run).first
        }
    }

    func owner(_ canvas: String) -> (orgId: String, orgPath: String) {
        lock.lock()
        defer { lock.unlock() }
        return owners[canvas] ?? ("", "/")
    }

    /// Claims and runs one batch; returns how many journeys it claimed.
    public func runBatch() throws -> Int {
        let claimed = try claim()
        guard !claimed.isEmpty else { return 0 }
        do {
            try process(claimed)
        } catch {
            // Back off and hand the batch back; the keys make the retry harmless.
            try? release(claimed)
            throw error
        }
        return claimed.count
    }

    /// Hands journeys back unfinished, due again after a backoff that grows with their claims (the
    /// claim counted an attempt; completing resets it).
    func release(_ journeys: [Claimed]) throws {
        guard !journeys.isEmpty else { return }
        let delay = min(60, pow(2, Double(min(journeys.map(\.attempts).max() ?? 1, 6))))
        try database.execute("""
            UPDATE journeys SET claimed_until = NULL, due_at = now() + $2 * interval '1 second' WHERE id = ANY($1::bigint[])
            """, journeys.map(\.id), delay)
    }

    func claim() throws -> [Claimed] {
        let rows = try database.query("""
            WITH due AS (
                SELECT j.id FROM journeys j JOIN canvases c ON c.id = j.canvas_id
                 WHERE j.state IN ('active', 'control') AND j.due_at <= now() AND (c.status = 'running' OR j.test_run IS NOT NULL)
                   AND (j.claimed_until IS NULL OR j.claimed_until < now())
                 ORDER BY j.due_at LIMIT $1 FOR UPDATE OF j SKIP LOCKED)
            UPDATE journeys j SET claimed_until = now() + $2 * interval '1 second', attempts = j.attempts + 1
              FROM due WHERE j.id = due.id
            RETURNING j.id, j.canvas_id, j.version, j.customer_id, j.customer_org_path, j.arm, j.state, j.node, j.wait_event, j.step,
                      j.visits::text AS visits, j.attempts, j.test_run
            """, batchSize, lease)
        return try rows.map { r in
            let visitsJSON = try Canvas.parse(try r.decode("visits"))
            var visits: [String: Int] = [:]
            if case .object(let o) = visitsJSON { for (k, v) in o { visits[k] = Int(v.doubleValue ?? 0) } }
            return Claimed(id: try r.decode("id"), canvasId: try r.decode("canvas_id"), version: try r.decode("version"),
                           customerId: try r.decode("customer_id"), customerOrgPath: try r.decode("customer_org_path"), arm: try r.decode("arm"),
                           state: try r.decode("state"), node: try r.decode("node"), waitEvent: try r.decode("wait_event"),
                           step: try r.decode("step"), visits: visits, attempts: try r.decode("attempts"), testRun: try r.decode("test_run"))
        }
    }

    func process(_ claimed: [Claimed]) throws {
        let now = Date()
        var outcomes: [Outcome] = []
        for j in claimed {
            let document = try document(for: j)
            var o = Outcome(journey: j, node: j.node, dueAt: nil, waitEvent: nil, visits: j.visits)
            if j.state == "control" {
                o.done = true
                o.exitReason = "control_window_end"
            } else if let event = j.waitEvent, let node = j.node.flatMap(document.node), case .waitEvent(_, _, _, let onTimeout) = node.kind {
                _ = event
                o.stats[NodeStats.key(node.id, "timeout")] = 1
                o.node = onTimeout
            }
            advance(&o, document: document, now: now)
            outcomes.append(o)
        }
        // Effects, then advance again, a few rounds: a claim moves a journey through several nodes.
        for _ in 0..<8 {
            let pending = outcomes.indices.filter { outcomes[$0].pending != nil }
            guard !pending.isEmpty else { break }
            try perform(pending, in: &outcomes, now: now)
            for i in pending where outcomes[i].pending == nil && outcomes[i].heldBack == nil {
                let d = try document(for: outcomes[i].journey)
                advance(&outcomes[i], document: d, now: now)
            }
        }
        let held = outcomes.filter { $0.heldBack != nil }
        try complete(outcomes.filter { $0.heldBack == nil }, now: now)
        for o in held {
            logger.warning("journey step held back", ["canvasId": .string(o.journey.canvasId), "journeyId": .string(String(o.journey.id)),
                                                      "attempt": .int(o.journey.attempts), "reason": .string(o.heldBack ?? "")])
        }
        try release(held.map(\.journey))
    }

    /// Moves through nodes that need nothing outside, stopping at a wait or a side effect.
    func advance(_ o: inout Outcome, document: CanvasDocument, now: Date) {
        guard !o.done else { return }
        var hops = 0
        while let id = o.node, o.pending == nil, o.dueAt == nil, !o.done {
            hops += 1
            guard hops <= CanvasDocument.maxNodes, let node = document.node(id) else {
                o.done = true
                o.exitReason = "invalid_node"
                return
            }
            reach(&o, node, document: document)
            switch node.kind {
            case .exit:
                o.done = true
                o.exitReason = "exit"
            case .ab(let branches):
                let b = Assignment.branch(branches, canvas: o.journey.canvasId, customer: o.journey.customerId)
                o.stats[NodeStats.key(node.id, b.name)] = 1
                o.node = b.next
            case .wait(let duration, let minute, let next):
                o.node = next
                o.dueAt = duration.map { now.addingTimeInterval($0.timeInterval) } ?? nextTime(minuteOfDay: minute ?? 0, after: now)
            case .waitEvent(let event, let timeout, _, _):
                o.waitEvent = event
                o.dueAt = now.addingTimeInterval(timeout.timeInterval)
            case .task(let text, let next):
                // A test run leaves the account managers' lists alone.
                if o.journey.testRun == nil { o.tasks.append((node.id, text)) } else { o.stats[NodeStats.key(node.id, "test_skipped")] = 1 }
                o.node = next
            case .send: o.pending = .send
            case .split: o.pending = .split
            case .reward: o.pending = .reward
            case .tag: o.pending = .tag
            case .webhook: o.pending = .webhook
            }
        }
        if o.node == nil && !o.done && o.pending == nil && o.dueAt == nil {
            o.done = true
            o.exitReason = "completed"
        }
    }

    func reach(_ o: inout Outcome, _ node: CanvasDocument.Node, document: CanvasDocument) {
        o.visits[node.id, default: 0] += 1
        o.lastNode = node.id
        o.stats[NodeStats.key(node.id, "reached"), default: 0] += 1
        let owner = owner(o.journey.canvasId)
        o.events.append((.nodeReached, MarketingFact(customerId: o.journey.customerId, orgPath: owner.orgPath,
                                                     customerOrgPath: o.journey.customerOrgPath, canvasId: o.journey.canvasId,
                                                     canvasVersion: o.journey.version, nodeId: node.id, nodeType: node.type, arm: o.journey.arm)))
    }

    /// The idempotency key of the journey's current visit of `node`: `<journey>:<node>`, with the visit
    /// number from the second visit on (a loop sends once per pass).
    static func key(_ o: Outcome, node: String) -> String {
        let visit = o.visits[node] ?? 1
        let key = visit > 1 ? "\(o.journey.id):\(node):\(visit)" : "\(o.journey.id):\(node)"
        return o.journey.testRun == nil ? key : "test:" + key
    }

    func nextTime(minuteOfDay: Int, after now: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = calendar.startOfDay(for: now)
        let today = start.addingTimeInterval(TimeInterval(minuteOfDay * 60))
        return today > now ? today : calendar.date(byAdding: .day, value: 1, to: today) ?? today.addingTimeInterval(86_400)
    }

    // MARK: side effects

    func perform(_ indices: [Int], in outcomes: inout [Outcome], now: Date) throws {
        // Sends: one batch per canvas (the canvas's identity), up to 1,000 per call.
        var sends: [String: [Int]] = [:]
        var splits: [Int] = []
        for i in indices {
            switch outcomes[i].pending! {
            case .send: sends[outcomes[i].journey.canvasId, default: []].append(i)
            case .split: splits.append(i)
            default:
                // One journey's outside call failing holds back that journey, not the whole batch.
                do {
                    try performSingle(i, in: &outcomes)
                } catch {
                    outcomes[i].pending = nil
                    outcomes[i].heldBack = "\(error)"
                }
            }
        }
        for (canvas, group) in sends {
            let owner = owner(canvas)
            var start = 0
            while start < group.count {
                let slice = Array(group[start..<min(start + 1_000, group.count)])
                start += slice.count
                var messages: [JSONValue] = []
                for i in slice {
                    let o = outcomes[i]
                    let d = try document(for: o.journey)
                    guard let node = o.node.flatMap(d.node), case .send(let channel, let template, let fallback, let fallbackTemplate, _) = node.kind else { continue }
                    var m: [String: JSONValue] = [
                        "customerId": .string(o.journey.customerId), "templateId": .string(template), "channel": .string(channel),
                        "key": .string(Self.key(o, node: node.id)),
                    ]
                    if let run = o.journey.testRun {
                        // Not the canvas's message: its facts, counts and campaign caps stay the real run's.
                        m["campaignId"] = .string(run)
                    } else {
                        m["canvasId"] = .string(canvas)
                        m["nodeId"] = .string(node.id)
                    }
                    if let fallback, let fallbackTemplate {
                        m["fallbackChannel"] = .string(fallback)
                        m["fallbackTemplateId"] = .string(fallbackTemplate)
                    }
                    messages.append(.object(m))
                }
                let answer = try peers.send(messages, as: Peers.system(orgPath: owner.orgPath, orgId: owner.orgId))
                var byIndex: [Int: Peers.BatchAnswer.Item] = [:]
                for item in answer.items { byIndex[item.index] = item }
                for (k, i) in slice.enumerated() {
                    let d = try document(for: outcomes[i].journey)
                    guard let node = outcomes[i].node.flatMap(d.node), case .send(_, _, _, _, let next) = node.kind else { continue }
                    let item = byIndex[k]
                    let outcome: String
                    if let status = item?.message?.status {
                        outcome = status == "suppressed" ? "suppressed" : "sent"
                    } else {
                        outcome = item?.error?.code ?? "failed"
                    }
                    outcomes[i].stats[NodeStats.key(node.id, outcome), default: 0] += 1
                    outcomes[i].node = next
                    outcomes[i].pending = nil
                }
            }
        }
        if !splits.isEmpty {
            var docs: [String: CustomerFactsDocument] = [:]
            let ids = Array(Set(splits.map { outcomes[$0].journey.customerId }))
            var start = 0
            while start < ids.count {
                let slice = Array(ids[start..<min(start + 1_000, ids.count)])
                start += slice.count
                docs.merge(try peers.facts(slice)) { $1 }
            }
            let evaluator = RuleEvaluator(timeZone: timeZone)
            for i in splits {
                let d = try document(for: outcomes[i].journey)
                guard let node = outcomes[i].node.flatMap(d.node), case .split(let condition, let yes, let no) = node.kind else { continue }
                let doc = docs[outcomes[i].journey.customerId]
                    ?? CustomerFactsDocument(customerId: outcomes[i].journey.customerId, exists: false, orgPath: nil)
                let holds = doc.exists && evaluator.evaluate(condition, for: AggregateFacts(document: doc, timeZone: timeZone), now: now)
                outcomes[i].stats[NodeStats.key(node.id, holds ? "yes" : "no"), default: 0] += 1
                outcomes[i].node = holds ? yes : no
                outcomes[i].pending = nil
            }
        }
    }

    private func performSingle(_ i: Int, in outcomes: inout [Outcome]) throws {
        let o = outcomes[i]
        let d = try document(for: o.journey)
        guard let node = o.node.flatMap(d.node) else { outcomes[i].pending = nil; return }
        let owner = owner(o.journey.canvasId)
        let identity = Peers.system(orgPath: owner.orgPath, orgId: owner.orgId)
        let key = Self.key(o, node: node.id)
        var outcome = "done"
        var next: String?
        if o.journey.testRun != nil {
            // Only messages are real in a test run: no grant, tag or outside call for a rehearsal.
            switch node.kind {
            case .reward(_, let n), .tag(_, _, _, let n), .webhook(_, let n): next = n
            default: break
            }
            outcomes[i].stats[NodeStats.key(node.id, "test_skipped"), default: 0] += 1
            outcomes[i].node = next
            outcomes[i].pending = nil
            return
        }
        switch node.kind {
        case .reward(let reward, let n):
            next = n
            switch try peers.grant(reward: reward, customerId: o.journey.customerId, canvasId: o.journey.canvasId, nodeId: node.id,
                                   key: key, as: identity) {
            case .granted: outcome = "granted"
            case .refused(let code): outcome = code
            }
        case .tag(let code, let value, let remove, let n):
            next = n
            try peers.tag(code, value: value, remove: remove, customerId: o.journey.customerId, as: identity)
            outcome = remove ? "removed" : "tagged"
        case .webhook(let url, let n):
            next = n
            let payload: JSONValue = .object([
                "canvasId": .string(o.journey.canvasId), "nodeId": .string(node.id), "journeyId": .string(String(o.journey.id)),
                "customerId": .string(o.journey.customerId), "key": .string(key),
            ])
            let answer: Peers.WebhookOutcome
            do {
                answer = try peers.webhook(url, payload: payload, key: key)
            } catch where o.journey.attempts >= webhookAttempts {
                // The bank's outside system stayed down through every attempt: the node fails, the journey goes on.
                answer = .failed("\(error)")
            }
            switch answer {
            case .answered(let status):
                outcome = "status_\(status)"
            case .failed(let why):
                outcome = "failed"
                logger.warning("webhook failed after its attempts", ["canvasId": .string(o.journey.canvasId), "nodeId": .string(node.id),
                                                                     "journeyId": .string(String(o.journey.id)), "reason": .string(why)])
            case .refused(let why):
                // A failed node, not a retry: the URL will not become acceptable by trying again.
                outcome = "refused"
                logger.warning("webhook refused", ["canvasId": .string(o.journey.canvasId), "nodeId": .string(node.id),
                                                   "journeyId": .string(String(o.journey.id)), "reason": .string(why)])
            }
        default:
            break
        }
        outcomes[i].stats[NodeStats.key(node.id, outcome), default: 0] += 1
        outcomes[i].node = next
        outcomes[i].pending = nil
    }

    // MARK: completion

    func complete(_ outcomes: [Outcome], now: Date) throws {
        var ids: [Int64] = [], steps: [Int] = [], nodes: [String?] = [], due: [Date?] = [], waits: [String?] = [], states: [String] = []
        var visits: [String] = [], reasons: [String?] = [], lastNodes: [String?] = []
        var statsByCanvas: [String: [String: Int64]] = [:]
        var events: [(MarketingFactType, MarketingFact)] = []
        for var o in outcomes {
            if o.pending != nil {   // more effects than rounds: continue at once in the next claim
                o.dueAt = now
            }
            if o.done {
                o.events.append((.journeyExited, MarketingFact(customerId: o.journey.customerId, orgPath: owner(o.journey.canvasId).orgPath,
                                                               customerOrgPath: o.journey.customerOrgPath, canvasId: o.journey.canvasId,
                                                               canvasVersion: o.journey.version, arm: o.journey.arm, reason: o.exitReason)))
                o.stats[NodeStats.key("$exit", o.exitReason ?? "completed"), default: 0] += 1
            }
            ids.append(o.journey.id)
            steps.append(o.journey.step)
            nodes.append(o.done ? nil : o.node)
            due.append(o.done ? nil : (o.dueAt ?? now))
            waits.append(o.done ? nil : o.waitEvent)
            states.append(o.done ? "done" : o.journey.state)
            reasons.append(o.exitReason)
            lastNodes.append(o.lastNode)
            visits.append(try CanvasStore.text(.object(o.visits.mapValues { .number(Double($0)) })))
            statsByCanvas[o.journey.statsKey, default: [:]].merge(o.stats) { $0 + $1 }
            if o.journey.testRun == nil { events += o.events }
        }
        // A task goes to the customer's account manager (the `accountManagerId` attribute).
        var managers: [String: String] = [:]
        let taskCustomers = Array(Set(outcomes.filter { !$0.tasks.isEmpty }.map(\.journey.customerId)))
        if !taskCustomers.isEmpty {
            for (id, d) in try peers.facts(taskCustomers) { managers[id] = d.attributes["accountManagerId"]?.stringValue }
        }
        try database.transaction { conn in
            let updated = try conn.query("""
                UPDATE journeys j SET node = t.n, due_at = t.d, wait_event = t.w, state = t.s, visits = t.v::jsonb, step = j.step + 1,
                       claimed_until = NULL, attempts = 0, last_node = coalesce(t.l, j.last_node),
                       exited_at = CASE WHEN t.s = 'done' THEN now() ELSE NULL END, exit_reason = t.r
                  FROM unnest($1::bigint[], $2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                       AS t(id, step, n, d, w, s, v, r, l)
                 WHERE j.id = t.id AND j.step = t.step AND j.state <> 'done'
                RETURNING j.id
                """, ids, steps, nodes, due, waits, states, visits, reasons, lastNodes)
            let kept = Set(try updated.map { try $0.decode("id", as: Int64.self) })
            // A journey moved meanwhile (an event, a stop) keeps its new place; its counts of this claim
            // are dropped with it only when none of its effects happened (the keys cover a retry).
            for (canvas, stats) in statsByCanvas { try NodeStats.add(stats, canvas: canvas, on: conn) }
            var tasks: (ids: [String], canvas: [String], node: [String], journey: [Int64], step: [Int], customer: [String], org: [String], text: [String], assignee: [String?]) = ([], [], [], [], [], [], [], [], [])
            for o in outcomes where kept.contains(o.journey.id) {
                for t in o.tasks {
                    tasks.ids.append(RecordId.make("tsk_"))
                    tasks.canvas.append(o.journey.canvasId)
                    tasks.node.append(t.node)
                    tasks.journey.append(o.journey.id)
                    tasks.step.append(o.journey.step)
                    tasks.customer.append(o.journey.customerId)
                    tasks.org.append(o.journey.customerOrgPath ?? owner(o.journey.canvasId).orgPath)
                    tasks.text.append(t.text)
                    tasks.assignee.append(managers[o.journey.customerId])
                }
            }
            if !tasks.ids.isEmpty {
                try TaskStore.insert(ids: tasks.ids, canvas: tasks.canvas, node: tasks.node, journey: tasks.journey, step: tasks.step,
                                     customer: tasks.customer, orgPath: tasks.org, text: tasks.text, assignee: tasks.assignee, on: conn)
            }
            try facts.write(events, on: conn)
        }
    }
}
