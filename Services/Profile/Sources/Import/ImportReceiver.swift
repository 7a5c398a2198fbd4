import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// Receives an import upload: reads the body as it streams (never whole), checks every row, stages the
/// good ones with COPY in ~1 MB transactions (with the errors and the job's counters), and when the
/// body is complete queues the merge. Returns the job as it stands then.
///
/// A body that breaks off (client gone, too large, read timeout) fails the import and drops its
/// staged rows: a partial file is never merged.
///
/// Thread-safety: an immutable value; `active` is its own lock-guarded counter; each upload runs on
/// the request's worker thread.
public struct ImportReceiver: Sendable {
    let store: ImportStore
    let catalog: AttributeCatalog
    let orgs: OrgDirectory
    let jobs: JobQueue
    let limits: ImportLimits
    /// Wakes the merge worker once a job is queued.
    let wake: @Sendable () -> Void
    let active: UploadSlots

    var database: PostgresPool { store.database }

    /// Upload (parse + check + COPY) concurrency per process: each one keeps a core busy.
    final class UploadSlots: @unchecked Sendable {
        // Thread-safety: `used` is guarded by `lock`.
        private let lock = NSLock()
        private var used = 0
        let capacity: Int
        init(capacity: Int) { self.capacity = capacity }
        func take() -> Bool {
            lock.lock(); defer { lock.unlock() }
            guard used < capacity else { return false }
            used += 1
            return true
        }
        func give() { lock.lock(); used -= 1; lock.unlock() }
    }

    public func receive(_ request: Request, caller: CallerIdentity, requestId: String) throws -> ImportJob {
        let format = try ImportFormat.from(contentType: request.headers["content-type"])
        guard active.take() else {
            throw APIError(status: 429, code: "import_busy", message: "too many imports are uploading; retry shortly",
                           details: .object([:]))
        }
        defer { active.give() }
        try store.failAbandonedUploads()

        var upload = ImportUpload(receiver: self, format: format, caller: caller, requestId: requestId)
        var received = 0
        do {
            switch request.body {
            case .buffered(let bytes):
                received = bytes.count
                try upload.feed(bytes)
            case .stream(let stream):
                while let chunk = try stream.read() {
                    received += chunk.count
                    guard received <= limits.maximumBodyBytes else { throw HTTPServerError.bodyTooLarge }
                    try upload.feed(chunk)
                }
            }
            try upload.finish()
        } catch {
            upload.stop()
            if let id = upload.importId { store.fail(id: id, reason: Self.describe(error)) }
            throw Self.apiError(error)
        }
        guard let id = upload.importId else {
            throw APIError.badRequest("the file is empty: a CSV import starts with a header row", field: "body")
        }
        return try database.withConnection { conn in try store.job(id: id, on: conn) }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case HTTPServerError.bodyTooLarge: return "the upload is larger than allowed"
        case HTTPServerError.timeout: return "the upload stalled (read timeout)"
        case HTTPServerError.connectionClosed: return "the client closed the connection before the end of the upload"
        case let e as APIError: return e.message
        default: return "the upload failed: \(error)"
        }
    }

    static func apiError(_ error: any Error) -> any Error {
        switch error {
        case HTTPServerError.bodyTooLarge:
            return APIError(status: 413, code: "import_too_large", message: "the upload is larger than allowed",
                            details: .object(["field": .string("body")]))
        case HTTPServerError.timeout:
            return APIError(status: 408, code: "import_timeout", message: "the upload stalled", details: .object([:]))
        default:
            return error
        }
    }
}

/// One upload in progress: the parser, the row checker, the staging buffer and the counters.
///
/// Thread-safety: used by the request's thread only.
struct ImportUpload {
    let receiver: ImportReceiver
    let format: ImportFormat
    let caller: CallerIdentity
    let requestId: String
    private(set) var importId: String?
    private var csv: CSVRecordReader
    private var ndjson: NDJSONLineReader
    private var checker: ImportRowChecker
    /// The CSV header, resolved (unknown columns are refused up front); nil until it is read.
    private var columns: ImportColumns?
    /// A CSV row's cells, reused from row to row.
    private var cells: [String] = []
    private var copyBuffer: [UInt8] = []
    /// Writes the staged chunks while the next one is parsed.
    private let writer = WriteBehind(label: "lattice.profile.import-staging")
    private var pendingErrors: [ImportRowError] = []
    private var stagedRows = 0
    private var rows = 0
    private var rejected = 0
    private var storedErrors = 0

