import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// Entry and exit events of dynamic segments, delivered through the outbox to a subscriber.
final class SegmentEventTests: XCTestCase {
    func testCustomersEnteringAndLeavingADynamicSegmentAreAnnounced() throws {
        let sink = try EventSink()
        defer { sink.stop() }
        let platform = try SegmentPlatform(segmentEnvironment: ["LATTICE_EVENT_SUBSCRIBERS": "canvas=\(sink.url)"])
        defer { platform.stop() }
        let admin = try platform.login("admin", SegmentPlatform.adminPassword)
        XCTAssertEqual(try platform.call("POST", "/api/v1/orgs", token: admin,
                                         json: #"{"id":"sh","parentId":"hq","kind":"branch","name":"上海分行"}"#).status, 201)
        let op = try platform.user(admin, "sh_op", org: "sh", role: "operator")
        for (id, level) in [("SH1", "C3"), ("SH2", "C1")] {
            XCTAssertEqual(try platform.call("PUT", "/api/v1/customers/\(id)", token: op, json: #"{"riskLevel":"\#(level)"}"#).status, 201)
        }
        XCTAssertNotNil(try platform.eventually { try platform.count(#"{"attr":"riskLevel","op":"is_set"}"#, token: op) == 2 })
        let created = try platform.call("POST", "/api/v1/segments", token: op,
                                        json: #"{"name":"C3","rule":{"attr":"riskLevel","op":"eq","value":"C3"}}"#)
        XCTAssertEqual(created.status, 201, created.bodyText)
        let segment = try XCTUnwrap(try created.decode(JSONValue.self)["id"]?.stringValue)
        // The first members (SH1) are recorded without an event; give the watcher a look at them.
        Thread.sleep(forTimeInterval: 1)

        XCTAssertEqual(try platform.call("PUT", "/api/v1/customers/SH2", token: op, json: #"{"riskLevel":"C3"}"#).status, 200)
        XCTAssertEqual(try platform.call("PUT", "/api/v1/customers/SH1", token: op, json: #"{"riskLevel":"C1"}"#).status, 200)
        let delivered = platform.eventually(timeout: 15) { sink.received.count >= 2 }
        XCTAssertNotNil(delivered, "events: \(sink.received)")
        Thread.sleep(forTimeInterval: 0.5)
        let events = sink.received.map { "\($0.type) \($0.segment) \($0.customer)" }.sorted()
        XCTAssertEqual(events, ["segment_enter \(segment) SH2", "segment_exit \(segment) SH1"])
    }
}

/// Several replicas, each with its own index, on one schema: the same answers, and one event per transition.
final class SegmentReplicaTests: XCTestCase {
    func testReplicasAnswerAlikeAndAnnounceEachTransitionOnce() throws {
        let sink = try EventSink()
        defer { sink.stop() }
        let platform = try SegmentPlatform(segmentEnvironment: ["LATTICE_EVENT_SUBSCRIBERS": "canvas=\(sink.url)"])
        defer { platform.stop() }
        let second = try platform.startSegmentReplica()
        let admin = try platform.login("admin", SegmentPlatform.adminPassword)
        XCTAssertEqual(try platform.call("POST", "/api/v1/orgs", token: admin,
                                         json: #"{"id":"sh","parentId":"hq","kind":"branch","name":"上海分行"}"#).status, 201)
        let op = try platform.user(admin, "sh_op", org: "sh", role: "operator")
        for i in 0..<10 {
            XCTAssertEqual(try platform.call("PUT", "/api/v1/customers/S\(i)", token: op,
                                             json: #"{"riskLevel":"C\#(i % 5 + 1)"}"#).status, 201)
        }
        let caller = CallerIdentity(userId: "u", orgId: "sh", orgPath: "/hq/sh/", roles: ["operator"], rights: ["view", "edit"])
        func estimateOnSecond(_ rule: String) throws -> Int? { try platform.count(rule, onReplica: second, as: caller) }
        let high = #"{"attr":"riskLevel","op":"in","value":["C4","C5"]}"#
        XCTAssertNotNil(try platform.eventually { try estimateOnSecond(high) == 4 && platform.count(high, token: op) == 4 })
        XCTAssertEqual(try platform.indexStatus(port: second)["customers"], 10)

        let created = try platform.call("POST", "/api/v1/segments", token: op, json: #"{"name":"high","rule":\#(high)}"#)
        XCTAssertEqual(created.status, 201, created.bodyText)
        let segment = try XCTUnwrap(try created.decode(JSONValue.self)["id"]?.stringValue)
        Thread.sleep(forTimeInterval: 1)  // both watchers record the first members
        XCTAssertEqual(try platform.call("PUT", "/api/v1/customers/S0", token: op, json: #"{"riskLevel":"C5"}"#).status, 200)
        XCTAssertNotNil(platform.eventually(timeout: 15) { !sink.received.isEmpty }, "no event")
        Thread.sleep(forTimeInterval: 1.5)  // time for a duplicate to show up, if one were sent
        XCTAssertEqual(sink.received.map { "\($0.type) \($0.segment) \($0.customer)" }, ["segment_enter \(segment) S0"])

        // One replica stops (releasing the watch if it held it): the other goes on announcing.
        platform.segment.signal(SIGTERM)
        XCTAssertNotNil(platform.segment.waitForExit(timeout: 15))
        XCTAssertEqual(try platform.call("PUT", "/api/v1/customers/S4", token: op, json: #"{"riskLevel":"C1"}"#).status, 200)
        XCTAssertNotNil(platform.eventually(timeout: 20) { sink.received.count >= 2 }, "no event after the stop: \(sink.received)")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(sink.received.map { "\($0.type) \($0.segment) \($0.customer)" },
                       ["segment_enter \(segment) S0", "segment_exit \(segment) S4"])
    }
}

/// A replica whose profile service does not answer: alive, not ready, and it says so instead of guessing.
final class SegmentUnreadyTests: XCTestCase {
    func testWithoutTheSnapshotTheServiceIsAliveButNotReady() throws {
        let url = try TestEnvironment.databaseURL()
        let schema = TestEnvironment.uniqueSchema("e2e_segment")
        defer { TestEnvironment.dropSchema(schema) }
        let port = TestEnvironment.freePort()
        let segment = try FixtureProcess("lattice-segment", environment: [
            "DATABASE_URL": url, "LATTICE_DB_SCHEMA": schema, "LATTICE_INTERNAL_SECRET": SegmentPlatform.secret,
            "LATTICE_PORT": String(port), "LATTICE_HTTP_EVENT_LOOPS": "1", "LATTICE_DB_POOL_SIZE": "2",
            "LATTICE_SERVICE_PROFILE": "http://127.0.0.1:\(TestEnvironment.freePort())",
        ])
        defer { segment.signal(SIGTERM); _ = segment.waitForExit(timeout: 10) }
        XCTAssertTrue(segment.waitForOutput("\"msg\":\"started\""), segment.standardError + segment.standardOutput)
        var config = HTTPClient.Configuration()
        config.retry = .none
        config.internalCredential = SegmentPlatform.secret
        let client = HTTPClient(configuration: config)
        let base = "http://127.0.0.1:\(port)"
        XCTAssertEqual(try client.send(HTTPClientRequest(method: "GET", url: base + "/readyz")).status, 503)
        let health = try client.send(HTTPClientRequest(method: "GET", url: base + "/healthz"))
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(try health.decode(JSONValue.self)["indexReady"], false)
        var estimate = HTTPClientRequest(method: "POST", url: base + "/api/v1/segments:estimate")
        estimate.headers.add("content-type", "application/json")
        estimate.body = Array(#"{"rule":{"not":{"list":"lst_x"}}}"#.utf8)
        let caller = CallerIdentity(userId: "u", orgId: "hq", orgPath: "/hq/", roles: ["operator"], rights: ["view", "edit"])
        let answer = try client.send(estimate, context: .init(identity: caller))
        XCTAssertEqual(answer.status, 422, answer.bodyText)   // the unknown list is named before the index is needed
        estimate.body = Array(#"{"rule":{"all":[]}}"#.utf8)
        XCTAssertEqual(try client.send(estimate, context: .init(identity: caller)).status, 422)
        estimate.body = Array(#"{"rule":{"not":{"any":[{"segment":"seg_x"},{"list":"lst_y"}]}}}"#.utf8)
        XCTAssertEqual(try client.send(estimate, context: .init(identity: caller)).status, 422)
        // A rule the service could answer: not while the index is loading.
        var plain = estimate
        plain.body = Array(#"{"rule":{"event":"app_login","count":{"op":"eq","value":0},"within":"90d"}}"#.utf8)
        let loading = try client.send(plain, context: .init(identity: caller))
        XCTAssertEqual(loading.status, 503, loading.bodyText)
        XCTAssertEqual(try loading.decode(JSONValue.self)["error"]?["code"], "index_loading")
        // The feed's failures are reported, not hidden.
        let status = try client.send(HTTPClientRequest(method: "GET", url: base + "/internal/v1/index")).decode(JSONValue.self)
        XCTAssertEqual(status["ready"], false)
        XCTAssertNotNil(eventually { (try? client.send(HTTPClientRequest(method: "GET", url: base + "/internal/v1/index"))
            .decode(JSONValue.self)["lastError"]?.stringValue) != nil })
    }

    private func eventually(_ condition: () -> Bool) -> Bool? {
        let start = Date()
        while Date().timeIntervalSince(start) < 10 {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }
}
