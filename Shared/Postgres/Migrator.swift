import Foundation

/// Applies a schema's versioned migrations exactly once, in order, even with several processes
/// starting at the same time.
///
/// - Serialized per schema by `pg_advisory_lock` on a key derived from the schema name (SHA-256, so
///   every process computes the same key).
/// - Bookkeeping in `<schema>.schema_migrations` (version, name, checksum, applied_at).
/// - Refuses to run if an applied migration's SQL changed or an applied version is missing from the
///   code. Each migration runs in its own transaction together with its bookkeeping row, so a
///   failing file leaves nothing behind. (So statements that cannot run in a transaction, such as
///   `CREATE INDEX CONCURRENTLY`, are not supported.)
public struct Migrator: Sendable {
    public let schema: String
    public let migrations: [Migration]
    /// How long to wait for another process's migration run.
    public var lockTimeout: TimeInterval

    /// Result of a run.
    public struct Report: Sendable, Equatable {
        /// Versions applied by this run.
        public let applied: [Int]
        /// Versions that were already applied.
        public let alreadyApplied: [Int]
    }

    public init(schema: String, migrations: [Migration], lockTimeout: TimeInterval = 120) {
        self.schema = schema
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.lockTimeout = lockTimeout
    }

    /// Applies pending migrations on a dedicated connection (no statement timeout: a migration may
    /// legitimately take long), then closes it.
    @discardableResult
    public func migrate(configuration: PostgresConfiguration) throws(MigrationError) -> Report {
        var config = configuration
        config.statementTimeout = nil
        config.searchPath = nil
        let connection: PostgresConnection
        do {
            connection = try PostgresConnection.connect(config)
        } catch {
            throw .database(error)
        }
        defer { connection.close() }
        return try migrate(on: connection)
    }

    /// Applies pending migrations on `connection` (which must not be in a transaction).
    @discardableResult
    public func migrate(on connection: PostgresConnection) throws(MigrationError) -> Report {
        try Migration.validate(migrations)
        guard let quotedSchema = try? PostgresIdentifier.quoted(schema) else { throw .invalidSchemaName(schema) }
        let key = lockKey
        try acquireLock(connection, key: key)
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", key) }

        let table = "\(quotedSchema).schema_migrations"
        var applied: [Int: (name: String, checksum: String)] = [:]
        do {
            try connection.execute("CREATE SCHEMA IF NOT EXISTS \(quotedSchema)")
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS \(table) (
                    version bigint PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    duration_ms integer NOT NULL DEFAULT 0
                )
                """)
            for row in try connection.query("SELECT version, name, checksum FROM \(table) ORDER BY version") {
                applied[try row.decode("version")] = (try row.decode("name"), try row.decode("checksum"))
            }
        } catch {
            throw .database(error)
        }

        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, record) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[version] else {
                throw .appliedMigrationMissing(version: version, name: record.name)
            }
            guard migration.checksum == record.checksum else {
                throw .checksumMismatch(file: migration.fileName, version: version,
                                        applied: record.checksum, current: migration.checksum)
            }
        }

        var newlyApplied: [Int] = []
        for migration in migrations where applied[migration.version] == nil {
            let started = Date()
            do {
                try connection.transaction { conn in
                    // Unqualified names in the file land in the service's schema.
                    _ = try conn.query("SELECT set_config('search_path', $1, true)", quotedSchema)
                    try conn.executeScript(migration.sql)
                    try conn.execute(
                        "INSERT INTO \(table) (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)",
                        migration.version, migration.name, migration.checksum,
                        Int(Date().timeIntervalSince(started) * 1000))
                }
            } catch let error as PostgresError {
                throw .failed(file: migration.fileName, version: migration.version, error: error)
            } catch {
                throw .failed(file: migration.fileName, version: migration.version, error: .invalidState("\(error)"))
            }
            newlyApplied.append(migration.version)
        }
        return Report(applied: newlyApplied, alreadyApplied: applied.keys.sorted())
    }

    /// Versions in `migrations` not yet recorded in the database (for `/readyz`). A missing schema
    /// or table means all are pending.
    public func pendingVersions(on connection: PostgresConnection) throws(MigrationError) -> [Int] {
        do {
            let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL AS present",
                                              "\(try PostgresIdentifier.quoted(schema)).schema_migrations")
            guard try exists.first?.decode("present", as: Bool.self) == true else { return migrations.map(\.version) }
            let quoted = try PostgresIdentifier.quoted(schema)
            let done = Set(try connection.query("SELECT version FROM \(quoted).schema_migrations").map { row throws(PostgresError) in
                try row.decode("version", as: Int.self)
            })
            return migrations.map(\.version).filter { !done.contains($0) }
        } catch {
            if case .invalidIdentifier = error { throw .invalidSchemaName(schema) }
            throw .database(error)
        }
    }

    /// Advisory-lock key: the first 8 bytes of SHA-256("lattice.migrations." + schema).
    var lockKey: Int64 {
        let digest = SHA256.hash(Array("lattice.migrations.\(schema)".utf8))
        var key: UInt64 = 0
        for byte in digest.prefix(8) { key = key << 8 | UInt64(byte) }
        return Int64(bitPattern: key)
    }

    /// `pg_try_advisory_lock` in a loop so the wait is bounded and typed.
    private func acquireLock(_ connection: PostgresConnection, key: Int64) throws(MigrationError) {
        let started = Date()
        while true {
            do {
                let rows = try connection.query("SELECT pg_try_advisory_lock($1) AS locked", key)
                if try rows.first?.decode("locked", as: Bool.self) == true { return }
            } catch {
                throw .database(error)
            }
            if Date().timeIntervalSince(started) >= lockTimeout {
                throw .lockTimeout(schema: schema, waited: Date().timeIntervalSince(started))
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}
