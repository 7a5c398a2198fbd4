import Foundation
import Postgres

/// The periodic pass that re-evaluates rule tags whose result moves with time alone (`within` windows:
/// "no login in 90 days" becomes true without any new input). State lives in `rule_tag_sweeps`, so a
/// sweep resumes where it stopped after a restart and replicas share it: each batch takes the sweep's
/// advisory lock (without waiting), evaluates up to `batchSize` customers after `after_id`, and moves on.
///
/// A full sweep (every rule tag, not only those with windows) is requested when a rule tag is created
/// or the lifecycle stages change, since existing customers must then be evaluated without waiting for
/// them to change.
enum RuleTagSweep {
    static let name = "time_windows"

    /// Asks for a full sweep as soon as possible (in the caller's transaction).
    static func requestFull(on conn: PostgresConnection) throws {
        try conn.execute("UPDATE rule_tag_sweeps SET full_pending = true, next_due_at = least(next_due_at, now()) WHERE name = $1", name)
    }

    /// The result of one batch.
    enum Step: Equatable {
        /// Another replica holds the sweep, or none is due.
        case idle
        /// A batch ran; more customers remain.
        case progressed(customers: Int)
        /// The sweep finished with this batch.
        case finished(customers: Int)
    }

    /// Runs one batch at `now`. `force` starts a sweep even if none is due (tests, operators).
    static func step(engine: RuleTagEngine, now: Date, interval: TimeInterval, batchSize: Int, force: Bool,
                     on conn: PostgresConnection) throws -> Step {
        try conn.transaction { conn in
            // An advisory lock rather than FOR UPDATE: see RuleTagWorker.step (the change feed's readers).
            guard try conn.tryAdvisoryTransactionLock("rule_tag_sweep:" + name) else { return .idle }
            let rows = try conn.query("""
                SELECT after_id, full_pending, full_running, next_due_at <= $2 AS due FROM rule_tag_sweeps WHERE name = $1
                """, name, now)
            guard let row = rows.first else { return .idle }
            var after: String? = try row.decode("after_id")
            var full: Bool = try row.decode("full_running")
            if after == nil {
                let due: Bool = try row.decode("due")
                guard due || force else { return .idle }
                // A new sweep: it is full if one was asked for.
                full = try row.decode("full_pending")
                try conn.execute("UPDATE rule_tag_sweeps SET full_pending = false, full_running = $2, started_at = $3 WHERE name = $1",
                                 name, full, now)
                after = ""
            }
            let (all, stages) = try engine.compile(on: conn)
            let tags = full ? all : RuleTagEngine.timeDependent(all)
            let ids = try conn.query("SELECT id FROM customers WHERE id > $1 ORDER BY id LIMIT $2", after ?? "", batchSize)
                .map { try $0.decode("id", as: String.self) }
            _ = try engine.evaluate(ids, tags: tags, stages: stages, now: now, on: conn)
            if ids.count < batchSize {
                try conn.execute("""
                    UPDATE rule_tag_sweeps SET after_id = NULL, full_running = false, finished_at = $2,
                           next_due_at = CASE WHEN full_pending THEN $2 ELSE $2 + make_interval(secs => $3) END
                     WHERE name = $1
                    """, name, now, interval)
                return .finished(customers: ids.count)
            }
            try conn.execute("UPDATE rule_tag_sweeps SET after_id = $2 WHERE name = $1", name, ids.last ?? "")
            return .progressed(customers: ids.count)
        }
    }
}