    init(receiver: ImportReceiver, format: ImportFormat, caller: CallerIdentity, requestId: String) {
        self.receiver = receiver
        self.format = format
        self.caller = caller
        self.requestId = requestId
        csv = CSVRecordReader(maximumRecordBytes: receiver.limits.maximumRecordBytes,
                              maximumFields: receiver.limits.maximumColumns)
        ndjson = NDJSONLineReader(maximumLineBytes: receiver.limits.maximumRecordBytes)
        checker = ImportRowChecker(caller: caller, catalog: receiver.catalog, orgs: receiver.orgs)
        copyBuffer = Self.emptyChunk(receiver.limits)
        if format == .ndjson {
            importId = ImportStore.newId()
        }
    }

    mutating func feed(_ chunk: [UInt8]) throws {
        if format == .ndjson { try createIfNeeded() }
        // The reader is moved out while it calls back into `self` (exclusive access).
        switch format {
        case .csv:
            var reader = csv
            csv = Self.idleCSV
            defer { csv = reader }
            try reader.feed(chunk) { try handle($0) }
        case .ndjson:
            var reader = ndjson
            ndjson = Self.idleNDJSON
            defer { ndjson = reader }
            try reader.feed(chunk) { try handle($0) }
        }
        if copyBuffer.count >= receiver.limits.stagingChunkBytes || pendingErrors.count >= 5_000 { try flush() }
    }

    mutating func finish() throws {
        switch format {
        case .csv:
            var reader = csv
            csv = Self.idleCSV
            defer { csv = reader }
            try reader.finish { try handle($0) }
        case .ndjson:
            try createIfNeeded()
            var reader = ndjson
            ndjson = Self.idleNDJSON
            defer { ndjson = reader }
            try reader.finish { try handle($0) }
        }
        guard let id = importId else { return }
        try flush()
        try writer.drain()
        let receiver = self.receiver
        let staged = stagedRows
        try receiver.database.transaction { conn in
            // Only an upload still receiving moves on: one that was presumed dead meanwhile (its heartbeat
            // went stale and its staged rows were dropped) must not be merged with part of its rows.
            let moved = try conn.execute("""
                UPDATE imports SET status = CASE WHEN $2 THEN 'done' ELSE 'merging' END,
                       finished_at = CASE WHEN $2 THEN now() END, updated_at = now()
                WHERE id = $1 AND status = 'receiving'
                """, id, staged == 0)
            guard moved == 1 else { throw ImportStore.abandoned }
            if staged > 0 {
                try receiver.jobs.enqueue(on: conn, queue: ImportMerger.queue, payload: ImportMerger.Payload(importId: id),
                                          maxAttempts: 100, dedupeKey: "import:\(id)")
            }
        }
        if staged > 0 { receiver.wake() }
    }

    private var created = false
    /// One decoder for the upload (making one per line would dominate NDJSON parsing).
    private let decoder = JSONCoding.decoder()
    /// Placeholders while a reader is moved out (copies share storage: no allocation).
    private static let idleCSV = CSVRecordReader(maximumRecordBytes: 0, maximumFields: 0)
    private static let idleNDJSON = NDJSONLineReader(maximumLineBytes: 0)

    private mutating func createIfNeeded() throws {
        guard !created else { return }
        if importId == nil { importId = ImportStore.newId() }
        try receiver.store.create(id: importId!, format: format, caller: caller, requestId: requestId)
        created = true
    }

    // MARK: Rows

    private mutating func handle(_ event: CSVRecordReader.Event) throws {
        switch event {
        case .malformed(let line, let reason):
            if columns == nil {
                throw APIError(status: 422, code: "import_header_invalid", message: "the header row \(reason)",
                               details: .object(["field": .string("header")]))
            }
            try countRow()
            try reject(ImportRowError(line: line, field: nil, message: "the row \(reason)"))
        case .record(let record):
            guard let columns else {
                try readHeader(record)
                return
            }
            try countRow()
            guard record.count == columns.names.count else {
                try reject(ImportRowError(line: record.line, field: nil,
                                          message: "has \(record.count) fields; the header has \(columns.names.count)"))
                return
            }
            cells.removeAll(keepingCapacity: true)
            for index in 0..<record.count {
                guard let text = String(validating: record.field(index), as: UTF8.self) else {
                    try reject(ImportRowError(line: record.line, field: columns.names[index], message: "is not valid UTF-8"))
                    return
                }
                cells.append(text)
            }
            try stage(try checker.check(line: record.line, cells: cells, columns: columns))
        }
    }

