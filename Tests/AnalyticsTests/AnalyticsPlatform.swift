import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The gateway and the analytics service as real processes on the test PostgreSQL, each in a fresh
/// schema. Reports go through the gateway; events are posted to analytics's inbox route the way an
/// outbox relay delivers them (internal credential, envelope, event-id header).
/// Thread-safety: `call` and `deliver` may run on many threads at once; the rest is set once.
final class AnalyticsPlatform: @unchecked Sendable, GatewayTestClient {
    static let secret = "e2e-analytics-secret-0123456789"
    static let adminPassword = "e2e-admin-password-1"
    let gateway: FixtureProcess
    private(set) var analytics: FixtureProcess
    let gatewayPort: Int
    let analyticsPort: Int
    let schemas: [String]
    let analyticsEnvironment: [String: String]
    let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.retry = .none
        return HTTPClient(configuration: c)
    }()

    init() throws {
        let url = try TestEnvironment.databaseURL()
        let identity = TestEnvironment.uniqueSchema("e2e_identity"), schema = TestEnvironment.uniqueSchema("e2e_analytics")
        schemas = [identity, schema]
        gatewayPort = TestEnvironment.freePort()
        analyticsPort = TestEnvironment.freePort()
        let common = ["DATABASE_URL": url, "LATTICE_INTERNAL_SECRET": Self.secret, "LATTICE_HTTP_EVENT_LOOPS": "1",
                      "LATTICE_DB_POOL_SIZE": "6", "LATTICE_GATEWAY_URL": "http://127.0.0.1:\(gatewayPort)"]
        analyticsEnvironment = common.merging(["LATTICE_DB_SCHEMA": schema, "LATTICE_PORT": String(analyticsPort)]) { $1 }
        analytics = try FixtureProcess("lattice-analytics", environment: analyticsEnvironment)
        gateway = try FixtureProcess("lattice-gateway", environment: common.merging([
            "LATTICE_DB_SCHEMA": identity, "LATTICE_PORT": String(gatewayPort), "LATTICE_ADMIN_PASSWORD": Self.adminPassword,
            "LATTICE_UPSTREAM_ANALYTICS": "http://127.0.0.1:\(analyticsPort)",
        ]) { $1 })
        for p in [analytics, gateway] {
            XCTAssertTrue(p.waitForOutput("\"msg\":\"started\""), p.standardError + p.standardOutput)
        }
    }

    /// Kills analytics (SIGKILL: no graceful anything) and starts it again on the same schema and port.
    func restartAnalyticsHard() throws {
        analytics.signal(SIGKILL)
        _ = analytics.waitForExit(timeout: 10)
        analytics = try FixtureProcess("lattice-analytics", environment: analyticsEnvironment)
        XCTAssertTrue(analytics.waitForOutput("\"msg\":\"started\""), analytics.standardError + analytics.standardOutput)
    }

    func stop() {
        for p in [gateway, analytics] where p.process.isRunning { p.signal(SIGTERM) }
        for p in [gateway, analytics] { _ = p.waitForExit(timeout: 10) }
        for s in schemas { TestEnvironment.dropSchema(s) }
    }

    @discardableResult
    func call(_ method: String, _ path: String, token: String?, json: String?) throws -> HTTPClientResponse {
        var r = HTTPClientRequest(method: method, url: "http://127.0.0.1:\(gatewayPort)" + path)
        if let token { r.headers.add("authorization", "Bearer \(token)") }
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        return try client.send(r)
    }

    func report(_ path: String, token: String, expect status: Int = 200, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let r = try call("GET", path, token: token, json: nil)
        XCTAssertEqual(r.status, status, "GET \(path): \(r.bodyText)", file: file, line: line)
        return (try? r.decode(JSONValue.self)) ?? .null
    }

    /// Delivers one event to analytics as a relay would; the answer.
    @discardableResult
    func deliver(id: UUID = UUID(), type: String, occurredAt: Date = Date(), payload: String, credential: String = secret) throws -> HTTPClientResponse {
        var r = HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(analyticsPort)/internal/v1/events")
        r.headers.add(InternalHeader.credential, credential)
        r.headers.add("content-type", "application/json")
        r.headers.add("x-lattice-event-id", id.uuidString.lowercased())
        r.headers.add("x-lattice-event-type", type)
        r.body = Array(#"{"id":"\#(id.uuidString.lowercased())","type":"\#(type)","occurredAt":"\#(JSONCoding.formatDate(occurredAt))","payload":\#(payload)}"#.utf8)
        return try client.send(r)
    }

    /// A marketing fact's payload.
    static func fact(_ f: MarketingFact) -> String {
        String(decoding: (try? JSONCoding.encoder().encode(f)) ?? Data(), as: UTF8.self)
    }
}

extension JSONValue {
    var array: [JSONValue] {
        if case .array(let a) = self { return a }
        return []
    }

    var int: Int? { doubleValue.map { Int($0) } }
}
