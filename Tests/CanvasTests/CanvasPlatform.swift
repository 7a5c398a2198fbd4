import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The gateway, profile, segment, dispatcher, canvas (one or more replicas) and the provider simulator
/// as real processes on the test PostgreSQL, each service in a fresh schema; calls go through the
/// gateway. The profile and the segment service publish their events to the canvas. Only the outside
/// provider is simulated.
/// Thread-safety: `canvases` changes only on the test's own thread; `call` may run on many threads at once.
final class CanvasPlatform: @unchecked Sendable, GatewayTestClient {
    static let secret = "e2e-canvas-secret-0123456789abc"
    static let adminPassword = "e2e-admin-password-1"
    let gateway: FixtureProcess
    let profile: FixtureProcess
    let segment: FixtureProcess
    let dispatcher: FixtureProcess
    let simulator: FixtureProcess
    private(set) var canvases: [FixtureProcess] = []
    let gatewayPort: Int
    let simulatorPort: Int
    let canvasPort: Int
    let schemas: [String]
    let canvasEnvironment: [String: String]
    let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.retry = .none
        return HTTPClient(configuration: c)
    }()

    init(canvasEnvironment extra: [String: String] = [:]) throws {
        let url = try TestEnvironment.databaseURL()
        let identity = TestEnvironment.uniqueSchema("e2e_identity"), profileSchema = TestEnvironment.uniqueSchema("e2e_profile"),
            segmentSchema = TestEnvironment.uniqueSchema("e2e_segment"), dispatchSchema = TestEnvironment.uniqueSchema("e2e_dispatch"),
            canvasSchema = TestEnvironment.uniqueSchema("e2e_canvas")
        schemas = [identity, profileSchema, segmentSchema, dispatchSchema, canvasSchema]
        gatewayPort = TestEnvironment.freePort()
        simulatorPort = TestEnvironment.freePort()
        let profilePort = TestEnvironment.freePort(), segmentPort = TestEnvironment.freePort(), dispatcherPort = TestEnvironment.freePort()
        canvasPort = TestEnvironment.freePort()
        let canvasInbox = "canvas=http://127.0.0.1:\(canvasPort)/internal/v1/events"
        let common = ["DATABASE_URL": url, "LATTICE_INTERNAL_SECRET": Self.secret, "LATTICE_HTTP_EVENT_LOOPS": "1",
                      "LATTICE_DB_POOL_SIZE": "6", "LATTICE_GATEWAY_URL": "http://127.0.0.1:\(gatewayPort)"]
        simulator = try FixtureProcess("ProviderSimulator", environment: ["SIM_PORT": String(simulatorPort), "SIM_LATENCY_MS": "1"])
        profile = try FixtureProcess("lattice-profile", environment: common.merging([
            "LATTICE_DB_SCHEMA": profileSchema, "LATTICE_PORT": String(profilePort),
            "LATTICE_SERVICE_CANVAS": "http://127.0.0.1:\(canvasPort)",
            "LATTICE_SERVICE_DISPATCHER": "http://127.0.0.1:\(dispatcherPort)",
            "LATTICE_SERVICE_REWARDS": "http://127.0.0.1:\(TestEnvironment.freePort())",
            "LATTICE_EVENT_SUBSCRIBERS": canvasInbox,
        ]) { $1 })
        segment = try FixtureProcess("lattice-segment", environment: common.merging([
            "LATTICE_DB_SCHEMA": segmentSchema, "LATTICE_PORT": String(segmentPort),
            "LATTICE_SERVICE_PROFILE": "http://127.0.0.1:\(profilePort)", "LATTICE_FEED_POLL_INTERVAL": "50ms",
        ]) { $1 })
        dispatcher = try FixtureProcess("lattice-dispatcher", environment: common.merging([
            "LATTICE_DB_SCHEMA": dispatchSchema, "LATTICE_PORT": String(dispatcherPort), "LATTICE_SERVICE_PROFILE": "http://127.0.0.1:\(profilePort)",
            "LATTICE_PUBLIC_URL": "http://127.0.0.1:\(gatewayPort)",
            "LATTICE_DISPATCH_POLL_INTERVAL": "50ms", "LATTICE_DISPATCH_RETRY_BASE": "50ms", "LATTICE_DISPATCH_LEASE": "3s",
        ]) { $1 })
        canvasEnvironment = common.merging([
            "LATTICE_DB_SCHEMA": canvasSchema,
            "LATTICE_SERVICE_PROFILE": "http://127.0.0.1:\(profilePort)", "LATTICE_SERVICE_SEGMENT": "http://127.0.0.1:\(segmentPort)",
            "LATTICE_SERVICE_DISPATCHER": "http://127.0.0.1:\(dispatcherPort)",
            "LATTICE_SERVICE_REWARDS": "http://127.0.0.1:\(TestEnvironment.freePort())",
            "LATTICE_CANVAS_POLL_INTERVAL": "50ms", "LATTICE_CANVAS_LEASE": "3s",
        ].merging(extra) { $1 }) { $1 }
        gateway = try FixtureProcess("lattice-gateway", environment: common.merging([
            "LATTICE_DB_SCHEMA": identity, "LATTICE_PORT": String(gatewayPort), "LATTICE_ADMIN_PASSWORD": Self.adminPassword,
            "LATTICE_UPSTREAM_PROFILE": "http://127.0.0.1:\(profilePort)",
            "LATTICE_UPSTREAM_SEGMENT": "http://127.0.0.1:\(segmentPort)",
            "LATTICE_UPSTREAM_DISPATCHER": "http://127.0.0.1:\(dispatcherPort)",
            "LATTICE_UPSTREAM_CANVAS": "http://127.0.0.1:\(canvasPort)",
            // The tests load thousands of customers with one token.
            "LATTICE_RATE_PER_TOKEN": "100000", "LATTICE_RATE_BURST_PER_TOKEN": "100000",
            "LATTICE_RATE_PER_IP": "100000", "LATTICE_RATE_BURST_PER_IP": "100000",
        ]) { $1 })
        XCTAssertTrue(simulator.waitForOutput("listening"), simulator.standardError)
        for p in [profile, segment, dispatcher, gateway] {
            XCTAssertTrue(p.waitForOutput("\"msg\":\"started\""), p.standardError + p.standardOutput)
        }
        try startCanvas(port: canvasPort)
    }

    /// Starts a canvas replica on the shared schema (the first one on the port the gateway uses).
    @discardableResult
    func startCanvas(port: Int? = nil, environment: [String: String] = [:]) throws -> FixtureProcess {
        let port = port ?? TestEnvironment.freePort()
        let p = try FixtureProcess("lattice-canvas", environment: canvasEnvironment.merging(environment) { $1 }
            .merging(["LATTICE_PORT": String(port)]) { $1 })
        XCTAssertTrue(p.waitForOutput("\"msg\":\"started\""), p.standardError + p.standardOutput)
        canvases.append(p)
        return p
    }

    func stop() {
        let all = [gateway, profile, segment, dispatcher, simulator] + canvases
        for p in all where p.process.isRunning { p.signal(SIGTERM) }
        for p in all { _ = p.waitForExit(timeout: 10) }
        for s in schemas { TestEnvironment.dropSchema(s) }
    }

    @discardableResult
    func call(_ method: String, _ path: String, token: String?, json: String?) throws -> HTTPClientResponse {
        var r = HTTPClientRequest(method: method, url: "http://127.0.0.1:\(gatewayPort)" + path)
        if let token { r.headers.add("authorization", "Bearer \(token)") }
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        return try client.send(r)
    }

    func json(_ method: String, _ path: String, token: String?, _ body: JSONValue? = nil,
              expect status: Int, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let text = try body.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let r = try call(method, path, token: token, json: text)
        XCTAssertEqual(r.status, status, "\(method) \(path): \(r.bodyText)", file: file, line: line)
        return (try? r.decode(JSONValue.self)) ?? .null
    }

    /// Delivers one behaviour event straight to the canvas's inbox as the profile's relay would, so a
    /// test chooses the order events arrive in (the relay does not keep it).
    func deliverEvent(_ customer: String, _ name: String, occurredAt: Date, orgPath: String = "/hq/sh/") throws {
        try deliverEvents([(customer, name, occurredAt)], orgPath: orgPath)
    }

    /// Delivers behaviour events to the canvas's inbox as one relay batch (one envelope a line).
    func deliverEvents(_ events: [(customer: String, name: String, occurredAt: Date)], orgPath: String = "/hq/sh/") throws {
        var body: [UInt8] = []
        for (customer, name, occurredAt) in events {
            let id = UUID().uuidString.lowercased()
            let payload: JSONValue = .object([
                "eventId": .string("e-\(id)"), "customerId": .string(customer), "orgPath": .string(orgPath), "name": .string(name),
                "occurredAt": .string(JSONCoding.formatDate(occurredAt)), "properties": .object([:]),
            ])
            let envelope: JSONValue = .object(["id": .string(id), "type": .string("profile.event"),
                                               "occurredAt": .string(JSONCoding.formatDate(Date())), "payload": payload])
            body += Array(try JSONEncoder().encode(envelope))
            body.append(0x0A)
        }
        var r = HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(canvasPort)/internal/v1/events")
        r.headers.add(InternalHeader.credential, Self.secret)
        r.headers.add("content-type", "application/x-ndjson")
        r.body = body
        let answer = try client.send(r)
        XCTAssertEqual(answer.status, 200, answer.bodyText)
        XCTAssertFalse(answer.bodyText.contains("failed"), answer.bodyText)
    }

    func simulatorCall(_ method: String, _ path: String, json: String? = nil) throws -> JSONValue {
        var r = HTTPClientRequest(method: method, url: "http://127.0.0.1:\(simulatorPort)" + path)
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        return (try? client.send(r).decode(JSONValue.self)) ?? .null
    }

    var simulatorURL: String { "http://127.0.0.1:\(simulatorPort)/send" }

    func simulatorStats() throws -> [String: Int] {
        guard case .object(let o) = try simulatorCall("GET", "/control/stats") else { return [:] }
        return o.compactMapValues { $0.doubleValue.map { Int($0) } }
    }

    func eventually(timeout: TimeInterval = 20, _ condition: () throws -> Bool) rethrows -> Bool {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
}

