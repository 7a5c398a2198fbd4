import Contracts
import Foundation
import Postgres
import ServiceKit

/// The durable audit trail in `identity.audit_log` (append-only: the table's trigger refuses UPDATE,
/// DELETE and TRUNCATE).
///
/// `record` inserts synchronously, so an entry is committed before the request that caused it is
/// answered. Concurrent entries share one insert and one commit (`GroupCommit`): every mutating request
/// through the gateway writes one, and a commit each was half the cost of a single event's POST. When
/// the insert fails (database down, pool exhausted), the entry is not dropped silently: it is written
/// whole as an error log line with `msg` `audit_fallback` and counted in `audit_fallback_total`, from
/// where an operator can replay it.
///
/// Blocking: `record` and `search` block the calling thread on PostgreSQL; call them from worker
/// threads (the router's `.blocking` routes), never from Dispatch's global pool.
///
/// Thread-safety: immutable after `init`; the pool, logger and counters are themselves thread-safe.
public final class AuditLog: AuditRecorder, Sendable {
    private let database: PostgresPool
    private let logger: Logger
    private let recorded: Counter
    private let fallbacks: Counter
    /// Entries waiting for, or in, one multi-row insert; nil outcome = committed.
    private let batches: GroupCommit<AuditEntry, AuditWriteFailure?>

    /// Why an entry could not be stored (the database's error, as text: outcomes cross threads).
    struct AuditWriteFailure: Error, Sendable, CustomStringConvertible {
        let description: String
    }

    /// Column limits of `audit_log`; longer input is cut (on a character boundary) rather than lost.
    enum Limit {
        static let name = 200
        static let orgPath = 1000
        static let action = 600
        static let resource = 4096
        static let remoteAddress = 100
    }

    /// - Parameters:
    ///   - database: a pool whose `search_path` is the gateway's schema.
    ///   - metrics: registers `audit_entries_recorded_total` and `audit_fallback_total` (once per registry).
    ///   - batchSize: the most entries in one insert (1: an insert each).
    public init(database: PostgresPool, logger: Logger, metrics: MetricsRegistry, batchSize: Int = 64) throws(MetricsError) {
        self.database = database
        // Two inserts in flight: one commits while the next gathers.
        batches = GroupCommit(maxBatch: max(1, batchSize), maxLeaders: 2) { entries in Self.insert(entries, into: database) }
        self.logger = logger
        recorded = try metrics.counter("audit_entries_recorded_total", help: "Audit entries written to the audit log.")
        fallbacks = try metrics.counter("audit_fallback_total",
                                        help: "Audit entries that could not be stored and went to the error log (msg audit_fallback).")
    }

    // MARK: Recording

    /// Stores `entry`; on failure logs it whole (`audit_fallback`) and counts it. Never throws.
    public func record(_ entry: AuditEntry) {
        if let failure = batches.submit(Self.sanitized(entry), group: "audit") {
            fallbacks.increment()
            logFallback(entry, error: failure)
        } else {
            recorded.increment()
        }
    }

    /// One insert of sanitized `entries`; when it fails, each alone, so that one entry the table refuses
    /// cannot cost the others their place.
    private static func insert(_ entries: [AuditEntry], into database: PostgresPool) -> [AuditWriteFailure?] {
        do {
            try database.execute("""
                INSERT INTO audit_log (at, actor_id, actor_name, org_id, org_path, action, resource, outcome,
                                       request_id, remote_address)
                SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                     $7::text[], $8::int[], $9::text[], $10::text[])
                """, entries.map(\.at), entries.map(\.actorId), entries.map(\.actorName), entries.map(\.orgId),
                entries.map(\.orgPath), entries.map(\.action), entries.map(\.resource), entries.map(\.outcome),
                entries.map(\.requestId), entries.map(\.remoteAddress))
            return entries.map { _ in nil }
        } catch {
            guard entries.count > 1 else { return [AuditWriteFailure(description: String(describing: error))] }
            return entries.map { insert([$0], into: database)[0] }
        }
    }

    /// The original entry (not the cut one: the log line has no column limits), one field per value;
    /// absent values are left out of the line.
    private func logFallback(_ entry: AuditEntry, error: any Error) {
        var line = logger.with(requestId: entry.requestId)
        if let v = entry.actorId { line = line.with(["actorId": .string(v)]) }
        if let v = entry.actorName { line = line.with(["actorName": .string(v)]) }
        if let v = entry.orgId { line = line.with(["orgId": .string(v)]) }
        if let v = entry.orgPath { line = line.with(["orgPath": .string(v)]) }
        if let v = entry.remoteAddress { line = line.with(["remoteAddress": .string(v)]) }
        line.error("audit_fallback", [
            "at": .string(JSONCoding.formatDate(entry.at)),
            "action": .string(entry.action),
            "resource": .string(entry.resource),
            "outcome": .int(entry.outcome),
            "error": .error(error),
        ])
    }

