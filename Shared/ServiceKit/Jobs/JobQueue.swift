import Foundation
import Postgres

/// Enqueues jobs into the service's `jobs` table inside the caller's transaction, and offers the
/// operator's tools (counts, dead-letter retry, purge). `JobWorker` runs them.
///
/// ```swift
/// try pool.transaction { conn in
///     try conn.execute("INSERT INTO imports ...")
///     try jobs.enqueue(on: conn, queue: "profile.import", payload: ImportJob(importId: id), dedupeKey: "import:\(id)")
/// }
/// ```
///
/// Thread-safety: an immutable value; the connection passed in belongs to the calling thread.
public struct JobQueue: Sendable {
    public let schema: String
    /// Largest accepted payload, in bytes of JSON text.
    public var maximumPayloadBytes: Int
    let tables: DataPlaneTables

    public init(schema: String, maximumPayloadBytes: Int = 1 << 20) throws(JobQueueError) {
        tables = try DataPlaneTables.make(schema: schema, invalidConfiguration: JobQueueError.invalidConfiguration)
        self.schema = schema
        self.maximumPayloadBytes = max(1, maximumPayloadBytes)
    }

    /// Enqueues one job in the transaction open on `connection`. Returns its id, or nil when a job with
    /// the same `dedupeKey` already exists in that queue.
    @discardableResult
    public func enqueue<Payload: Encodable>(on connection: PostgresConnection, queue: String, payload: Payload,
                                            runAt: Date? = nil, maxAttempts: Int = 10,
                                            dedupeKey: String? = nil) throws(JobQueueError) -> Int64? {
        let job = try NewJob(queue: queue, payload: payload, runAt: runAt, maxAttempts: maxAttempts, dedupeKey: dedupeKey)
        return try enqueue(on: connection, jobs: [job]).first ?? nil
    }

    /// Enqueues many jobs with one statement per 1,000, in the transaction open on `connection`.
    /// Returns, for each input, its new id or nil when deduplicated.
    @discardableResult
    public func enqueue(on connection: PostgresConnection, jobs: [NewJob]) throws(JobQueueError) -> [Int64?] {
        guard connection.isInTransaction else { throw .notInTransaction }
        for job in jobs where job.payloadJSON.utf8.count > maximumPayloadBytes {
            throw .invalidJob("payload for queue \(job.queue) is \(job.payloadJSON.utf8.count) bytes, more than \(maximumPayloadBytes)")
        }
        var ids: [Int64?] = []
        ids.reserveCapacity(jobs.count)
        var start = 0
        while start < jobs.count {
            let chunk = Array(jobs[start..<min(start + 1_000, jobs.count)])
            start += chunk.count
            do {
                // Ids are drawn from the identity sequence before the insert so that each returned row
                // maps back to its input (`ord`); rows skipped by the dedupe key return nothing.
                // `numbered` is referenced twice and calls a volatile function: it is materialized once.
                let rows = try connection.query("""
                    WITH numbered AS (
                        SELECT nextval(pg_get_serial_sequence($6, 'id')) AS id, i.*
                        FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int8[], $5::text[])
                            WITH ORDINALITY AS i(queue, payload, run_at, max_attempts, dedupe_key, ord)),
                    inserted AS (
                        INSERT INTO \(tables.jobs) (id, queue, payload, run_at, max_attempts, dedupe_key)
                        OVERRIDING SYSTEM VALUE
                        SELECT id, queue, payload::jsonb, coalesce(run_at, now()), max_attempts::int, dedupe_key
                        FROM numbered ORDER BY ord
                        ON CONFLICT ON CONSTRAINT jobs_queue_dedupe_key DO NOTHING
                        RETURNING id)
                    SELECT numbered.ord, numbered.id FROM numbered JOIN inserted USING (id)
                    """,
                    chunk.map(\.queue), chunk.map(\.payloadJSON), chunk.map(\.runAt), chunk.map(\.maxAttempts),
                    chunk.map(\.dedupeKey), tables.jobs)
                var byOrdinal: [Int: Int64] = [:]
                for row in rows {
                    byOrdinal[try row.decode("ord", as: Int.self)] = try row.decode("id", as: Int64.self)
                }
                ids += (0..<chunk.count).map { byOrdinal[$0 + 1] }
            } catch {
                throw .database(error)
            }
        }
        return ids
    }

    /// Jobs per status.
    public func statistics(on connection: PostgresConnection, queue: String? = nil) throws(JobQueueError) -> JobStatistics {
        do {
            let rows = try connection.query("""
                SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                       count(*) FILTER (WHERE status = 'running') AS running,
                       count(*) FILTER (WHERE status = 'done') AS done,
                       count(*) FILTER (WHERE status = 'dead') AS dead
                FROM \(tables.jobs) WHERE ($1::text IS NULL OR queue = $1)
                """, queue)
            guard let row = rows.first else { return JobStatistics(pending: 0, running: 0, done: 0, dead: 0) }
            return JobStatistics(pending: try row.decode("pending"), running: try row.decode("running"),
                                 done: try row.decode("done"), dead: try row.decode("dead"))
        } catch {
            throw .database(error)
        }
    }

    /// Puts dead-lettered jobs back to `pending` with a fresh attempt count; returns how many.
    @discardableResult
    public func retryDead(on connection: PostgresConnection, ids: [Int64]) throws(JobQueueError) -> Int {
        do {
            return try connection.execute("""
                UPDATE \(tables.jobs)
                SET status = 'pending', attempts = 0, run_at = now(), finished_at = NULL
                WHERE status = 'dead' AND id = ANY($1::int8[])
                """, ids)
        } catch {
            throw .database(error)
        }
    }

    /// Deletes finished (`done`) jobs older than `age` seconds, at most `limit` per call. Their dedupe
    /// keys become usable again. Dead jobs are kept for an operator.
    @discardableResult
    public func purgeFinished(on connection: PostgresConnection, olderThan age: TimeInterval,
                              limit: Int = 10_000) throws(JobQueueError) -> Int {
        do {
            return try connection.execute("""
                DELETE FROM \(tables.jobs) WHERE id IN (
                    SELECT id FROM \(tables.jobs)
                    WHERE status = 'done' AND finished_at < now() - make_interval(secs => $1)
                    LIMIT $2)
                """, max(0, age), max(1, limit))
        } catch {
            throw .database(error)
        }
    }
}

/// How many jobs are in each state.
public struct JobStatistics: Sendable, Equatable {
    public let pending: Int
    public let running: Int
    public let done: Int
    public let dead: Int
}
