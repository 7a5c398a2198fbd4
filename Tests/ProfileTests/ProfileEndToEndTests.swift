import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The gateway and the profile service as real processes on a real PostgreSQL: the profile learns the
/// org tree from the gateway, and the isolation matrix holds through the public door — a branch never
/// reads, lists, changes or imports another branch's customers, a viewer never writes, head office sees all.
final class ProfileEndToEndTests: XCTestCase {
    static let secret = "e2e-profile-secret-0123456789"
    static let adminPassword = "e2e-admin-password-1"
    var gateway: FixtureProcess!
    var profile: FixtureProcess!
    var gatewayPort = 0
    var schemas: [String] = []
    let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.retry = .none
        return HTTPClient(configuration: c)
    }()

    override func setUpWithError() throws {
        let url = try TestEnvironment.databaseURL()
        let identity = TestEnvironment.uniqueSchema("e2e_identity"), profileSchema = TestEnvironment.uniqueSchema("e2e_profile")
        schemas = [identity, profileSchema]
        gatewayPort = TestEnvironment.freePort()
        let profilePort = TestEnvironment.freePort()
        profile = try FixtureProcess("lattice-profile", environment: [
            "DATABASE_URL": url, "LATTICE_DB_SCHEMA": profileSchema, "LATTICE_INTERNAL_SECRET": Self.secret,
            "LATTICE_PORT": String(profilePort), "LATTICE_HTTP_EVENT_LOOPS": "1",
            "LATTICE_GATEWAY_URL": "http://127.0.0.1:\(gatewayPort)",
            "LATTICE_SERVICE_CANVAS": "http://127.0.0.1:\(TestEnvironment.freePort())",
            "LATTICE_SERVICE_DISPATCHER": "http://127.0.0.1:\(TestEnvironment.freePort())",
            "LATTICE_SERVICE_REWARDS": "http://127.0.0.1:\(TestEnvironment.freePort())",
        ])
        gateway = try FixtureProcess("lattice-gateway", environment: [
            "DATABASE_URL": url, "LATTICE_DB_SCHEMA": identity, "LATTICE_INTERNAL_SECRET": Self.secret,
            "LATTICE_PORT": String(gatewayPort), "LATTICE_ADMIN_PASSWORD": Self.adminPassword,
            "LATTICE_UPSTREAM_PROFILE": "http://127.0.0.1:\(profilePort)", "LATTICE_HTTP_EVENT_LOOPS": "1",
        ])
        XCTAssertTrue(profile.waitForOutput("\"msg\":\"started\""), profile.standardError + profile.standardOutput)
        XCTAssertTrue(gateway.waitForOutput("\"msg\":\"started\""), gateway.standardError + gateway.standardOutput)
    }

    override func tearDown() {
        gateway?.signal(SIGTERM)
        profile?.signal(SIGTERM)
        _ = gateway?.waitForExit(timeout: 10)
        _ = profile?.waitForExit(timeout: 10)
        for s in schemas { TestEnvironment.dropSchema(s) }
    }

    @discardableResult
    func call(_ method: String, _ path: String, token: String?, json: String? = nil,
              body: [UInt8]? = nil, contentType: String? = nil) throws -> HTTPClientResponse {
        var r = HTTPClientRequest(method: method, url: "http://127.0.0.1:\(gatewayPort)" + path)
        if let token { r.headers.add("authorization", "Bearer \(token)") }
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        if let body { r.body = body }
        if let contentType { r.headers.set("content-type", contentType) }
        return try client.send(r)
    }

    func login(_ username: String, _ password: String) throws -> String {
        let r = try call("POST", "/api/v1/auth/login", token: nil, json: #"{"username":"\#(username)","password":"\#(password)"}"#)
        XCTAssertEqual(r.status, 200, r.bodyText)
        return try XCTUnwrap(try r.decode(JSONValue.self)["token"]?.stringValue)
    }

    func user(_ admin: String, _ name: String, org: String, role: String) throws -> String {
        XCTAssertEqual(try call("POST", "/api/v1/users", token: admin,
                                json: #"{"username":"\#(name)","password":"password-\#(name)","orgId":"\#(org)","roles":["\#(role)"]}"#).status, 201)
        return try login(name, "password-\(name)")
    }

    func testIsolationMatrixThroughTheGateway() throws {
        let admin = try login("admin", Self.adminPassword)
        for (id, name) in [("sh", "上海分行"), ("bj", "北京分行")] {
            XCTAssertEqual(try call("POST", "/api/v1/orgs", token: admin,
                                    json: #"{"id":"\#(id)","parentId":"hq","kind":"branch","name":"\#(name)"}"#).status, 201)
        }
        let shOperator = try user(admin, "sh_op", org: "sh", role: "operator")
        let shViewer = try user(admin, "sh_view", org: "sh", role: "viewer")
        let bjOperator = try user(admin, "bj_op", org: "bj", role: "operator")

        // Each branch creates its own customer (the profile asks the gateway where `sh` sits).
        let created = try call("PUT", "/api/v1/customers/SH1", token: shOperator, json: #"{"orgId":"sh","name":"王芳","phone":"13812345678"}"#)
        XCTAssertEqual(created.status, 201, created.bodyText)
        XCTAssertEqual(try created.decode(JSONValue.self)["orgPath"], "/hq/sh/")
        XCTAssertEqual(try call("PUT", "/api/v1/customers/BJ1", token: bjOperator, json: #"{"name":"李娜"}"#).status, 201)

        // Branch B cannot read, list, change or claim branch A's customer; it never sees A's data.
        let read = try call("GET", "/api/v1/customers/SH1", token: bjOperator)
        XCTAssertEqual(read.status, 404)
        XCTAssertFalse(read.bodyText.contains("王芳"))
        XCTAssertFalse(try call("GET", "/api/v1/customers?name=%E7%8E%8B", token: bjOperator).bodyText.contains("SH1"))
        XCTAssertEqual(try call("PUT", "/api/v1/customers/SH1", token: bjOperator, json: #"{"name":"x"}"#).status, 404)
        XCTAssertEqual(try call("PUT", "/api/v1/customers/BJ2", token: bjOperator, json: #"{"orgId":"sh"}"#).status, 422)
        // A viewer reads (masked) and never writes.
        let viewed = try call("GET", "/api/v1/customers/SH1", token: shViewer)
        XCTAssertEqual(viewed.status, 200, viewed.bodyText)
        XCTAssertEqual(try viewed.decode(JSONValue.self)["phone"], "138****5678")
        XCTAssertEqual(try call("PUT", "/api/v1/customers/SH1", token: shViewer, json: #"{"name":"x"}"#).status, 403)
        // Head office sees all; only a holder of the pii right sees the phone number unmasked.
        let all = try call("GET", "/api/v1/customers", token: admin)
        XCTAssertTrue(all.bodyText.contains("SH1") && all.bodyText.contains("BJ1"), all.bodyText)
        XCTAssertEqual(try call("GET", "/api/v1/customers/SH1", token: admin).decode(JSONValue.self)["phone"], "138****5678")
        XCTAssertEqual(try call("POST", "/api/v1/users", token: admin,
                                json: #"{"username":"hq_pii","password":"password-hq_pii","orgId":"hq","roles":["viewer"],"rights":["pii"]}"#).status, 201)
        let piiViewer = try login("hq_pii", "password-hq_pii")
        XCTAssertEqual(try call("GET", "/api/v1/customers/SH1", token: piiViewer).decode(JSONValue.self)["phone"], "13812345678")
        // Events: B cannot post for A's customer; A can, and its import and tags stay its own.
        let foreignEvent = try call("POST", "/api/v1/events", token: bjOperator,
                                    json: #"{"eventId":"e-bj-1","customerId":"SH1","name":"app_login","occurredAt":"2026-11-01T08:00:00Z","properties":{}}"#)
        XCTAssertEqual(foreignEvent.status, 422, foreignEvent.bodyText)
        XCTAssertEqual(try call("POST", "/api/v1/events", token: shOperator,
                                json: #"{"eventId":"e-sh-1","customerId":"SH1","name":"app_login","occurredAt":"2026-11-01T08:00:00Z","properties":{}}"#).status, 200)
        XCTAssertEqual(try call("POST", "/api/v1/events", token: shViewer,
                                json: #"{"eventId":"e-sh-2","customerId":"SH1","name":"app_login","occurredAt":"2026-11-01T08:00:00Z","properties":{}}"#).status, 403)
        // Tags: A's tag is invisible to B, and B cannot put A's customer in its own tag.
        XCTAssertEqual(try call("POST", "/api/v1/tags", token: shOperator, json: #"{"code":"sh_vip","name":"上海贵宾","kind":"manual"}"#).status, 201)
        XCTAssertEqual(try call("GET", "/api/v1/tags/sh_vip", token: bjOperator).status, 404)
        XCTAssertEqual(try call("POST", "/api/v1/tags", token: bjOperator, json: #"{"code":"bj_vip","name":"北京贵宾","kind":"manual"}"#).status, 201)
        let members = try call("POST", "/api/v1/tags/bj_vip/members", token: bjOperator, json: #"{"customerIds":["SH1","BJ1"]}"#)
        XCTAssertEqual(members.status, 200, members.bodyText)
        XCTAssertEqual(try members.decode(JSONValue.self)["applied"], 1)
        XCTAssertEqual(try call("POST", "/api/v1/tags/sh_vip/members", token: bjOperator, json: #"{"customerIds":["BJ1"]}"#).status, 404)
        // Imports: B's rows for A's unit are rejected; A's import is invisible to B.
        let imported = try call("POST", "/api/v1/customers:import", token: bjOperator,
                                body: Array("id,orgId,name\nBJ2,bj,赵敏\nSH2,sh,钱伟\n".utf8), contentType: "text/csv")
        XCTAssertEqual(imported.status, 202, imported.bodyText)
        let importId = try XCTUnwrap(try imported.decode(JSONValue.self)["id"]?.stringValue)
        var job = JSONValue.null
        for _ in 0..<100 {
            job = try call("GET", "/api/v1/imports/\(importId)", token: bjOperator).decode(JSONValue.self)
            if job["status"] == "done" { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertEqual(job["status"], "done", "\(job)")
        XCTAssertEqual(job["accepted"], 1)
        XCTAssertEqual(job["rejected"], 1)
        XCTAssertEqual(try call("GET", "/api/v1/imports/\(importId)", token: shOperator).status, 404)
        XCTAssertEqual(try call("GET", "/api/v1/customers/SH2", token: admin).status, 404)

        // The profile's internal routes are not public.
        XCTAssertEqual(try call("GET", "/internal/v1/org-units", token: admin).status, 401)
        // Customer writes are audited at the gateway.
        let audit = try call("GET", "/api/v1/audit?resource=/api/v1/customers", token: admin)
        XCTAssertTrue(audit.bodyText.contains("PUT /api/v1/customers/{rest...}") || audit.bodyText.contains("/api/v1/customers/SH1"),
                      audit.bodyText)
    }
}
