import Contracts
import Foundation
import HTTP

/// The file formats an import accepts, chosen by the request's `Content-Type`.
public enum ImportFormat: String, Sendable, Codable {
    /// RFC 4180 CSV with a header row of customer keys.
    case csv
    /// One JSON object per line, with the keys of `PUT /api/v1/customers/{id}` plus `id`.
    case ndjson

    /// The format for a `Content-Type`, or 415 naming the accepted ones.
    static func from(contentType: String?) throws -> ImportFormat {
        let media = (contentType ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        switch media {
        case "text/csv", "application/csv": return .csv
        case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines": return .ndjson
        default:
            throw APIError(status: 415, code: "import_format_unsupported",
                           message: "send text/csv (with a header row) or application/x-ndjson",
                           details: .object(["field": .string("content-type")]))
        }
    }
}

/// Bounds of one import, so that no upload can exhaust memory, disk or the error table.
public struct ImportLimits: Sendable {
    /// Largest upload (the route's `maxBodyBytes`).
    public var maximumBodyBytes: Int = 8 << 30
    /// Longest record (CSV, with its quoted line breaks) or NDJSON line.
    public var maximumRecordBytes: Int = 1 << 20
    /// Most columns of a CSV header.
    public var maximumColumns: Int = 300
    /// Most data rows of one file.
    public var maximumRows: Int = 50_000_000
    /// Row errors kept per import (all are counted in `rejected`): by default every one, so that each
    /// bad row of the largest file can be listed (`GET /api/v1/imports/{id}/errors`).
    public var maximumStoredErrors: Int = 50_000_000
    /// Errors shown in the job view.
    public var errorsShown: Int = 100
    /// COPY-format bytes staged per transaction while the upload streams.
    public var stagingChunkBytes: Int = 1 << 20
    /// Staged rows merged per transaction.
    public var mergeBatchRows: Int = 20_000
    /// An upload whose heartbeat is older than this is presumed dead (its process was killed).
    public var abandonedAfter: Double = 900

    public init() {}
}