    /// The entry fitted to the table: NUL removed (PostgreSQL text cannot hold it), lengths cut to the
    /// column limits, an empty action named `-`. Hostile input must not be able to make an insert fail.
    static func sanitized(_ entry: AuditEntry) -> AuditEntry {
        var e = entry
        e.actorId = e.actorId.map { fit($0, Limit.name) }
        e.actorName = e.actorName.map { fit($0, Limit.name) }
        e.orgId = e.orgId.map { fit($0, Limit.name) }
        e.orgPath = e.orgPath.map { fit($0, Limit.orgPath) }
        e.action = fit(e.action, Limit.action)
        if e.action.isEmpty { e.action = "-" }
        e.resource = fit(e.resource, Limit.resource)
        e.outcome = min(max(e.outcome, 0), 999)
        e.requestId = fit(e.requestId, Limit.name)
        e.remoteAddress = e.remoteAddress.map { fit($0, Limit.remoteAddress) }
        return e
    }

    /// `text` without NUL, cut to at most `maxBytes` UTF-8 bytes on a scalar boundary.
    static func fit(_ text: String, _ maxBytes: Int) -> String {
        var scalars = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars where scalar.value != 0 {
            let size = String(scalar).utf8.count
            guard bytes + size <= maxBytes else { break }
            bytes += size
            scalars.append(scalar)
        }
        return String(scalars)
    }

    // MARK: Reading

    /// One page of rows matching `query`, newest first (by id, i.e. insertion order); `nextCursor`
    /// carries the last row's id.
    ///
    /// Throws `PostgresError` when the database cannot answer.
    public func search(_ query: AuditQuery) throws -> Page<AuditRecord> {
        let limit = min(max(query.limit, 1), AuditQuery.maximumLimit)
        // The SQL is assembled from fixed fragments only; every value is a bind parameter.
        var conditions: [String] = []
        var binds: [(any PostgresEncodable)?] = []
        func bind(_ value: any PostgresEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        switch query.scope {
        case .all:
            break
        case .subtree(let orgPath):
            // The unit itself, and everything below it at a segment boundary (`/hq/sh/` never matches
            // `/hq/sh2/`), whether or not the stored paths end with `/`.
            let unit = orgPath.hasSuffix("/") ? String(orgPath.dropLast()) : orgPath
            conditions.append("(org_path = \(bind(unit)) OR org_path LIKE \(bind(Self.likePrefix(unit + "/"))) ESCAPE '\\')")
        }
        if let user = query.user {
            let p = bind(user)
            conditions.append("(actor_id = \(p) OR actor_name = \(p))")
        }
        if let resource = query.resource {
            let base = resource.count > 1 && resource.hasSuffix("/") ? String(resource.dropLast()) : resource
            conditions.append("(resource = \(bind(base)) OR resource LIKE \(bind(Self.likePrefix(base + "/"))) ESCAPE '\\'"
                              + " OR resource LIKE \(bind(Self.likePrefix(base + ":"))) ESCAPE '\\')")
        }
        if let action = query.action { conditions.append("action = \(bind(action))") }
        if let from = query.from { conditions.append("at >= \(bind(from))") }
        if let to = query.to { conditions.append("at < \(bind(to))") }
        if let after = query.after { conditions.append("id < \(bind(after))") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = """
            SELECT id, at, actor_id, actor_name, org_id, org_path, action, resource, outcome, request_id, remote_address
            FROM audit_log \(whereClause)
            ORDER BY id DESC
            LIMIT \(bind(limit + 1))
            """
        let rows = try database.withConnection { connection in try connection.query(sql, binds: binds) }
        let records = try rows.map { row in
            AuditRecord(id: String(try row.decode("id") as Int64), entry: AuditEntry(
                at: try row.decode("at"), actorId: try row.decode("actor_id"),
                actorName: try row.decode("actor_name"), orgId: try row.decode("org_id"),
                orgPath: try row.decode("org_path"), action: try row.decode("action"),
                resource: try row.decode("resource"), outcome: try row.decode("outcome"),
                requestId: try row.decode("request_id"), remoteAddress: try row.decode("remote_address")))
        }
        // The page key is the id in decimal, which `AuditQuery.rowId(pageKey:)` reads back.
        return PageRequest.page(records, limit: limit, key: \.id)
    }

    /// `text` with LIKE's wildcards and escape character escaped, followed by `%`.
    static func likePrefix(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 2)
        for c in text {
            if c == "\\" || c == "%" || c == "_" { out.append("\\") }
            out.append(c)
        }
        out.append("%")
        return out
    }
}
