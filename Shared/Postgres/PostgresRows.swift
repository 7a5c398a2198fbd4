import Foundation

/// A result column: its name and type OID.
public struct PostgresColumn: Sendable, Equatable {
    public let name: String
    public let type: UInt32
}

/// The rows of a query result, copied out of libpq (the `PGresult` is cleared before this exists),
/// so it is an immutable value that can be kept and shared between threads.
public struct PostgresRows: Sendable, RandomAccessCollection {
    @usableFromInline let storage: Storage

    /// The command tag, e.g. `SELECT 3`, `INSERT 0 1`.
    public let commandTag: String
    /// Rows affected by INSERT/UPDATE/DELETE/MERGE/COPY (or returned by SELECT), from `PQcmdTuples`.
    public let affectedRows: Int

    public var columns: [PostgresColumn] { storage.columns }
    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.rowCount }
    public subscript(position: Int) -> PostgresRow { PostgresRow(storage: storage, index: position) }

    // Thread-safety: immutable after construction.
    // Visible to inlined code so that `PostgresRow.decode` is specialized in the calling module: called
    // generically across the module boundary, each field paid for metadata lookups and witness calls.
    @usableFromInline final class Storage: Sendable {
        @usableFromInline let columns: [PostgresColumn]
        @usableFromInline let columnIndex: [String: Int]
        let rowCount: Int
        /// All field bytes back to back; `starts`/`lengths` per cell, row-major; length -1 is NULL.
        @usableFromInline let bytes: [UInt8]
        @usableFromInline let starts: [Int]
        @usableFromInline let lengths: [Int32]

        init(columns: [PostgresColumn], rowCount: Int, bytes: [UInt8], starts: [Int], lengths: [Int32]) {
            self.columns = columns
            var index: [String: Int] = [:]
            for (i, c) in columns.enumerated() where index[c.name] == nil { index[c.name] = i }
            self.columnIndex = index
            self.rowCount = rowCount
            self.bytes = bytes
            self.starts = starts
            self.lengths = lengths
        }
    }
}

/// One row; decode fields by column name or zero-based index.
///
/// ```swift
/// let id: Int = try row.decode("id")
/// let note = try row.decode("note", as: String?.self)   // NULL → nil
/// ```
public struct PostgresRow: Sendable {
    @usableFromInline let storage: PostgresRows.Storage
    /// The row's position in its result.
    public let index: Int

    public var columns: [PostgresColumn] { storage.columns }

    /// Decodes the column named `column` (the first one, if several share the name).
    @inlinable
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let i = storage.columnIndex[column] else {
            throw PostgresError.decoding(column: column, swiftType: "\(T.self)", postgresType: "-",
                                         reason: "no such column (have: \(storage.columns.map(\.name).joined(separator: ", ")))")
        }
        return try decode(i, as: type)
    }

    /// Decodes the column at zero-based `column`.
    @inlinable
    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard column >= 0, column < storage.columns.count else {
            throw PostgresError.decoding(column: "#\(column)", swiftType: "\(T.self)", postgresType: "-",
                                         reason: "column index out of range (\(storage.columns.count) columns)")
        }
        let info = storage.columns[column]
        do {
            return try T.decode(from: cell(column))
        } catch {
            throw PostgresError.decoding(column: info.name, swiftType: "\(T.self)",
                                         postgresType: PostgresType.name(of: info.type), reason: error.reason)
        }
    }

    /// Decodes a `json`/`jsonb` column into any `Decodable`.
    public func decodeJSON<T: Decodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        try decode(column, as: PostgresJSON<T>.self).value
    }

    /// True when the field is SQL NULL (false for an unknown column).
    public func isNull(_ column: String) -> Bool {
        guard let i = storage.columnIndex[column] else { return false }
        return cell(i).bytes == nil
    }

    @usableFromInline
    func cell(_ column: Int) -> PostgresCell {
        let k = index * storage.columns.count + column
        let length = storage.lengths[k]
        let type = storage.columns[column].type
        guard length >= 0 else { return PostgresCell(bytes: nil, type: type) }
        let start = storage.starts[k]
        return PostgresCell(bytes: storage.bytes[start..<start + Int(length)], type: type)
    }
}
