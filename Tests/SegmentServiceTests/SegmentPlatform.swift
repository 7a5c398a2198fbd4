import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The gateway, the profile service and the segment service as real processes on the test PostgreSQL,
/// each in a fresh schema; calls go through the gateway (or, for the segment's internal status, to the
/// segment service itself with the internal credential).
final class SegmentPlatform: GatewayTestClient {
    static let secret = "e2e-segment-secret-0123456789"
    static let adminPassword = "e2e-admin-password-1"
    let gateway: FixtureProcess
    let profile: FixtureProcess
    let segment: FixtureProcess
    let gatewayPort: Int
    let segmentPort: Int
    let schemas: [String]
    /// The segment service's environment, to start more replicas on the same schema.
    let segmentEnvironment: [String: String]
    private var replicas: [FixtureProcess] = []
    let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.retry = .none
        return HTTPClient(configuration: c)
    }()
    let internalClient: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.retry = .none
        c.internalCredential = SegmentPlatform.secret
        return HTTPClient(configuration: c)
    }()

    /// `feedPollInterval`: how often the segment service asks the profile for changes.
    /// `environment` adds segment-service variables (event subscribers, say).
    init(feedPollInterval: String = "100ms", segmentEnvironment: [String: String] = [:]) throws {
        let url = try TestEnvironment.databaseURL()
        let identity = TestEnvironment.uniqueSchema("e2e_identity"), profileSchema = TestEnvironment.uniqueSchema("e2e_profile"),
            segmentSchema = TestEnvironment.uniqueSchema("e2e_segment")
        schemas = [identity, profileSchema, segmentSchema]
        gatewayPort = TestEnvironment.freePort()
        segmentPort = TestEnvironment.freePort()
        let profilePort = TestEnvironment.freePort()
        let common = ["DATABASE_URL": url, "LATTICE_INTERNAL_SECRET": Self.secret, "LATTICE_HTTP_EVENT_LOOPS": "1",
                      "LATTICE_DB_POOL_SIZE": "4", "LATTICE_GATEWAY_URL": "http://127.0.0.1:\(gatewayPort)"]
        profile = try FixtureProcess("lattice-profile", environment: common.merging([
            "LATTICE_DB_SCHEMA": profileSchema, "LATTICE_PORT": String(profilePort),
            "LATTICE_SERVICE_CANVAS": "http://127.0.0.1:\(TestEnvironment.freePort())",
            "LATTICE_SERVICE_DISPATCHER": "http://127.0.0.1:\(TestEnvironment.freePort())",
            "LATTICE_SERVICE_REWARDS": "http://127.0.0.1:\(TestEnvironment.freePort())",
        ]) { $1 })
        let segmentEnvironment = common.merging([
            "LATTICE_DB_SCHEMA": segmentSchema, "LATTICE_SERVICE_PROFILE": "http://127.0.0.1:\(profilePort)",
            // Small pages, so that catching up takes several (and their publication is coalesced).
            "LATTICE_FEED_POLL_INTERVAL": feedPollInterval, "LATTICE_FEED_PAGE_SIZE": "7",
        ].merging(segmentEnvironment) { $1 }) { $1 }
        self.segmentEnvironment = segmentEnvironment
        segment = try FixtureProcess("lattice-segment", environment: segmentEnvironment.merging(["LATTICE_PORT": String(segmentPort)]) { $1 })
        gateway = try FixtureProcess("lattice-gateway", environment: common.merging([
            "LATTICE_DB_SCHEMA": identity, "LATTICE_PORT": String(gatewayPort), "LATTICE_ADMIN_PASSWORD": Self.adminPassword,
            "LATTICE_UPSTREAM_PROFILE": "http://127.0.0.1:\(profilePort)",
            "LATTICE_UPSTREAM_SEGMENT": "http://127.0.0.1:\(segmentPort)",
        ]) { $1 })
        for p in [profile, segment, gateway] {
            XCTAssertTrue(p.waitForOutput("\"msg\":\"started\""), p.standardError + p.standardOutput)
        }
    }

    /// Starts another segment replica on the same schema; its port.
    func startSegmentReplica() throws -> Int {
        let port = TestEnvironment.freePort()
        let replica = try FixtureProcess("lattice-segment", environment: segmentEnvironment.merging(["LATTICE_PORT": String(port)]) { $1 })
        XCTAssertTrue(replica.waitForOutput("\"msg\":\"started\""), replica.standardError + replica.standardOutput)
        replicas.append(replica)
        return port
    }

    func stop() {
        let all = [gateway, segment, profile] + replicas
        for p in all { p.signal(SIGTERM) }
        for p in all { _ = p.waitForExit(timeout: 10) }
        for s in schemas { TestEnvironment.dropSchema(s) }
    }

    @discardableResult
    func call(_ method: String, _ path: String, token: String?, json: String? = nil) throws -> HTTPClientResponse {
        var r = HTTPClientRequest(method: method, url: "http://127.0.0.1:\(gatewayPort)" + path)
        if let token { r.headers.add("authorization", "Bearer \(token)") }
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        return try client.send(r)
    }

    /// A segment replica's own view of its index (`GET /internal/v1/index`).
    func indexStatus(port: Int? = nil) throws -> JSONValue {
        let r = try internalClient.send(HTTPClientRequest(method: "GET", url: "http://127.0.0.1:\(port ?? segmentPort)/internal/v1/index"))
        XCTAssertEqual(r.status, 200, r.bodyText)
        return try r.decode(JSONValue.self)
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes; how long it took, or nil.
    func eventually(timeout: TimeInterval = 10, _ condition: () throws -> Bool) rethrows -> TimeInterval? {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if try condition() { return Date().timeIntervalSince(start) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    /// `POST /api/v1/segments:estimate` with `rule` (JSON text).
    func estimate(_ rule: String, token: String) throws -> HTTPClientResponse {
        try call("POST", "/api/v1/segments:estimate", token: token, json: #"{"rule":\#(rule)}"#)
    }

    /// An estimate asked of one segment replica directly, as the gateway would forward `caller`'s.
    func count(_ rule: String, onReplica port: Int, as caller: CallerIdentity) throws -> Int? {
        var r = HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(port)/api/v1/segments:estimate")
        r.headers.add("content-type", "application/json")
        r.body = Array(#"{"rule":\#(rule)}"#.utf8)
        let answer = try internalClient.send(r, context: .init(identity: caller))
        return try answer.decode(JSONValue.self)["count"]?.doubleValue.map { Int($0) }
    }

    func count(_ rule: String, token: String) throws -> Int? {
        let r = try estimate(rule, token: token)
        XCTAssertEqual(r.status, 200, r.bodyText)
        return try r.decode(JSONValue.self)["count"]?.doubleValue.map { Int($0) }
    }
}

extension JSONValue {
    /// The strings of an array value.
    var strings: [String] {
        if case .array(let items) = self { return items.compactMap(\.stringValue) }
        return []
    }
}
