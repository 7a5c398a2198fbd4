import Foundation
import XCTest
@testable import Postgres

final class MigratorTests: XCTestCase {
    private var schema = ""

    override func setUp() { schema = TestDatabase.uniqueSchema("mig") }
    override func tearDown() { TestDatabase.dropSchema(schema) }

    private let first = Migration(version: 1, name: "create_customers", sql: """
        CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
        CREATE TABLE runs (n int);
        INSERT INTO runs VALUES (1);
        """)
    private let second = Migration(version: 2, name: "add_email", sql: """
        ALTER TABLE customers ADD COLUMN email text;
        INSERT INTO runs VALUES (2);
        """)

    private func scalar(_ sql: String) throws -> Int {
        let connection = try PostgresConnection.connect(TestDatabase.configuration(schema: schema))
        defer { connection.close() }
        return try connection.query(sql).first!.decode(0, as: Int.self)
    }

    func testAppliesOnceInOrderAndRecordsChecksums() throws {
        let config = try TestDatabase.configuration()
        let migrator = Migrator(schema: schema, migrations: [second, first])
        let report = try migrator.migrate(configuration: config)
        XCTAssertEqual(report.applied, [1, 2])
        XCTAssertEqual(report.alreadyApplied, [])
        let again = try migrator.migrate(configuration: config)
        XCTAssertEqual(again.applied, [])
        XCTAssertEqual(again.alreadyApplied, [1, 2])
        XCTAssertEqual(try scalar("SELECT count(*) FROM runs"), 2)

        let connection = try PostgresConnection.connect(TestDatabase.configuration(schema: schema))
        defer { connection.close() }
        let rows = try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        XCTAssertEqual(try rows.map { row throws(PostgresError) in try row.decode("name", as: String.self) }, ["create_customers", "add_email"])
        XCTAssertEqual(try rows[0].decode("checksum", as: String.self), SHA256.hexDigest(first.sql))
        XCTAssertEqual(try migrator.pendingVersions(on: connection), [])
        XCTAssertEqual(try Migrator(schema: schema, migrations: [first, second, Migration(version: 3, name: "x", sql: "SELECT 1")])
                        .pendingVersions(on: connection), [3])
        XCTAssertEqual(try Migrator(schema: "t_never_created", migrations: [first]).pendingVersions(on: connection), [1])
    }

