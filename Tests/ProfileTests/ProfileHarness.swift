import Contracts
import Foundation
import HTTP
import Postgres
@testable import Profile
import ServiceKit
import TestSupport
import XCTest

/// One test's profile schema on the test PostgreSQL (migrated), and the service's real router driven
/// without sockets, with the internal credential and a caller's identity headers as the gateway sends them.
///
/// The org tree is fixed: head office `hq`, branches `sh` and `bj`, sub-branch `sh_pd` under `sh`.
final class ProfileHarness: @unchecked Sendable {
    // Thread-safety: set up once on the test's thread; the parts used concurrently are Sendable.
    static let secret = "profile-test-secret-0123456789"
    let schema: String
    let app: ProfileApp
    let client: TestClient
    var pool: PostgresPool { app.service.database }

    static let units: [OrgDirectory.Unit] = [
        .init(id: "hq", parentId: nil, path: "/hq/", kind: "head_office", name: "总行"),
        .init(id: "sh", parentId: "hq", path: "/hq/sh/", kind: "branch", name: "上海分行"),
        .init(id: "sh_pd", parentId: "sh", path: "/hq/sh/sh_pd/", kind: "sub_branch", name: "浦东支行"),
        .init(id: "bj", parentId: "hq", path: "/hq/bj/", kind: "branch", name: "北京分行"),
    ]

    static let hqAdmin = CallerIdentity(userId: "u_hq", orgId: "hq", orgPath: "/hq/", roles: ["admin"],
                                        rights: ["view", "edit", "publish", "manage", "pii"])
    static let shOperator = CallerIdentity(userId: "u_sh", orgId: "sh", orgPath: "/hq/sh/", roles: ["operator"],
                                           rights: ["view", "edit"])
    static let shViewer = CallerIdentity(userId: "u_shv", orgId: "sh", orgPath: "/hq/sh/", roles: ["viewer"], rights: ["view"])
    static let pdOperator = CallerIdentity(userId: "u_pd", orgId: "sh_pd", orgPath: "/hq/sh/sh_pd/", roles: ["operator"],
                                           rights: ["view", "edit"])
    static let bjOperator = CallerIdentity(userId: "u_bj", orgId: "bj", orgPath: "/hq/bj/", roles: ["operator"],
                                           rights: ["view", "edit"])

    /// `environment` adds or overrides profile settings variables.
    init(environment: [String: String] = [:]) throws {
        let url = try TestEnvironment.databaseURL()
        schema = TestEnvironment.uniqueSchema("profile")
        var env = ["DATABASE_URL": url, "LATTICE_DB_SCHEMA": schema, "LATTICE_INTERNAL_SECRET": Self.secret,
                   "LATTICE_DB_POOL_SIZE": "8"]
        // The 360° view's other services: nothing listens there unless a test says so.
        for name in ["CANVAS", "DISPATCHER", "REWARDS"] { env["LATTICE_SERVICE_\(name)"] = "http://127.0.0.1:\(TestEnvironment.freePort())" }
        for (k, v) in environment { env[k] = v }
        let settings = try ProfileSettings(config: ConfigReader(environment: env))
        try Migrator(schema: schema, migrations: ProfileMigrations.all()).migrate(configuration: settings.service.database)
        let units = Self.units
        app = try ProfileApp(settings: settings, logSink: InMemoryLogSink(), orgs: OrgDirectory { units })
        client = TestClient(router: app.service.router)
    }

    deinit {
        app.service.database.close()
        TestEnvironment.dropSchema(schema)
    }

    /// The headers the gateway sends for `caller`.
    static func headers(for caller: CallerIdentity?) -> HTTPHeaders {
        var h = HTTPHeaders()
        h.set(InternalHeader.credential, secret)
        if let caller {
            h.set(InternalHeader.userId, caller.userId)
            h.set(InternalHeader.orgId, caller.orgId)
            h.set(InternalHeader.orgPath, caller.orgPath)
            h.set(InternalHeader.roles, caller.roles.joined(separator: ","))
            h.set(InternalHeader.rights, caller.rights.joined(separator: ","))
        }
        return h
    }

    /// A request as `caller` (nil: a service calling on its own behalf) with an optional body.
    @discardableResult
    func call(_ method: HTTPMethod, _ target: String, as caller: CallerIdentity?, json: String? = nil,
              body: [UInt8]? = nil, contentType: String? = nil) throws -> TestResponse {
        var headers = Self.headers(for: caller)
        if let json { headers.set("content-type", "application/json") }
        if let contentType { headers.set("content-type", contentType) }
        return client.execute(method, target, headers: headers, body: body ?? json.map { Array($0.utf8) } ?? [])
    }

    /// The body as JSON.
    static func json(_ response: TestResponse) throws -> JSONValue {
        try JSONCoding.decoder().decode(JSONValue.self, from: Data(response.body))
    }
}

extension TestResponse {
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue { (try? ProfileHarness.json(self)) ?? .null }
}
