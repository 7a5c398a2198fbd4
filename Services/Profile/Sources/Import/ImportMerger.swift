import Contracts
import Foundation
import Postgres
import ServiceKit

/// Merges an import's staged rows into `customers`, one batch per transaction, as the job of queue
/// `profile.import` (any replica's `JobWorker` may run it; a killed one's job is taken over when its
/// lease expires).
///
/// A batch is the next `mergeBatchRows` staged lines after `imports.merged_through`. Its transaction
/// merges them with set-based statements (the merge semantics of `CustomerStore.upsert`: a set
/// `present` bit sets the column, a clear one keeps it; the attribute patch is merged, `null` removing),
/// records the rejected ones, deletes the batch from staging and advances `processed`, `accepted`,
/// `rejected` and `merged_through`. So a crash at any moment leaves whole batches merged or not at all,
/// and the next run resumes after the last committed one. The last transaction marks the import
/// `done` and completes the job.
///
/// Existing customers outside the import's scope (the uploader's subtree) are never changed: their
/// rows are rejected. A customer id repeated in the file is applied in line order (each repeat in a
/// later round of the batch). If the database refuses a batch statement for a row's data (a check
/// constraint the validator did not foresee), the batch is redone row by row under savepoints and only
/// that row is rejected.
///
/// Thread-safety: an immutable value; each call uses its own pooled connection. Concurrent runs for
/// one import serialize on the import's row lock.
public struct ImportMerger: Sendable {
    public static let queue = "profile.import"

    /// The job's payload.
    public struct Payload: Codable, Sendable {
        public var importId: String
    }

    let database: PostgresPool
    let limits: ImportLimits

    /// The job handler: merges every remaining batch, then completes the job with the last one.
    func run(_ job: Job) throws {
        let payload = try job.payload(as: Payload.self)
        // Staging has just received a whole file. Without fresh statistics the planner takes a batch's
        // `line > $2 ORDER BY line LIMIT $3` for a few rows and sorts all the import's staged rows for
        // every batch (0.5-1.9 s a batch at 1M rows, against 40 ms through the primary key) until
        // autovacuum gets round to the table.
        _ = try database.execute("ANALYZE import_rows")
        while try mergeNextBatch(importId: payload.importId, job: job) {}
    }

    /// What one call did.
    public enum BatchOutcome: Equatable, Sendable {
        case merged(rows: Int, accepted: Int)
        case finished
    }