    func testConcurrentMigratorsApplyEachFileOnce() throws {
        let config = try TestDatabase.configuration()
        let slow = Migration(version: 3, name: "slow", sql: "SELECT pg_sleep(0.3); INSERT INTO runs VALUES (3);")
        let reports = Locked<[Migrator.Report]>([])
        let failures = Locked<[String]>([])
        let migrations = [first, second, slow]
        let schema = self.schema
        runOnThreads(4) { _ in
            do {
                let report = try Migrator(schema: schema, migrations: migrations).migrate(configuration: config)
                reports.withValue { $0.append(report) }
            } catch {
                failures.withValue { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.current, [])
        XCTAssertEqual(reports.current.flatMap(\.applied).sorted(), [1, 2, 3])
        XCTAssertEqual(try scalar("SELECT count(*) FROM runs"), 3)
        XCTAssertEqual(try scalar("SELECT count(*) FROM schema_migrations"), 3)
    }

    func testChangedChecksumIsRefusedNamingTheFile() throws {
        let config = try TestDatabase.configuration()
        try Migrator(schema: schema, migrations: [first]).migrate(configuration: config)
        let edited = Migration(version: 1, name: "create_customers", sql: first.sql + "\n-- edited")
        XCTAssertThrowsError(try Migrator(schema: schema, migrations: [edited, second]).migrate(configuration: config)) { error in
            guard case MigrationError.checksumMismatch(let file, let version, _, _)? = error as? MigrationError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(file, "001_create_customers.sql")
            XCTAssertEqual(version, 1)
        }
        XCTAssertEqual(try scalar("SELECT count(*) FROM schema_migrations"), 1, "the refusal applied nothing")

        XCTAssertThrowsError(try Migrator(schema: schema, migrations: [second]).migrate(configuration: config)) { error in
            guard case MigrationError.appliedMigrationMissing(let version, let name)? = error as? MigrationError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(version, 1)
            XCTAssertEqual(name, "create_customers")
        }
    }

    func testFailingMigrationLeavesNothingHalfApplied() throws {
        let config = try TestDatabase.configuration()
        let broken = Migration(version: 2, name: "broken", sql: """
            CREATE TABLE half (id int);
            INSERT INTO runs VALUES (2);
            INSERT INTO no_such_table VALUES (1);
            """)
        XCTAssertThrowsError(try Migrator(schema: schema, migrations: [first, broken]).migrate(configuration: config)) { error in
            guard case MigrationError.failed(let file, let version, let underlying)? = error as? MigrationError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(file, "002_broken.sql")
            XCTAssertEqual(version, 2)
            XCTAssertEqual(underlying.serverError?.sqlState, "42P01")
        }
        XCTAssertEqual(try scalar("SELECT count(*) FROM schema_migrations"), 1)
        XCTAssertEqual(try scalar("SELECT count(*) FROM runs"), 1)
        XCTAssertEqual(try scalar("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'half'"), 0)

        let fixed = Migration(version: 2, name: "broken", sql: "CREATE TABLE half (id int); INSERT INTO runs VALUES (2);")
        XCTAssertEqual(try Migrator(schema: schema, migrations: [first, fixed]).migrate(configuration: config).applied, [2])
    }

    func testInvalidInputsAreRefused() throws {
        let config = try TestDatabase.configuration()
        XCTAssertThrowsError(try Migrator(schema: "bad-name", migrations: [first]).migrate(configuration: config)) { error in
            guard case MigrationError.invalidSchemaName? = error as? MigrationError else { return XCTFail("\(error)") }
        }
        let duplicate = Migration(version: 1, name: "other", sql: "SELECT 1")
        XCTAssertThrowsError(try Migrator(schema: schema, migrations: [first, duplicate]).migrate(configuration: config)) { error in
            guard case MigrationError.duplicateVersion(1, _)? = error as? MigrationError else { return XCTFail("\(error)") }
        }
    }

    func testLoadsFilesFromADirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "CREATE TABLE a (id int);".write(to: dir.appendingPathComponent("001_create_a.sql"), atomically: true, encoding: .utf8)
        try "CREATE TABLE b (id int);".write(to: dir.appendingPathComponent("010_create_b.sql"), atomically: true, encoding: .utf8)
        try "notes".write(to: dir.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        let loaded = try Migration.load(directory: dir)
        XCTAssertEqual(loaded.map(\.version), [1, 10])
        XCTAssertEqual(loaded.map(\.name), ["create_a", "create_b"])
        XCTAssertEqual(loaded[1].fileName, "010_create_b.sql")
        XCTAssertEqual(loaded[0].checksum, SHA256.hexDigest("CREATE TABLE a (id int);"))

        try "x".write(to: dir.appendingPathComponent("1_again.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migration.load(directory: dir)) { error in
            guard case MigrationError.duplicateVersion(1, _)? = error as? MigrationError else { return XCTFail("\(error)") }
        }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("1_again.sql"))
        try "x".write(to: dir.appendingPathComponent("create_c.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migration.load(directory: dir)) { error in
            guard case MigrationError.invalidFileName("create_c.sql")? = error as? MigrationError else { return XCTFail("\(error)") }
        }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("create_c.sql"))
        try Data([0xff, 0xfe]).write(to: dir.appendingPathComponent("002_binary.sql"))
        XCTAssertThrowsError(try Migration.load(directory: dir)) { error in
            guard case MigrationError.unreadable(file: "002_binary.sql", _)? = error as? MigrationError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Migration.load(directory: dir.appendingPathComponent("missing")))
    }
}
