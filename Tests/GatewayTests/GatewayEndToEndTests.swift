import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The gateway and a service as real processes on a real PostgreSQL: login, authorization, identity
/// forwarding, audit, aggregated health, graceful stop.
final class GatewayEndToEndTests: XCTestCase {
    static let secret = "e2e-internal-secret-0123456789"
    static let adminPassword = "e2e-admin-password-1"

    var gateway: FixtureProcess!
    var upstream: FixtureProcess!
    var gatewayPort = 0
    var schemas: [String] = []

    override func setUpWithError() throws {
        let url = try TestEnvironment.databaseURL()
        let identitySchema = TestEnvironment.uniqueSchema("e2e_identity")
        let upstreamSchema = TestEnvironment.uniqueSchema("e2e_profile")
        schemas = [identitySchema, upstreamSchema]
        upstream = try FixtureProcess("ServiceFixture", environment: [
            "DATABASE_URL": url, "LATTICE_DB_SCHEMA": upstreamSchema, "LATTICE_INTERNAL_SECRET": Self.secret,
            "LATTICE_PORT": "0", "LATTICE_HTTP_EVENT_LOOPS": "1",
        ])
        XCTAssertTrue(upstream.waitForOutput("\"msg\":\"started\""), upstream.standardError)
        let upstreamPort = try XCTUnwrap(Self.port(in: upstream.standardOutput))
        gatewayPort = TestEnvironment.freePort()
        gateway = try FixtureProcess("lattice-gateway", environment: [
            "DATABASE_URL": url, "LATTICE_DB_SCHEMA": identitySchema, "LATTICE_INTERNAL_SECRET": Self.secret,
            "LATTICE_PORT": String(gatewayPort), "LATTICE_ADMIN_PASSWORD": Self.adminPassword,
            "LATTICE_UPSTREAM_PROFILE": "http://127.0.0.1:\(upstreamPort)",
            "LATTICE_UPSTREAM_SEGMENT": "http://127.0.0.1:\(TestEnvironment.freePort())",
            "LATTICE_HTTP_EVENT_LOOPS": "1",
        ])
        XCTAssertTrue(gateway.waitForOutput("\"msg\":\"started\""), gateway.standardError + gateway.standardOutput)
    }

    override func tearDown() {
        gateway?.signal(SIGTERM)
        upstream?.signal(SIGTERM)
        _ = gateway?.waitForExit(timeout: 10)
        _ = upstream?.waitForExit(timeout: 10)
        for s in schemas { TestEnvironment.dropSchema(s) }
    }

