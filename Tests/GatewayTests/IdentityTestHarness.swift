import Contracts
import Foundation
@testable import Gateway
import HTTP
import Postgres
import ServiceKit
import TestSupport
import XCTest

/// Audit entries kept in memory, for assertions.
final class CapturingAuditRecorder: AuditRecorder, @unchecked Sendable {
    // Thread-safety: `entries` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: [AuditEntry] = []

    func record(_ entry: AuditEntry) {
        lock.lock()
        stored.append(entry)
        lock.unlock()
    }

    var entries: [AuditEntry] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}

/// One test's identity schema on the test PostgreSQL, the store, and the gateway's router with the real
/// authentication middleware in front of the identity routes.
final class IdentityHarness: @unchecked Sendable {
    // Thread-safety: set up once on the test's thread; the parts used concurrently are Sendable.
    let schema: String
    let configuration: PostgresConfiguration
    let pool: PostgresPool
    let settings: GatewaySettings
    let store: IdentityStore
    let audit = CapturingAuditRecorder()
    let client: TestClient
    static let adminPassword = "admin-password-for-tests"

    /// Migrations 001–019 (the identity range) from the source tree.
    static func identityMigrations() throws -> [Migration] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Services/Gateway/Sources/Migrations")
        return try Migration.load(directory: directory).filter { $0.version < 20 }
    }

    static func baseSettings(databaseURL: String) throws -> GatewaySettings {
        var settings = try GatewaySettings(config: ConfigReader(environment: [
            "DATABASE_URL": databaseURL, "LATTICE_INTERNAL_SECRET": "test-internal-secret-0123456789",
        ]))
        settings.loginAttemptsPerMinutePerIP = 10_000
        return settings
    }

    init(bootstrap: Bool = true,
         ipLimiter: RateLimiter = RateLimiter(ratePerSecond: 1e6, burst: 1_000_000),
         tokenLimiter: RateLimiter = RateLimiter(ratePerSecond: 1e6, burst: 1_000_000),
         adjust: (inout GatewaySettings) -> Void = { _ in }) throws {
        let url = try TestEnvironment.databaseURL()
        schema = TestEnvironment.uniqueSchema("identity")
        var configuration = try PostgresConfiguration(url: url)
        configuration.searchPath = [schema]
        configuration.poolSize = 8
        self.configuration = configuration
        try Migrator(schema: schema, migrations: Self.identityMigrations()).migrate(configuration: configuration)
        pool = PostgresPool(configuration: configuration)
        var settings = try Self.baseSettings(databaseURL: url)
        adjust(&settings)
        self.settings = settings
        store = IdentityStore(database: pool, settings: settings)

        let router = Router()
        router.add(middleware: RequestIdMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: GatewayAuthMiddleware(authenticator: store, audit: audit,
                                                     ipLimiter: ipLimiter, tokenLimiter: tokenLimiter))
        IdentityRoutes.register(on: router, store: store, audit: audit)
        client = TestClient(router: router)
        guard bootstrap else { return }
        try IdentityBootstrap(database: pool, adminPassword: Self.adminPassword,
                              logger: Logger(service: "gateway", sink: InMemoryLogSink()), announce: { _ in }).run()
    }

    func close() {
        pool.close()
        TestEnvironment.dropSchema(schema)
    }

    /// The head office admin's identity, for calling the store directly.
    var headOffice: CallerIdentity {
        CallerIdentity(userId: "test", orgId: "hq", orgPath: "/hq/", roles: ["admin"], rights: ["manage", "view"])
    }

    // MARK: Requests

    func request(_ method: HTTPMethod, _ target: String, token: String? = nil, json: JSONValue? = nil,
                 headers extra: HTTPHeaders = HTTPHeaders()) throws -> TestResponse {
        var headers = extra
        if let token { headers.set("authorization", "Bearer \(token)") }
        if let json { return try client.execute(method, target, json: json, headers: headers) }
        return client.execute(method, target, headers: headers)
    }

    func login(_ username: String, _ password: String) throws -> TestResponse {
        try request(.POST, "/api/v1/auth/login", json: ["username": .string(username), "password": .string(password)])
    }

    /// Logs in and returns the token, failing the test when login does not succeed.
    func token(_ username: String, _ password: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let response = try login(username, password)
        XCTAssertEqual(response.status, 200, response.text, file: file, line: line)
        guard let token = try response.json(JSONValue.self)["token"]?.stringValue else {
            throw TestSetupFailure("login of \(username) gave no token: \(response.text)")
        }
        return token
    }

    @discardableResult
    func createOrg(_ id: String, parent: String, kind: String) throws -> OrgUnit {
        try store.createOrg(caller: headOffice, input: CreateOrgInput(id: id, parentId: parent, kind: kind, name: "Unit \(id)"))
    }

    @discardableResult
    func createUser(_ username: String, org: String, roles: [String], password: String = "password-1234",
                    rights: [String]? = nil) throws -> IdentityUser {
        try store.createUser(caller: headOffice, input: CreateUserInput(username: username, password: password, orgId: org,
                                                                        roles: roles, rights: rights))
    }
}

extension JSONValue {
    /// `items` of a list answer.
    var items: [JSONValue] {
        if case .array(let a)? = self["items"] { return a }
        return []
    }

    init(_ encodable: some Encodable) throws {
        self = try JSONCoding.decoder().decode(JSONValue.self, from: JSONCoding.encoder().encode(encodable))
    }
}

extension TestResponse {
    var object: JSONValue { (try? json(JSONValue.self)) ?? .null }
    var errorField: String? { object["error"]?["details"]?["field"]?.stringValue }
}