extension JSONValue {
    var items: [JSONValue] {
        if case .array(let a)? = self["items"] { return a }
        return []
    }

    static func parse(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
}

/// A small bank on a `CanvasPlatform`: head office and 上海分行 with operators and approvers, providers
/// for sms and push at the simulator, quiet hours off, approved templates, customers in sh.
final class CanvasBank {
    let platform: CanvasPlatform
    let admin: String
    let hqOperator: String
    let hqApprover: String
    let shOperator: String
    let shApprover: String
    /// Holds both rights in sh: may write and approve, but not its own drafts.
    let shBoth: String
    var pushTemplate = ""
    var smsTemplate = ""

    init(platform: CanvasPlatform) throws {
        self.platform = platform
        admin = try platform.login("admin", CanvasPlatform.adminPassword)
        XCTAssertEqual(try platform.call("POST", "/api/v1/orgs", token: admin,
                                         json: #"{"id":"sh","parentId":"hq","kind":"branch","name":"上海分行"}"#).status, 201)
        XCTAssertEqual(try platform.call("POST", "/api/v1/orgs", token: admin,
                                         json: #"{"id":"bj","parentId":"hq","kind":"branch","name":"北京分行"}"#).status, 201)
        hqOperator = try platform.user(admin, "hq_op", org: "hq", role: "operator")
        hqApprover = try platform.user(admin, "hq_ap", org: "hq", role: "approver")
        shOperator = try platform.user(admin, "sh_op", org: "sh", role: "operator")
        shApprover = try platform.user(admin, "sh_ap", org: "sh", role: "approver")
        XCTAssertEqual(try platform.call("POST", "/api/v1/users", token: admin,
                                         json: #"{"username":"sh_both","password":"password-sh_both","orgId":"sh","roles":["operator","approver"]}"#).status, 201)
        shBoth = try platform.login("sh_both", "password-sh_both")
        // Quiet hours off, and room for a few touches of one canvas a day (the default campaign cap is 1).
        _ = try platform.json("PUT", "/api/v1/policies", token: hqOperator, .object([
            "quietHours": .object([:]), "campaignCap": .object(["day": .number(5), "week": .number(10)]),
        ]), expect: 200)
        for channel in ["sms", "push"] {
            _ = try platform.json("POST", "/api/v1/providers", token: hqOperator, .object([
                "channel": .string(channel), "name": .string("sim-\(channel)"), "endpoint": .string(platform.simulatorURL),
                "ratePerSecond": .number(5000), "timeoutMs": .number(2000), "credentials": .string("sim-token"),
            ]), expect: 201)
        }
        pushTemplate = try template(channel: "push", body: "{{name}}您好，您的专属理财体验金已到账")
        smsTemplate = try template(channel: "sms", body: "【Lattice银行】{{name}}您好，体验金已到账 回T退订")
    }

    /// Sends one event of `customer` through the public API, as the bank's systems do.
    func sendEvent(_ customer: String, _ name: String, properties: [String: JSONValue] = [:]) throws {
        _ = try platform.json("POST", "/api/v1/events", token: hqOperator, .object([
            "eventId": .string("e-\(UUID().uuidString)"), "customerId": .string(customer), "name": .string(name),
            "occurredAt": .string(JSONCoding.formatDate(Date())), "properties": .object(properties),
        ]), expect: 200)
    }

    func template(channel: String, body: String) throws -> String {
        let created = try platform.json("POST", "/api/v1/templates", token: hqOperator, .object([
            "channel": .string(channel), "name": .string("t-\(UUID().uuidString.prefix(8))"), "body": .string(body), "kind": .string("marketing"),
        ]), expect: 201)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        _ = try platform.json("POST", "/api/v1/templates/\(id):approve", token: hqApprover, expect: 200)
        return id
    }

    /// Customers `prefix0…` in `org` with sms and push consent, written in batches through the public API.
    func customers(_ count: Int, prefix: String = "c", org: String = "sh", city: String = "上海", accountManager: String? = nil) throws {
        for i in 0..<count {
            var body: [String: JSONValue] = ["orgId": .string(org), "name": .string("客户\(i)"), "phone": .string("13800\(String(format: "%06d", i))"),
                                             "city": .string(city), "riskLevel": .string("C3"),
                                             "consents": .object(["sms": .bool(true), "push": .bool(true)])]
            if let accountManager { body["accountManagerId"] = .string(accountManager) }
            let r = try platform.call("PUT", "/api/v1/customers/\(prefix)\(i)", token: hqOperator,
                                      json: String(decoding: try JSONEncoder().encode(JSONValue.object(body)), as: UTF8.self))
            XCTAssertTrue([200, 201].contains(r.status), r.bodyText)
        }
    }

    /// A segment of `org`'s customers in `city`, once the index holds `expected` of them.
    func segment(city: String, token: String, expected: Int) throws -> String {
        let rule: JSONValue = .object(["attr": .string("city"), "op": .string("eq"), "value": .string(city)])
        XCTAssertTrue(try platform.eventually(timeout: 30) {
            let e = try platform.json("POST", "/api/v1/segments:estimate", token: token, .object(["rule": rule]), expect: 200)
            return Int(e["count"]?.doubleValue ?? -1) == expected
        }, "the segment index never held \(expected) customers in \(city)")
        let s = try platform.json("POST", "/api/v1/segments", token: token, .object(["name": .string("城市 \(city)"), "rule": rule]), expect: 201)
        return try XCTUnwrap(s["id"]?.stringValue)
    }

    /// Creates, submits and approves a canvas; its id.
    func launch(_ canvas: JSONValue, author: String? = nil, approver: String? = nil) throws -> String {
        let created = try platform.json("POST", "/api/v1/canvases", token: author ?? shOperator, canvas, expect: 201)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        _ = try platform.json("POST", "/api/v1/canvases/\(id):submit", token: author ?? shOperator, expect: 200)
        let approved = try platform.json("POST", "/api/v1/canvases/\(id):approve", token: approver ?? shApprover, expect: 200)
        XCTAssertEqual(approved["status"]?.stringValue, "running")
        return id
    }

    func stats(_ id: String) throws -> JSONValue { try platform.json("GET", "/api/v1/canvases/\(id)/stats", token: shOperator, expect: 200) }
}
