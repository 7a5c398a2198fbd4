import Contracts
import Foundation
import HTTP
import Postgres
import TestSupport
import XCTest

/// The tag, task and webhook nodes on real processes, the account managers' task list, and the
/// journey events written to the outbox for analytics (`MarketingFact`).
final class CanvasNodeTests: XCTestCase {
    func testTagTaskWebhookNodesTasksAndJourneyFacts() throws {
        let platform = try CanvasPlatform(canvasEnvironment: [
            "LATTICE_EVENT_SUBSCRIBERS": "analytics=http://127.0.0.1:\(TestEnvironment.freePort())/internal/v1/events",
            // The simulator stands for the bank's CRM: allowed by its address, not by the name localhost.
            "LATTICE_CANVAS_WEBHOOK_ALLOW": "127.0.0.1",
            "LATTICE_CANVAS_WEBHOOK_ATTEMPTS": "2",
        ])
        defer { platform.stop() }
        let bank = try CanvasBank(platform: platform)
        let managerToken = try platform.user(bank.admin, "am_wang", org: "sh", role: "account_manager")
        let otherManager = try platform.user(bank.admin, "am_li", org: "sh", role: "account_manager")
        let managerId = try XCTUnwrap(try platform.json("GET", "/api/v1/me", token: managerToken, expect: 200)["id"]?.stringValue
                                      ?? platform.json("GET", "/api/v1/me", token: managerToken, expect: 200)["user"]?["id"]?.stringValue)
        try bank.customers(1, prefix: "nd", accountManager: managerId)
        _ = try platform.json("POST", "/api/v1/tags", token: bank.shOperator,
                              .object(["code": .string("canvas_touched"), "name": .string("画布触达"), "kind": .string("manual")]), expect: 201)
        let canvas = try JSONValue.parse("""
            {"name": "贷款申请跟进", "entry": {"type": "event", "event": "loan_applied"}, "start": "tag",
             "nodes": [{"id": "tag", "type": "tag", "add": "canvas_touched", "next": "task"},
                       {"id": "task", "type": "task", "assignee": "accountManager", "text": "请致电客户确认贷款需求", "next": "hook"},
                       {"id": "hook", "type": "webhook", "url": "\(platform.simulatorURL)", "next": null}]}
            """)
        let id = try bank.launch(canvas)
        try bank.sendEvent("nd0", "loan_applied")
        XCTAssertTrue(try platform.eventually { try bank.stats(id)["exited"]?.doubleValue == 1 }, "the journey did not finish")
        // The webhook reached the outside URL once, keyed by the journey step.
        let hooks = try platform.simulatorCall("GET", "/control/messages").items
        XCTAssertEqual(hooks.count, 1)
        XCTAssertTrue(hooks.first?["key"]?.stringValue?.hasSuffix(":hook") ?? false)
        XCTAssertEqual(hooks.first?["customerId"]?.stringValue, "nd0")
        // The tag is on the customer's profile.
        let customer = try platform.json("GET", "/api/v1/customers/nd0", token: bank.shOperator, expect: 200)
        XCTAssertTrue(String(describing: customer["tags"] ?? .null).contains("canvas_touched"), "\(customer)")
        // The task went to the customer's account manager, who completes it; another one sees nothing.
        let tasks = try platform.json("GET", "/api/v1/tasks", token: managerToken, expect: 200)
        XCTAssertEqual(tasks.items.count, 1)
        XCTAssertEqual(tasks.items.first?["assignee"]?.stringValue, managerId)
        let taskId = try XCTUnwrap(tasks.items.first?["id"]?.stringValue)
        XCTAssertEqual(try platform.json("GET", "/api/v1/tasks", token: otherManager, expect: 200).items.count, 0)
        XCTAssertEqual(try platform.call("POST", "/api/v1/tasks/\(taskId):complete", token: otherManager, json: nil).status, 404)
        XCTAssertEqual(try platform.json("POST", "/api/v1/tasks/\(taskId):complete", token: managerToken, expect: 200)["status"]?.stringValue, "done")
        XCTAssertEqual(try platform.json("GET", "/api/v1/tasks?status=open", token: bank.shOperator, expect: 200).items.count, 0)
        // Journey facts in the outbox, in the vocabulary analytics reads.
        var config = try PostgresConfiguration(url: try TestEnvironment.databaseURL())
        config.searchPath = [platform.schemas[4]]
        let pool = PostgresPool(configuration: config)
        defer { pool.close() }
        var types: [String: Int] = [:]
        for row in try pool.query("SELECT event_type, payload::text AS p FROM outbox_events WHERE destination = 'analytics' AND payload->>'canvasId' = $1", id) {
            let fact = try JSONDecoder().decode(MarketingFact.self, from: Data(try row.decode("p", as: String.self).utf8))
            XCTAssertEqual(fact.canvasId, id)
            XCTAssertEqual(fact.customerId, "nd0")
            XCTAssertEqual(fact.arm, "treatment")
            types[try row.decode("event_type"), default: 0] += 1
        }
        XCTAssertEqual(types, ["canvas.journey_entered": 1, "canvas.node_reached": 3, "canvas.journey_exited": 1])

        // A webhook to a host resolving inside the bank that is not on the allow-list: a failed node
        // (outcome `refused`), the journey goes on and ends, nothing is called and nothing is retried.
        let inward = try JSONValue.parse("""
            {"name": "内网回调", "entry": {"type": "event", "event": "loan_withdrawn"}, "start": "hook",
             "nodes": [{"id": "hook", "type": "webhook", "url": "\(platform.simulatorURL.replacingOccurrences(of: "127.0.0.1", with: "localhost"))", "next": "bye"},
                       {"id": "bye", "type": "exit"}]}
            """)
        let refusedId = try bank.launch(inward)
        try bank.sendEvent("nd0", "loan_withdrawn")
        XCTAssertTrue(try platform.eventually { try bank.stats(refusedId)["exited"]?.doubleValue == 1 }, "the refused webhook held the journey")
        let refusedStats = try bank.stats(refusedId)
        guard case .array(let nodeStats)? = refusedStats["nodes"] else { return XCTFail("no node stats: \(refusedStats)") }
        let hook = nodeStats.first { $0["nodeId"]?.stringValue == "hook" }
        XCTAssertEqual(hook?["outcomes"]?["refused"]?.doubleValue, 1, "\(refusedStats)")
        XCTAssertEqual(nodeStats.first { $0["nodeId"]?.stringValue == "bye" }?["reached"]?.doubleValue, 1)
        XCTAssertEqual(refusedStats["exits"]?["exit"]?.doubleValue, 1)
        XCTAssertEqual(try platform.simulatorCall("GET", "/control/messages").items.count, 1, "the refused webhook reached the simulator")
        XCTAssertTrue(platform.canvases[0].standardOutput.contains("webhook refused"), "the refusal is logged with its reason")

        // An allowed webhook whose system is down: the journey alone is held back and retried, then the
        // node fails after its attempts (2 here) and the journey goes on.
        let down = try JSONValue.parse("""
            {"name": "回调系统停机", "entry": {"type": "event", "event": "loan_cancelled"}, "start": "hook",
             "nodes": [{"id": "hook", "type": "webhook", "url": "http://127.0.0.1:\(TestEnvironment.freePort())/crm", "next": "bye"},
                       {"id": "bye", "type": "exit"}]}
            """)
        let downId = try bank.launch(down)
        try bank.sendEvent("nd0", "loan_cancelled")
        XCTAssertTrue(try platform.eventually(timeout: 30) { try bank.stats(downId)["exited"]?.doubleValue == 1 },
                      "a webhook that stays down held the journey forever")
        let downStats = try bank.stats(downId)
        guard case .array(let downNodes)? = downStats["nodes"] else { return XCTFail("no node stats: \(downStats)") }
        XCTAssertEqual(downNodes.first { $0["nodeId"]?.stringValue == "hook" }?["outcomes"]?["failed"]?.doubleValue, 1, "\(downStats)")
        XCTAssertEqual(downNodes.first { $0["nodeId"]?.stringValue == "hook" }?["reached"]?.doubleValue, 1,
                       "a retried step counts once: \(downStats)")
        XCTAssertTrue(platform.canvases[0].standardOutput.contains("journey step held back"), "the retry is logged")
        XCTAssertTrue(platform.canvases[0].standardOutput.contains("webhook failed after its attempts"))
    }
}
