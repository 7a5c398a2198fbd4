import Contracts
import Foundation
import Postgres
import ServiceKit

/// The `imports` records: creation, progress of the upload, failure, and reading them back within the
/// caller's org subtree.
///
/// Thread-safety: an immutable value; every call takes its own pooled connection.
public struct ImportStore: Sendable {
    let database: PostgresPool
    let limits: ImportLimits

    static let notFound = APIError.notFound("no such import", code: "import_not_found")

    /// A fresh import id: `imp_` and 20 random hex digits.
    static func newId() -> String {
        var generator = SystemRandomNumberGenerator()
        let a = generator.next() as UInt64, b = generator.next() as UInt64
        let hex = String(a, radix: 16) + String(b, radix: 16)
        let padded = String(repeating: "0", count: max(0, 32 - hex.count)) + hex
        return "imp_" + padded.prefix(20)
    }

    /// The shape `newId()` makes; anything else cannot exist, so it is a 404 without a query.
    static func isImportId(_ id: String) -> Bool { id.utf8.count == 24 && id.hasPrefix("imp_") }

    /// The import, if it belongs to the caller's subtree (another branch's is 404, like a missing one).
    public func job(id: String, caller: CallerIdentity) throws -> ImportJob {
        guard Self.isImportId(id) else { throw Self.notFound }
        return try database.withConnection { conn in
            let rows = try conn.query("SELECT \(ImportJob.columns) FROM imports WHERE id = $1 AND starts_with(org_path, $2)",
                                      id, caller.orgPath)
            guard let row = rows.first else { throw Self.notFound }
            return try ImportJob(row: row, errors: try errors(of: id, on: conn))
        }
    }

    /// The import without a scope check (for the service itself).
    func job(id: String, on conn: PostgresConnection) throws -> ImportJob {
        let rows = try conn.query("SELECT \(ImportJob.columns) FROM imports WHERE id = $1", id)
        guard let row = rows.first else { throw Self.notFound }
        return try ImportJob(row: row, errors: try errors(of: id, on: conn))
    }

    /// Every row error of an import in the caller's subtree, by line, a page at a time (the job view
    /// shows only the first ones). The sort key is the line number as decimal text.
    public func errors(importId id: String, caller: CallerIdentity, page: PageRequest) throws -> Page<ImportRowError> {
        guard Self.isImportId(id) else { throw Self.notFound }
        var afterLine: Int64 = 0
        if let after = page.after {
            guard let line = Int64(after), line > 0 else { throw PageRequest.malformedCursor }
            afterLine = line
        }
        return try database.withConnection { conn in
            guard try !conn.query("SELECT 1 FROM imports WHERE id = $1 AND starts_with(org_path, $2)", id, caller.orgPath).isEmpty else {
                throw Self.notFound
            }
            let fetched = try conn.query("""
                SELECT line, field, message FROM import_errors WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT $3
                """, id, afterLine, page.limit + 1).map(Self.rowError)
            return PageRequest.page(fetched, limit: page.limit) { String($0.line) }
        }
    }

    private static func rowError(_ row: PostgresRow) throws -> ImportRowError {
        ImportRowError(line: try row.decode("line", as: Int.self), field: try row.decode("field"), message: try row.decode("message"))
    }

    private func errors(of id: String, on conn: PostgresConnection) throws -> [ImportRowError] {
        try conn.query("SELECT line, field, message FROM import_errors WHERE import_id = $1 ORDER BY line LIMIT $2",
                       id, limits.errorsShown).map(Self.rowError)
    }

    /// Starts an import for `caller` (status `receiving`).
    func create(id: String, format: ImportFormat, caller: CallerIdentity, requestId: String) throws {
        try database.execute("""
            INSERT INTO imports (id, org_id, org_path, created_by, request_id, format, status)
            VALUES ($1, $2, $3, $4, $5, $6, 'receiving')
            """, id, caller.orgId, caller.orgPath, caller.userId, String(requestId.prefix(200)), format.rawValue)
    }

    /// Stages a chunk of an upload in one transaction: its checked rows (`StagedRow` COPY text), its
    /// errors and the job's counters, which are the upload's heartbeat too. Refused once the import is
    /// no longer receiving (ended as abandoned meanwhile): its rows would never be merged.
    func stage(importId id: String, rows: [UInt8], errors: [ImportRowError], total: Int, rejected: Int) throws {
        try database.transaction { conn in
            let counted = try conn.execute("""
                UPDATE imports SET total = $2, rejected = $3, processed = $3, errors_stored = errors_stored + $4,
                       updated_at = now()
                WHERE id = $1 AND status = 'receiving'
                """, id, total, rejected, errors.count)
            guard counted == 1 else { throw Self.abandoned }
            if !rows.isEmpty {
                try conn.copyFrom(StagedRow.copyStatement, chunks: CollectionOfOne(rows))
            }
            if !errors.isEmpty {
                try conn.copyFrom("COPY import_errors (import_id, line, field, message) FROM STDIN",
                                  rows: errors.lazy.map { [id, String($0.line), $0.field, $0.message] })
            }
        }
    }

    /// An upload that went on after it was ended as abandoned (its heartbeat had gone stale).
    static let abandoned = APIError(status: 409, code: "import_abandoned",
                                    message: "the import was ended as abandoned while it was still uploading; upload the file again")

    /// Ends an upload that broke off: nothing of it is merged (a truncated file's last row cannot be
    /// trusted), so its staged rows go.
    func fail(id: String, reason: String) {
        _ = try? database.transaction { conn in
            try conn.execute("""
                UPDATE imports SET status = 'failed', failure = $2, finished_at = now(), updated_at = now()
                WHERE id = $1 AND status = 'receiving'
                """, id, String(reason.prefix(500)))
            try conn.execute("DELETE FROM import_rows WHERE import_id = $1", id)
        }
    }

    /// Fails uploads whose heartbeat stopped (their process was killed mid-upload) and drops their
    /// staged rows. Cheap (a partial index); run before each new upload and each read of a job.
    func failAbandonedUploads() throws {
        let rows = try database.query("""
            UPDATE imports SET status = 'failed', failure = 'the upload stopped before its end (its process ended)',
                   finished_at = now(), updated_at = now()
            WHERE status = 'receiving' AND updated_at < now() - make_interval(secs => $1)
            RETURNING id
            """, limits.abandonedAfter)
        for row in rows {
            try database.execute("DELETE FROM import_rows WHERE import_id = $1", try row.decode("id", as: String.self))
        }
    }
}