    var base: String { "http://127.0.0.1:\(gatewayPort)" }
    let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.retry = .none
        return HTTPClient(configuration: c)
    }()

    func call(_ method: String, _ path: String, token: String? = nil, json: String? = nil,
              headers: [(String, String)] = []) throws -> HTTPClientResponse {
        var r = HTTPClientRequest(method: method, url: base + path)
        if let token { r.headers.add("authorization", "Bearer \(token)") }
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        for (n, v) in headers { r.headers.add(n, v) }
        return try client.send(r)
    }

    func login(_ username: String, _ password: String) throws -> String {
        let r = try call("POST", "/api/v1/auth/login", json: #"{"username":"\#(username)","password":"\#(password)"}"#)
        XCTAssertEqual(r.status, 200, r.bodyText)
        return try XCTUnwrap(try r.decode(JSONValue.self)["token"]?.stringValue)
    }

    func testLoginForwardingAuthorizationAuditAndHealth() throws {
        let admin = try login("admin", Self.adminPassword)

        // Build a branch with an operator and a viewer.
        XCTAssertEqual(try call("POST", "/api/v1/orgs", token: admin, json: #"{"id":"sh","parentId":"hq","kind":"branch","name":"上海分行"}"#).status, 201)
        XCTAssertEqual(try call("POST", "/api/v1/users", token: admin,
                                json: #"{"username":"sh_operator","password":"operator-pass-1","orgId":"sh","roles":["operator"]}"#).status, 201)
        XCTAssertEqual(try call("POST", "/api/v1/users", token: admin,
                                json: #"{"username":"sh_viewer","password":"viewer-pass-01","orgId":"sh","roles":["viewer"]}"#).status, 201)
        let operatorToken = try login("sh_operator", "operator-pass-1")
        let viewerToken = try login("sh_viewer", "viewer-pass-01")

        // The service sees the caller the gateway established, not what the client claims.
        let who = try call("GET", "/api/v1/customers/whoami", token: operatorToken,
                           headers: [("x-lattice-org-path", "/hq/"), ("x-lattice-roles", "admin")])
        XCTAssertEqual(who.status, 200, who.bodyText)
        let identity = try who.decode(CallerIdentity.self)
        XCTAssertEqual(identity.orgPath, "/hq/sh/")
        XCTAssertEqual(identity.roles, ["operator"])

        // Route-level rights: a viewer reads but never writes.
        XCTAssertEqual(try call("GET", "/api/v1/customers/whoami", token: viewerToken).status, 200)
        let denied = try call("POST", "/api/v1/customers/notes", token: viewerToken, json: #"{"text":"x"}"#)
        XCTAssertEqual(denied.status, 403)
        XCTAssertEqual(try call("POST", "/api/v1/customers/notes", token: operatorToken, json: #"{"text":"hello"}"#).status, 201)
        XCTAssertEqual(try call("GET", "/api/v1/customers/whoami").status, 401, "no token, no entry")
        XCTAssertEqual(try call("GET", "/api/v1/users", token: operatorToken).status, 403, "only admins manage users")

        // An upstream that is down answers 502 quickly.
        XCTAssertEqual(try call("GET", "/api/v1/segments", token: operatorToken).status, 502)

        // Every mutating request is in the audit log, the refused one too.
        let audit = try call("GET", "/api/v1/audit?resource=/api/v1/customers/notes", token: admin)
        XCTAssertEqual(audit.status, 200, audit.bodyText)
        let items = try audit.decode(JSONValue.self)["items"]
        guard case .array(let rows)? = items else { return XCTFail("no items: \(audit.bodyText)") }
        let outcomes = rows.compactMap { $0["outcome"]?.doubleValue }.map(Int.init).sorted()
        XCTAssertEqual(outcomes, [201, 403])

        // Logout revokes the token at once.
        XCTAssertEqual(try call("POST", "/api/v1/auth/logout", token: operatorToken).status, 204)
        XCTAssertEqual(try call("GET", "/api/v1/customers/whoami", token: operatorToken).status, 401)

        // Health aggregates the upstreams.
        let deadline = Date(timeIntervalSinceNow: 10)
        var health = JSONValue.null
        repeat {
            health = try call("GET", "/healthz").decode(JSONValue.self)
            if health["upstreams"]?["profile"]?["status"]?.stringValue == "ok" { break }
            Thread.sleep(forTimeInterval: 0.2)
        } while Date() < deadline
        XCTAssertEqual(health["upstreams"]?["profile"]?["status"]?.stringValue, "ok", "\(health)")
        XCTAssertEqual(health["upstreams"]?["segment"]?["status"]?.stringValue, "down")
        XCTAssertEqual(health["status"]?.stringValue, "degraded")

        // The OpenAPI document is served without a token.
        XCTAssertEqual(try call("GET", "/api/v1/openapi.json").status, 200)
    }

    func testGracefulStop() throws {
        gateway.signal(SIGTERM)
        XCTAssertEqual(gateway.waitForExit(timeout: 15), 0, gateway.standardOutput)
    }

    static func port(in output: String) -> Int? {
        for line in output.split(separator: "\n") where line.contains("\"msg\":\"started\"") {
            if let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] { return obj["port"] as? Int }
        }
        return nil
    }
}
