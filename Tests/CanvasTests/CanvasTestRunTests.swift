import Contracts
import Foundation
import HTTP
import Postgres
import TestSupport
import XCTest

/// `POST /api/v1/canvases/{id}:test` on real processes: a draft rehearsed on test customers sends them
/// its messages for real and nothing else (rewards, tags, tasks, webhooks skipped), leaves the canvas's
/// statistics, re-entry and journey facts untouched, is scoped and validated like the other routes,
/// and `GET …/tests/{runId}` shows how each test journey went.
final class CanvasTestRunTests: XCTestCase {
    func testATestRunSendsOnlyToTheTestCustomersAndPollutesNothing() throws {
        let platform = try CanvasPlatform(canvasEnvironment: [
            "LATTICE_EVENT_SUBSCRIBERS": "analytics=http://127.0.0.1:\(TestEnvironment.freePort())/internal/v1/events",
            // Allowed, so that a webhook not called is the test run's doing, not the guard's.
            "LATTICE_CANVAS_WEBHOOK_ALLOW": "127.0.0.1",
        ])
        defer { platform.stop() }
        let bank = try CanvasBank(platform: platform)
        try bank.customers(3, prefix: "ts")
        try bank.customers(1, prefix: "bjc", org: "bj", city: "北京")
        let viewer = try platform.user(bank.admin, "sh_viewer", org: "sh", role: "viewer")
        let bjOperator = try platform.user(bank.admin, "bj_op", org: "bj", role: "operator")
        _ = try platform.json("POST", "/api/v1/tags", token: bank.shOperator,
                              .object(["code": .string("rehearsed"), "name": .string("测试标签"), "kind": .string("manual")]), expect: 201)
        let canvas = try JSONValue.parse("""
            {"name": "新客欢迎（测试）", "entry": {"type": "event", "event": "account_opened"}, "start": "welcome",
             "nodes": [{"id": "welcome", "type": "send", "channel": "push", "templateId": "\(bank.pushTemplate)", "next": "tag"},
                       {"id": "tag", "type": "tag", "add": "rehearsed", "next": "task"},
                       {"id": "task", "type": "task", "assignee": "accountManager", "text": "回访新客", "next": "hook"},
                       {"id": "hook", "type": "webhook", "url": "\(platform.simulatorURL)", "next": "bye"},
                       {"id": "bye", "type": "exit"}]}
            """)
        let created = try platform.json("POST", "/api/v1/canvases", token: bank.shOperator, canvas, expect: 201)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        let path = "/api/v1/canvases/\(id):test"

        // Bad input, each naming its field; scope and rights as for every canvas route.
        func rejected(_ body: String?, _ status: Int, field: String, token: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try platform.call("POST", path, token: token ?? bank.shOperator, json: body)
            XCTAssertEqual(r.status, status, "\(body ?? "no body"): \(r.bodyText)", file: file, line: line)
            XCTAssertEqual(try r.decode(JSONValue.self)["error"]?["details"]?["field"]?.stringValue, field, r.bodyText, file: file, line: line)
        }
        try rejected(nil, 400, field: "customerIds")
        try rejected(#"{"customerIds": []}"#, 400, field: "customerIds")
        try rejected(#"{"customerIds": "ts0"}"#, 400, field: "customerIds")
        try rejected(#"{"customerIds": ["ts0", 7]}"#, 400, field: "customerIds[1]")
        try rejected(#"{"customerIds": ["ts0", "ts0"]}"#, 400, field: "customerIds[1]")
        try rejected(#"{"customerIds": ["ts0"], "everyone": true}"#, 400, field: "everyone")
        let tooMany = (0...50).map { "\"t\($0)\"" }.joined(separator: ",")
        try rejected(#"{"customerIds": [\#(tooMany)]}"#, 400, field: "customerIds")
        try rejected(#"{"customerIds": ["ts0", "nobody"]}"#, 422, field: "customerIds[1]")
        try rejected(#"{"customerIds": ["bjc0"]}"#, 422, field: "customerIds[0]")   // another unit's customer
        XCTAssertEqual(try platform.call("POST", path, token: viewer, json: #"{"customerIds": ["ts0"]}"#).status, 403, "testing needs the edit right")
        XCTAssertEqual(try platform.call("POST", path, token: bjOperator, json: #"{"customerIds": ["ts0"]}"#).status, 404, "another unit's canvas")
        XCTAssertEqual(try platform.call("POST", "/api/v1/canvases/cnv_nosuchcanvas:test", token: bank.shOperator,
                                         json: #"{"customerIds": ["ts0"]}"#).status, 404)
        XCTAssertEqual(try platform.simulatorStats()["accepted"] ?? 0, 0, "nothing sent by a refused test")

        // The draft rehearsed on two of the three customers.
        let run = try platform.json("POST", path, token: bank.shOperator, .object(["customerIds": .array([.string("ts0"), .string("ts1")])]),
                                    expect: 202)
        let runId = try XCTUnwrap(run["id"]?.stringValue)
        XCTAssertTrue(runId.hasPrefix("tst_"))
        XCTAssertEqual(run["tested"]?.stringValue, "draft")
        XCTAssertEqual(run["canvasId"]?.stringValue, id)
        let runPath = "/api/v1/canvases/\(id)/tests/\(runId)"
        XCTAssertTrue(try platform.eventually {
            let r = try platform.json("GET", runPath, token: bank.shOperator, expect: 200)
            return r["journeys"].map { v in if case .array(let a) = v { return a.count == 2 && a.allSatisfy { $0["state"]?.stringValue == "done" } }; return false } ?? false
        }, "the test journeys did not finish")
        XCTAssertTrue(try platform.eventually { (try platform.simulatorStats()["accepted"] ?? 0) >= 2 })
        Thread.sleep(forTimeInterval: 0.5)
        let result = try platform.json("GET", runPath, token: bank.shOperator, expect: 200)
        guard case .array(let journeys)? = result["journeys"], case .array(let nodes)? = result["nodes"] else { return XCTFail("\(result)") }
        XCTAssertEqual(journeys.map { $0["customerId"]?.stringValue }, ["ts0", "ts1"])
        XCTAssertTrue(journeys.allSatisfy { $0["exitReason"]?.stringValue == "exit" }, "\(journeys)")
        let byNode = Dictionary(uniqueKeysWithValues: nodes.map { ($0["nodeId"]?.stringValue ?? "", $0) })
        XCTAssertEqual(byNode["welcome"]?["reached"]?.doubleValue, 2)
        XCTAssertEqual(byNode["welcome"]?["outcomes"]?["sent"]?.doubleValue, 2)
        for skipped in ["tag", "task", "hook"] {
            XCTAssertEqual(byNode[skipped]?["outcomes"]?["test_skipped"]?.doubleValue, 2, "\(skipped): \(result)")
        }
        XCTAssertEqual(result["exits"]?["exit"]?.doubleValue, 2)

        // Messages for real, to the test customers only, and nothing else called.
        let delivered = try platform.simulatorCall("GET", "/control/messages").items
        XCTAssertEqual(delivered.count, 2, "two pushes and no webhook call: \(delivered)")
        XCTAssertEqual(Set(delivered.compactMap { $0["customerId"]?.stringValue }), ["ts0", "ts1"])
        let sent = try platform.json("GET", "/api/v1/messages?customerId=ts0", token: bank.shOperator, expect: 200).items
        XCTAssertEqual(sent.count, 1)
        XCTAssertEqual(sent.first?["campaignId"]?.stringValue, runId, "the run's own campaign")
        XCTAssertEqual(try platform.json("GET", "/api/v1/messages?canvasId=\(id)", token: bank.shOperator, expect: 200).items.count, 0,
                       "not the canvas's messages (analytics counts those)")
        let customer = try platform.json("GET", "/api/v1/customers/ts0", token: bank.shOperator, expect: 200)
        XCTAssertFalse(String(describing: customer["tags"] ?? .null).contains("rehearsed"), "no tag from a test run")
        XCTAssertEqual(try platform.json("GET", "/api/v1/tasks", token: bank.shOperator, expect: 200).items.count, 0, "no task from a test run")

        // The canvas itself: still a draft, no statistics, no journey facts for analytics.
        XCTAssertEqual(try platform.json("GET", "/api/v1/canvases/\(id)", token: bank.shOperator, expect: 200)["status"]?.stringValue, "draft")
        let stats = try bank.stats(id)
        XCTAssertEqual(stats["entered"]?.doubleValue, 0, "\(stats)")
        XCTAssertEqual(stats["exited"]?.doubleValue, 0)
        var config = try PostgresConfiguration(url: try TestEnvironment.databaseURL())
        config.searchPath = [platform.schemas[4]]
        let pool = PostgresPool(configuration: config)
        defer { pool.close() }
        XCTAssertEqual(try pool.query("SELECT count(*) AS n FROM outbox_events")[0].decode("n", as: Int64.self), 0, "a test writes no journey facts")

        // Another unit sees no run; an unknown run is 404.
        XCTAssertEqual(try platform.call("GET", runPath, token: bjOperator, json: nil).status, 404)
        XCTAssertEqual(try platform.call("GET", "/api/v1/canvases/\(id)/tests/tst_nosuchrun", token: bank.shOperator, json: nil).status, 404)

        // Launched, the real run is not blocked by the rehearsal (re-entry `never`), and counts only itself.
        _ = try platform.json("POST", "/api/v1/canvases/\(id):submit", token: bank.shOperator, expect: 200)
        XCTAssertEqual(try platform.json("POST", "/api/v1/canvases/\(id):approve", token: bank.shApprover, expect: 200)["status"]?.stringValue, "running")
        try bank.sendEvent("ts0", "account_opened")
        XCTAssertTrue(try platform.eventually { try bank.stats(id)["exited"]?.doubleValue == 1 }, "the tested customer did not enter the real run")
        XCTAssertEqual(try bank.stats(id)["entered"]?.doubleValue, 1)
        XCTAssertEqual(try platform.json("GET", "/api/v1/messages?canvasId=\(id)", token: bank.shOperator, expect: 200).items.count, 1)
        // A live canvas without a draft is tested at its version.
        let live = try platform.json("POST", path, token: bank.shOperator, .object(["customerIds": .array([.string("ts2")])]), expect: 202)
        XCTAssertEqual(live["tested"]?.stringValue, "version")
        XCTAssertEqual(live["version"]?.doubleValue, 1)
        XCTAssertTrue(try platform.eventually { (try platform.simulatorStats()["accepted"] ?? 0) >= 5 }, "ts2's test push (and the real run's push and webhook)")
        XCTAssertEqual(try bank.stats(id)["entered"]?.doubleValue, 1, "the second test run is not counted either")
    }
}
