import Contracts
import Foundation
@testable import Gateway
import HTTP
import Postgres
import ServiceKit
import TestSupport
import XCTest

/// One test's schema with the audit migrations (020–029) applied, an `AuditLog` on it, and what it logs.
final class AuditTestDatabase: @unchecked Sendable {
    // Thread-safety: set up once on the test's thread; the parts used concurrently are Sendable.
    let schema: String
    let pool: PostgresPool
    let log: AuditLog
    let sink = InMemoryLogSink()
    let metrics = MetricsRegistry()

    /// Migrations 020–029 (the audit range) from the source tree.
    static func auditMigrations() throws -> [Migration] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Services/Gateway/Sources/Migrations")
        return try Migration.load(directory: directory).filter { (20...29).contains($0.version) }
    }

    init() throws {
        let url = try TestEnvironment.databaseURL()
        schema = TestEnvironment.uniqueSchema("audit")
        var configuration = try PostgresConfiguration(url: url)
        configuration.searchPath = [schema]
        configuration.poolSize = 4
        try Migrator(schema: schema, migrations: Self.auditMigrations()).migrate(configuration: configuration)
        pool = PostgresPool(configuration: configuration)
        log = try AuditLog(database: pool, logger: Logger(service: "gateway", sink: sink), metrics: metrics)
    }

    func close() {
        pool.close()
        TestEnvironment.dropSchema(schema)
    }

    func count() throws -> Int {
        try pool.query("SELECT count(*) AS n FROM audit_log").first?.decode("n", as: Int.self) ?? -1
    }
}

enum AuditFixtures {
    static let headOffice = CallerIdentity(userId: "u_hq", orgId: "hq", orgPath: "/hq/", roles: ["admin"],
                                           rights: ["manage", "view"])

    static func admin(of orgPath: String) -> CallerIdentity {
        let id = orgPath.split(separator: "/").last.map(String.init) ?? "x"
        return CallerIdentity(userId: "u_\(id)", orgId: id, orgPath: orgPath, roles: ["admin"], rights: ["manage", "view"])
    }

    static func entry(actor: String? = "u_1", name: String? = "alice", orgPath: String? = "/hq/sh/",
                      action: String = "POST /api/v1/users", resource: String = "/api/v1/users", outcome: Int = 201,
                      at: Date = Date(), requestId: String = "req-1") -> AuditEntry {
        AuditEntry(at: at, actorId: actor, actorName: name,
                   orgId: orgPath.flatMap { $0.split(separator: "/").last.map(String.init) }, orgPath: orgPath,
                   action: action, resource: resource, outcome: outcome, requestId: requestId, remoteAddress: "10.0.0.7")
    }

    /// A router with `AuditRoutes` behind a middleware that makes `identity` the caller.
    static func client(log: AuditLog, as identity: CallerIdentity?) -> TestClient {
        let router = Router()
        router.add(middleware: RequestIdMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: FixedCallerMiddleware(identity: identity))
        AuditRoutes.register(on: router, log: log)
        return TestClient(router: router)
    }

    /// An `AuditLog` whose database is a closed port on loopback: every insert fails at once.
    static func unreachableLog(sink: InMemoryLogSink, metrics: MetricsRegistry) throws -> AuditLog {
        let configuration = PostgresConfiguration(host: "127.0.0.1", port: TestEnvironment.freePort(), user: "postgres",
                                                  database: "nowhere", poolSize: 2, acquireTimeout: 2, connectTimeout: 2)
        return try AuditLog(database: PostgresPool(configuration: configuration),
                            logger: Logger(service: "gateway", sink: sink), metrics: metrics)
    }
}

/// Stands in for the gateway's auth middleware: sets the caller.
struct FixedCallerMiddleware: Middleware {
    let identity: CallerIdentity?
    func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response {
        var ctx = context
        ctx.identity = identity
        return try next(request, ctx)
    }
}

extension TestResponse {
    /// The body as a JSON value (null when it is not JSON).
    var auditJSON: JSONValue { (try? json(JSONValue.self)) ?? .null }
    /// The `items` of a page.
    var auditItems: [JSONValue] {
        if case .array(let items)? = auditJSON["items"] { return items }
        return []
    }
}
