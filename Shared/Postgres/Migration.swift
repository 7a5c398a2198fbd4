import Foundation

/// One versioned SQL file of a service's schema.
public struct Migration: Sendable, Equatable {
    /// Positive, unique within a schema; applied in ascending order.
    public let version: Int
    /// Descriptive name, e.g. `create_customers` (from `001_create_customers.sql`).
    public let name: String
    /// The SQL, possibly several statements; runs in one transaction with `search_path` set to the schema.
    public let sql: String
    /// SHA-256 of the UTF-8 bytes of `sql`, lowercase hex.
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hexDigest(sql)
    }

    /// The file name this migration conventionally comes from.
    public var fileName: String {
        let v = String(version)
        return String(repeating: "0", count: max(0, 3 - v.count)) + v + "_" + name + ".sql"
    }

    /// Loads `NNN_name.sql` files from `directory`. Other file types are ignored; a `.sql` file whose
    /// name does not follow the pattern, a duplicate version or a non-UTF-8 file is an error.
    public static func load(directory: URL) throws(MigrationError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw .unreadable(file: directory.path, reason: "\(error)")
        }
        var migrations: [Migration] = []
        for file in names.sorted() where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"),
                  let version = Int(stem[..<underscore]), version > 0,
                  stem[..<underscore].allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw .invalidFileName(file)
            }
            let name = String(stem[stem.index(after: underscore)...])
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw .invalidFileName(file)
            }
            let data: Data
            do {
                data = try Data(contentsOf: directory.appendingPathComponent(file))
            } catch {
                throw .unreadable(file: file, reason: "\(error)")
            }
            guard let sql = String(data: data, encoding: .utf8) else {
                throw .unreadable(file: file, reason: "not UTF-8")
            }
            migrations.append(Migration(version: version, name: name, sql: sql))
        }
        try validate(migrations)
        return migrations.sorted { $0.version < $1.version }
    }

    static func validate(_ migrations: [Migration]) throws(MigrationError) {
        var seen: [Int: Migration] = [:]
        for m in migrations {
            guard m.version > 0 else { throw .invalidFileName(m.fileName) }
            if let other = seen[m.version] { throw .duplicateVersion(m.version, files: [other.fileName, m.fileName]) }
            seen[m.version] = m
        }
    }
}

/// Why migrations could not be applied; start-up must stop on any of these.
public enum MigrationError: Error, Sendable, CustomStringConvertible {
    case invalidFileName(String)
    case unreadable(file: String, reason: String)
    case duplicateVersion(Int, files: [String])
    case invalidSchemaName(String)
    /// An applied migration's file changed since it was applied.
    case checksumMismatch(file: String, version: Int, applied: String, current: String)
    /// The database records a migration the code no longer has.
    case appliedMigrationMissing(version: Int, name: String)
    /// Another process held the migration lock for longer than the wait allows.
    case lockTimeout(schema: String, waited: Double)
    /// A migration file failed; its transaction was rolled back, nothing of it remains.
    case failed(file: String, version: Int, error: PostgresError)
    /// The migration bookkeeping itself failed (connection, permissions).
    case database(PostgresError)

    public var description: String {
        switch self {
        case .invalidFileName(let f): return "migration file '\(f)' must be named like 001_create_customers.sql"
        case .unreadable(let f, let r): return "migration file '\(f)' cannot be read: \(r)"
        case .duplicateVersion(let v, let files): return "migration version \(v) is used twice: \(files.joined(separator: ", "))"
        case .invalidSchemaName(let s): return "invalid schema name '\(s)'"
        case .checksumMismatch(let f, let v, let a, let c):
            return "migration \(f) (version \(v)) changed after it was applied (applied checksum \(a), file checksum \(c))"
        case .appliedMigrationMissing(let v, let n): return "applied migration \(v) (\(n)) is missing from the code"
        case .lockTimeout(let s, let w): return "migration lock for schema \(s) not obtained within \(w)s"
        case .failed(let f, let v, let e): return "migration \(f) (version \(v)) failed: \(e)"
        case .database(let e): return "migration bookkeeping failed: \(e)"
        }
    }
}
