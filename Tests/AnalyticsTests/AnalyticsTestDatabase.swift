@testable import Analytics
import Contracts
import Foundation
import Postgres
import TestSupport
import XCTest

/// Fresh, migrated analytics schemas on the test PostgreSQL for store-level tests; `dropAll` (from
/// the test's tearDown) removes them.
final class AnalyticsTestDatabase {
    private(set) var schemas: [String] = []

    func make() throws -> PostgresPool {
        let schema = TestEnvironment.uniqueSchema("t_analytics")
        schemas.append(schema)
        var config = try PostgresConfiguration(url: try TestEnvironment.databaseURL())
        _ = try Migrator(schema: schema, migrations: try AnalyticsMigrations.all()).migrate(configuration: config)
        config.searchPath = [schema]
        config.poolSize = 6
        return PostgresPool(configuration: config)
    }

    func dropAll() {
        for s in schemas { TestEnvironment.dropSchema(s) }
        schemas = []
    }
}

extension PostgresPool {
    /// `SELECT count(*)` of a table of the test schema (the name is the test's own constant).
    func count(_ table: String, where condition: String = "true") throws -> Int {
        try query("SELECT count(*)::bigint AS n FROM \(table) WHERE \(condition)")[0].decode("n", as: Int.self)
    }
}