    /// Merges the next batch in one transaction. Returns true while batches remain. `beforeCommit` runs
    /// inside the batch's transaction just before COMMIT (tests throw there to simulate a crash).
    @discardableResult
    func mergeNextBatch(importId: String, job: Job? = nil, batchRows: Int? = nil,
                        beforeCommit: (PostgresConnection) throws -> Void = { _ in }) throws -> Bool {
        try database.transaction { conn in
            let rows = try conn.query("""
                SELECT status, org_id, org_path, merged_through, errors_stored FROM imports WHERE id = $1 FOR UPDATE
                """, importId)
            guard let head = rows.first else {
                throw JobFailure.permanent("import \(importId) does not exist")
            }
            let status: String = try head.decode("status")
            guard status == "merging" else {
                try job?.complete(on: conn)   // done or failed meanwhile: nothing to merge
                return false
            }
            let scope = Scope(importId: importId, orgId: try head.decode("org_id"), orgPath: try head.decode("org_path"))
            let mergedThrough: Int64 = try head.decode("merged_through")
            let errorsStored: Int = try head.decode("errors_stored")

            try conn.execute("""
                CREATE TEMP TABLE import_batch (LIKE import_rows, round integer NOT NULL, outcome text) ON COMMIT DROP
                """)
            let filled = try conn.execute("""
                INSERT INTO import_batch
                SELECT w.*, row_number() OVER (PARTITION BY w.customer_id ORDER BY w.line), NULL
                FROM (SELECT * FROM import_rows WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT $3) w
                """, importId, mergedThrough, batchRows ?? limits.mergeBatchRows)
            if filled == 0 {
                try conn.execute("""
                    UPDATE imports SET status = 'done', finished_at = now(), updated_at = now() WHERE id = $1
                    """, importId)
                try beforeCommit(conn)
                try job?.complete(on: conn)
                return false
            }
            try conn.execute("CREATE INDEX ON import_batch (line)")
            try conn.execute("CREATE INDEX ON import_batch (customer_id)")
            try conn.execute("ANALYZE import_batch (line, customer_id, round, outcome)")
            let rounds: Int = try conn.query("SELECT max(round) AS rounds FROM import_batch")[0].decode("rounds")

            try conn.execute("SAVEPOINT batch")
            do {
                for round in 1...rounds { try merge(round: round, line: nil, scope: scope, on: conn) }
                try conn.execute("RELEASE SAVEPOINT batch")
            } catch let error as PostgresError where Self.isRowDataFault(error) {
                try conn.execute("ROLLBACK TO SAVEPOINT batch")
                try mergeRowByRow(scope: scope, on: conn)
            }

            let counts = try conn.query("""
                SELECT count(*) AS n, count(*) FILTER (WHERE outcome = 'merged') AS merged, max(line) AS last
                FROM import_batch
                """)[0]
            let n: Int = try counts.decode("n"), merged: Int = try counts.decode("merged")
            let last: Int64 = try counts.decode("last")
            let stored = try conn.execute("""
                INSERT INTO import_errors (import_id, line, field, message)
                SELECT $1, line, CASE WHEN outcome IS NULL THEN 'id' END,
                       coalesce(substr(outcome, 9),
                                'customer ' || customer_id || ' belongs to an org unit outside yours; not changed')
                FROM import_batch WHERE outcome IS DISTINCT FROM 'merged'
                ORDER BY line LIMIT $2
                ON CONFLICT DO NOTHING
                """, importId, max(0, limits.maximumStoredErrors - errorsStored))
            try conn.execute("DELETE FROM import_rows WHERE import_id = $1 AND line > $2 AND line <= $3",
                             importId, mergedThrough, last)
            try conn.execute("""
                UPDATE imports SET processed = processed + $2, accepted = accepted + $3, rejected = rejected + $4,
                       errors_stored = errors_stored + $5, merged_through = $6, updated_at = now()
                WHERE id = $1
                """, importId, n, merged, n - merged, stored, last)
            try beforeCommit(conn)
            return true
        }
    }

    struct Scope {
        let importId: String
        let orgId: String
        let orgPath: String
    }

    /// A data exception (22xxx) or an integrity violation (23xxx) raised by a row's values.
    static func isRowDataFault(_ error: PostgresError) -> Bool {
        guard case .server(let server) = error else { return false }
        return server.sqlState.hasPrefix("22") || server.sqlState.hasPrefix("23")
    }

    /// Fallback for a batch the database refused: each row under its own savepoint; a refused row's
    /// outcome becomes `refused:` and the database's reason.
    private func mergeRowByRow(scope: Scope, on conn: PostgresConnection) throws {
        let lines = try conn.query("SELECT line, round FROM import_batch ORDER BY round, line")
        for row in lines {
            let line: Int64 = try row.decode("line"), round: Int = try row.decode("round")
            try conn.execute("SAVEPOINT row")
            do {
                try merge(round: round, line: line, scope: scope, on: conn)
                try conn.execute("RELEASE SAVEPOINT row")
            } catch let error as PostgresError where Self.isRowDataFault(error) {
                try conn.execute("ROLLBACK TO SAVEPOINT row")
                var reason = "\(error)"
                if case .server(let server) = error { reason = server.message }
                try conn.execute("UPDATE import_batch SET outcome = $2 WHERE line = $1",
                                 line, "refused:the database refused the row: " + String(reason.prefix(300)))
            }
        }
    }

