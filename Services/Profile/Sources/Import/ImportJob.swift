import Contracts
import Foundation
import Postgres

/// An import as the API shows it: progress (`processed` of `total`), the outcome counts and the first
/// row errors.
///
/// `total` counts the data rows read so far (final once `status` leaves `receiving`); `processed` the
/// rows whose outcome is final; `processed == total == accepted + rejected` when `status` is `done`.
public struct ImportJob: Sendable, Codable, Equatable {
    /// `receiving` (the upload streams), `merging` (rows staged, being merged), `done`, `failed`.
    public enum Status: String, Sendable, Codable { case receiving, merging, done, failed }

    public var id: String
    public var orgId: String
    public var format: ImportFormat
    public var status: Status
    public var processed: Int64
    public var total: Int64
    public var accepted: Int64
    public var rejected: Int64
    public var errors: [ImportRowError]
    /// Why a failed import failed (the upload broke off, say); nil otherwise.
    public var failure: String?
    public var createdBy: String
    public var createdAt: Date
    public var finishedAt: Date?

    static let columns = """
        id, org_id, format, status, processed, total, accepted, rejected, failure, created_by, created_at, finished_at
        """

    /// Explicit nulls (`finishedAt: null` while running): clients poll for the field to change.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(orgId, forKey: .orgId)
        try c.encode(format, forKey: .format)
        try c.encode(status, forKey: .status)
        try c.encode(processed, forKey: .processed)
        try c.encode(total, forKey: .total)
        try c.encode(accepted, forKey: .accepted)
        try c.encode(rejected, forKey: .rejected)
        try c.encode(errors, forKey: .errors)
        try c.encode(failure, forKey: .failure)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(finishedAt, forKey: .finishedAt)
    }

    init(row: PostgresRow, errors: [ImportRowError]) throws {
        id = try row.decode("id")
        orgId = try row.decode("org_id")
        format = ImportFormat(rawValue: try row.decode("format")) ?? .csv
        status = Status(rawValue: try row.decode("status")) ?? .failed
        processed = try row.decode("processed")
        total = try row.decode("total")
        accepted = try row.decode("accepted")
        rejected = try row.decode("rejected")
        failure = try row.decode("failure")
        createdBy = try row.decode("created_by")
        createdAt = try row.decode("created_at")
        finishedAt = try row.decode("finished_at")
        self.errors = errors
    }
}
