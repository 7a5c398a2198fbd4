import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The gateway, the profile service, the dispatcher (one or more replicas) and the provider simulator as
/// real processes on the test PostgreSQL, each service in a fresh schema; calls go through the gateway.
/// Only the outside provider is simulated.
/// Thread-safety: `dispatchers` changes only on the test's own thread; `call` may run on many threads at once.
final class DispatcherPlatform: @unchecked Sendable, GatewayTestClient {
    static let secret = "e2e-dispatch-secret-0123456789"
    static let adminPassword = "e2e-admin-password-1"
    let gateway: FixtureProcess
    let profile: FixtureProcess
    let simulator: FixtureProcess
    private(set) var dispatchers: [FixtureProcess] = []
    let gatewayPort: Int
    let simulatorPort: Int
    /// The port the gateway forwards to (the first replica's).
    let dispatcherPort: Int
    let schemas: [String]
    /// The dispatcher's environment, to start (or restart) replicas on the same schema.
    let dispatcherEnvironment: [String: String]
    let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.retry = .none
        return HTTPClient(configuration: c)
    }()

    init(dispatcherEnvironment extra: [String: String] = [:], simulatorEnvironment: [String: String] = [:]) throws {
        let url = try TestEnvironment.databaseURL()
        let identity = TestEnvironment.uniqueSchema("e2e_identity"), profileSchema = TestEnvironment.uniqueSchema("e2e_profile"),
            dispatchSchema = TestEnvironment.uniqueSchema("e2e_dispatch")
        schemas = [identity, profileSchema, dispatchSchema]
        gatewayPort = TestEnvironment.freePort()
        simulatorPort = TestEnvironment.freePort()
        let profilePort = TestEnvironment.freePort(), dispatcherPort = TestEnvironment.freePort()
        self.dispatcherPort = dispatcherPort
        let common = ["DATABASE_URL": url, "LATTICE_INTERNAL_SECRET": Self.secret, "LATTICE_HTTP_EVENT_LOOPS": "1",
                      "LATTICE_DB_POOL_SIZE": "6", "LATTICE_GATEWAY_URL": "http://127.0.0.1:\(gatewayPort)"]
        simulator = try FixtureProcess("ProviderSimulator", environment: ["SIM_PORT": String(simulatorPort), "SIM_LATENCY_MS": "2"]
            .merging(simulatorEnvironment) { $1 })
        profile = try FixtureProcess("lattice-profile", environment: common.merging([
            "LATTICE_DB_SCHEMA": profileSchema, "LATTICE_PORT": String(profilePort),
            "LATTICE_SERVICE_CANVAS": "http://127.0.0.1:\(TestEnvironment.freePort())",
            "LATTICE_SERVICE_DISPATCHER": "http://127.0.0.1:\(dispatcherPort)",
            "LATTICE_SERVICE_REWARDS": "http://127.0.0.1:\(TestEnvironment.freePort())",
        ]) { $1 })
        dispatcherEnvironment = common.merging([
            "LATTICE_DB_SCHEMA": dispatchSchema, "LATTICE_SERVICE_PROFILE": "http://127.0.0.1:\(profilePort)",
            "LATTICE_PUBLIC_URL": "http://127.0.0.1:\(gatewayPort)",
            "LATTICE_DISPATCH_POLL_INTERVAL": "50ms", "LATTICE_DISPATCH_RETRY_BASE": "50ms", "LATTICE_DISPATCH_LEASE": "3s",
        ].merging(extra) { $1 }) { $1 }
        gateway = try FixtureProcess("lattice-gateway", environment: common.merging([
            "LATTICE_DB_SCHEMA": identity, "LATTICE_PORT": String(gatewayPort), "LATTICE_ADMIN_PASSWORD": Self.adminPassword,
            "LATTICE_UPSTREAM_PROFILE": "http://127.0.0.1:\(profilePort)",
            "LATTICE_UPSTREAM_DISPATCHER": "http://127.0.0.1:\(dispatcherPort)",
        ]) { $1 })
        XCTAssertTrue(simulator.waitForOutput("listening"), simulator.standardError)
        for p in [profile, gateway] {
            XCTAssertTrue(p.waitForOutput("\"msg\":\"started\""), p.standardError + p.standardOutput)
        }
        try startDispatcher(port: dispatcherPort)
    }

    /// Starts a dispatcher replica on the shared schema (the first one on the port the gateway uses).
    @discardableResult
    func startDispatcher(port: Int? = nil, environment: [String: String] = [:]) throws -> FixtureProcess {
        let port = port ?? TestEnvironment.freePort()
        let p = try FixtureProcess("lattice-dispatcher", environment: dispatcherEnvironment.merging(environment) { $1 }
            .merging(["LATTICE_PORT": String(port)]) { $1 })
        XCTAssertTrue(p.waitForOutput("\"msg\":\"started\""), p.standardError + p.standardOutput)
        dispatchers.append(p)
        return p
    }


    func stop() {
        let all = [gateway, profile, simulator] + dispatchers
        for p in all where p.process.isRunning { p.signal(SIGTERM) }
        for p in all { _ = p.waitForExit(timeout: 10) }
        for s in schemas { TestEnvironment.dropSchema(s) }
    }

    @discardableResult
    func call(_ method: String, _ path: String, token: String?, json: String?) throws -> HTTPClientResponse {
        try call(method, path, token: token, json: json, headers: [])
    }

    func call(_ method: String, _ path: String, token: String?, json: String? = nil, headers: [(String, String)] = []) throws -> HTTPClientResponse {
        var r = HTTPClientRequest(method: method, url: "http://127.0.0.1:\(gatewayPort)" + path)
        if let token { r.headers.add("authorization", "Bearer \(token)") }
        for (k, v) in headers { r.headers.add(k, v) }
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        return try client.send(r)
    }

    func json(_ method: String, _ path: String, token: String?, _ body: JSONValue? = nil, headers: [(String, String)] = [],
              expect status: Int, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let text = try body.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let r = try call(method, path, token: token, json: text, headers: headers)
        XCTAssertEqual(r.status, status, "\(method) \(path): \(r.bodyText)", file: file, line: line)
        return (try? r.decode(JSONValue.self)) ?? .null
    }

    /// A call to the simulator's control API.
    func simulatorCall(_ method: String, _ path: String, json: String? = nil) throws -> JSONValue {
        var r = HTTPClientRequest(method: method, url: "http://127.0.0.1:\(simulatorPort)" + path)
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        let answer = try client.send(r)
        return (try? answer.decode(JSONValue.self)) ?? .null
    }

    var simulatorURL: String { "http://127.0.0.1:\(simulatorPort)/send" }

    func simulatorStats() throws -> [String: Int] {
        guard case .object(let o) = try simulatorCall("GET", "/control/stats") else { return [:] }
        return o.compactMapValues { $0.doubleValue.map { Int($0) } }
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes.
    func eventually(timeout: TimeInterval = 15, _ condition: () throws -> Bool) rethrows -> Bool {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
}

extension JSONValue {
    var items: [JSONValue] {
        if case .array(let a)? = self["items"] { return a }
        return []
    }
}