    /// One round (the n-th occurrence of each customer id in the batch), or one line of it: insert the
    /// new customers, then update those in scope that exist (an insert that conflicts, also with a
    /// concurrent writer's new customer, leaves its row to the update). Rows left without an outcome
    /// exist outside the scope.
    private func merge(round: Int, line: Int64?, scope: Scope, on conn: PostgresConnection) throws {
        try conn.execute(Self.insertSQL, round, scope.orgId, scope.orgPath, line)
        // A file of new customers leaves nothing to update. The update's plan is not asked to see that:
        // with `customers` statistics stale (the import itself is growing it) it drove the join from the
        // scope's customers, scanning all of them for each batch (0.2 s a batch at 200k, growing).
        let pending = try conn.query("""
            SELECT EXISTS (SELECT 1 FROM import_batch
                           WHERE round = $1 AND outcome IS NULL AND ($2::bigint IS NULL OR line = $2)) AS pending
            """, round, line)
        guard try pending[0].decode("pending", as: Bool.self) else { return }
        try update(round: round, line: line, scope: scope, on: conn)
    }

    /// The update of existing customers. A batch is small against `customers`: probing the primary key
    /// per row beats hashing the whole table, which the planner otherwise picks once customers
    /// outnumber the batch (a full scan of `customers` per batch). Only for this statement: elsewhere
    /// hash joins are what keeps the batch's own bookkeeping linear.
    private func update(round: Int, line: Int64?, scope: Scope, on conn: PostgresConnection) throws {
        try conn.execute("SET LOCAL enable_hashjoin = off")
        try conn.execute("SET LOCAL enable_mergejoin = off")
        defer {
            _ = try? conn.execute("SET LOCAL enable_hashjoin = on")
            _ = try? conn.execute("SET LOCAL enable_mergejoin = on")
        }
        try conn.execute(Self.updateSQL, round, scope.orgPath, line)
    }

    /// `SET` clauses: a column changes only where the row's `present` bit for it is set.
    static let assignments: String = {
        var parts: [String] = []
        for (index, field) in CustomerField.allCases.enumerated() {
            let bit = 1 << index
            if field == .orgId {
                parts.append("org_id = CASE WHEN b.present & \(bit) <> 0 THEN b.org_id ELSE c.org_id END")
                parts.append("org_path = CASE WHEN b.present & \(bit) <> 0 THEN b.org_path ELSE c.org_path END")
            } else {
                parts.append("\(field.column) = CASE WHEN b.present & \(bit) <> 0 THEN b.\(field.column)\(field.stagedCast) ELSE c.\(field.column) END")
            }
        }
        parts.append("attributes = jsonb_strip_nulls(c.attributes || b.attributes)")
        parts.append("version = c.version + 1")
        parts.append("updated_at = now()")
        return parts.joined(separator: ",\n    ")
    }()

    /// $1 round, $2 scope path, $3 one line or NULL.
    static let updateSQL = """
        WITH updated AS (
            UPDATE customers c SET
            \(assignments)
            FROM import_batch b
            WHERE c.id = b.customer_id AND b.round = $1 AND b.outcome IS NULL AND starts_with(c.org_path, $2)
              AND ($3::bigint IS NULL OR b.line = $3)
            RETURNING b.line)
        UPDATE import_batch t SET outcome = 'merged' FROM updated u WHERE t.line = u.line
        """

    /// $1 round, $2 default org id, $3 default org path (the uploader's), $4 one line or NULL.
    static let insertSQL: String = {
        let builtIns = CustomerField.allCases.dropFirst()
        return """
            WITH inserted AS (
                INSERT INTO customers (id, org_id, org_path, \(builtIns.map(\.column).joined(separator: ", ")), attributes)
                SELECT b.customer_id, coalesce(b.org_id, $2), coalesce(b.org_path, $3),
                       \(builtIns.map { "b.\($0.column)\($0.stagedCast)" }.joined(separator: ", ")),
                       jsonb_strip_nulls(b.attributes)
                FROM import_batch b
                WHERE b.round = $1 AND b.outcome IS NULL AND ($4::bigint IS NULL OR b.line = $4)
                ORDER BY b.customer_id
                ON CONFLICT (id) DO NOTHING
                RETURNING id)
            UPDATE import_batch t SET outcome = 'merged' FROM inserted i WHERE t.customer_id = i.id AND t.round = $1
            """
    }()
}