    private mutating func handle(_ event: NDJSONLineReader.Event) throws {
        switch event {
        case .malformed(let line, let reason):
            try countRow()
            try reject(ImportRowError(line: line, field: nil, message: "the line \(reason)"))
        case .line(let number, let bytes):
            try countRow()
            let value: JSONValue
            do {
                value = try decoder.decode(JSONValue.self, from: Data(bytes))
            } catch {
                try reject(ImportRowError(line: number, field: nil, message: "is not valid JSON"))
                return
            }
            guard case .object(let object) = value else {
                try reject(ImportRowError(line: number, field: nil, message: "must be a JSON object"))
                return
            }
            try stage(try checker.check(line: number, object: object))
        }
    }

    private mutating func countRow() throws {
        rows += 1
        guard rows <= receiver.limits.maximumRows else {
            throw APIError(status: 413, code: "import_too_large",
                           message: "the file has more than \(receiver.limits.maximumRows) rows; split it",
                           details: .object(["field": .string("body")]))
        }
    }

    private mutating func stage(_ checked: Result<StagedRow, ImportRowError>) throws {
        switch checked {
        case .success(let row):
            row.appendCopyText(importId: importId!, to: &copyBuffer)
            stagedRows += 1
        case .failure(let error):
            try reject(error)
        }
    }

    private mutating func reject(_ error: ImportRowError) throws {
        rejected += 1
        if storedErrors + pendingErrors.count < receiver.limits.maximumStoredErrors {
            pendingErrors.append(error)
        }
    }

    /// The CSV header: every column a customer key (`id`, a built-in, or a catalog code), once.
    private mutating func readHeader(_ record: CSVRecordReader.Record) throws {
        func refuse(_ message: String, column: String? = nil) -> APIError {
            APIError(status: 422, code: "import_header_invalid", message: message,
                     details: .object(["field": .string(column.map { "header.\($0.prefix(64))" } ?? "header")]))
        }
        var names: [String] = []
        var kinds: [ImportColumns.Kind] = []
        var seen: Set<String> = []
        for index in 0..<record.count {
            guard var name = String(validating: record.field(index), as: UTF8.self) else {
                throw refuse("column \(index + 1) of the header is not valid UTF-8")
            }
            name = name.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { throw refuse("column \(index + 1) of the header has no name") }
            guard seen.insert(name).inserted else { throw refuse("column \(name.prefix(64)) appears twice", column: name) }
            if name == "id" {
                kinds.append(.id)
            } else if let field = CustomerField(rawValue: name) {
                kinds.append(.field(field))
            } else {
                if ImportRowChecker.consentKeys.contains(name) {
                    throw refuse("column \(name) is not imported: consents change with their evidence through PUT /api/v1/customers/{id}",
                                 column: name)
                }
                guard !CustomerUpdate.reservedKeys.contains(name), let definition = try checker.definition(name) else {
                    throw refuse("column \(name.prefix(64)) is not a customer attribute (built in, or of GET /api/v1/attributes)",
                                 column: name)
                }
                kinds.append(.attribute(definition))
            }
            names.append(name)
        }
        guard seen.contains("id") else { throw refuse("the header has no id column", column: "id") }
        columns = ImportColumns(names: names, kinds: kinds)
        try createIfNeeded()
    }

    // MARK: Staging

    /// Hands what is buffered to the staging writer (`ImportStore.stage`: one transaction with its
    /// errors and the job's counters, a heartbeat too). The next chunk is parsed while it is written;
    /// a failed write fails the upload at the next flush or at `finish`.
    private mutating func flush() throws {
        guard let id = importId, created else { return }
        let (store, buffer, errors, total, rejectedNow) = (receiver.store, copyBuffer, pendingErrors, rows, rejected)
        try writer.submit { try store.stage(importId: id, rows: buffer, errors: errors, total: total, rejected: rejectedNow) }
        storedErrors += errors.count
        copyBuffer = Self.emptyChunk(receiver.limits)
        pendingErrors.removeAll(keepingCapacity: true)
    }

    /// A staging buffer that holds a chunk without regrowing (the flush comes after the row that
    /// passes `stagingChunkBytes`).
    private static func emptyChunk(_ limits: ImportLimits) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(limits.stagingChunkBytes + (64 << 10))
        return buffer
    }

    /// Waits for the chunk being written, whatever its outcome: an upload that failed is ended only
    /// once nothing more of it can land in staging.
    func stop() {
        try? writer.drain()
    }
}
