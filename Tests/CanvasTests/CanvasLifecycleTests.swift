import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The canvas lifecycle through the gateway on real processes: validation on save with the node named,
/// references checked against the segment and dispatcher services, four-eyes approval in the org
/// hierarchy, versions of a live canvas, pause/resume/stop, org scope and head-office templates.
final class CanvasLifecycleTests: XCTestCase {
    static func canvas(template: String, name: String = "新客开户7天激活", extraNode: String = "") throws -> JSONValue {
        try .parse("""
            {"name": "\(name)", "entry": {"type": "event", "event": "account_opened"}, "start": "n1",
             "nodes": [{"id": "n1", "type": "send", "channel": "push", "templateId": "\(template)", "next": "n2"},
                       {"id": "n2", "type": "exit"}\(extraNode)]}
            """)
    }

    func testLifecycleApprovalsVersionsAndScope() throws {
        let platform = try CanvasPlatform()
        defer { platform.stop() }
        let bank = try CanvasBank(platform: platform)

        // Validation on save: a graph fault and an unknown template, each naming its node.
        var bad = try Self.canvas(template: bank.pushTemplate, extraNode: #", {"id": "n3", "type": "exit"}"#)
        var e = try platform.json("POST", "/api/v1/canvases", token: bank.shOperator, bad, expect: 422)
        XCTAssertEqual(e["error"]?["details"]?["nodeId"]?.stringValue, "n3")
        bad = try Self.canvas(template: "tpl_doesnotexist")
        e = try platform.json("POST", "/api/v1/canvases", token: bank.shOperator, bad, expect: 422)
        XCTAssertEqual(e["error"]?["code"]?.stringValue, "canvas_invalid")
        XCTAssertEqual(e["error"]?["details"]?["nodeId"]?.stringValue, "n1")
        e = try platform.json("POST", "/api/v1/canvases", token: bank.shOperator,
                              try .parse(#"{"name": "x", "entry": {"type": "segment", "segmentId": "seg_nosuch"}, "start": "n1", "nodes": [{"id": "n1", "type": "exit"}]}"#),
                              expect: 422)
        XCTAssertEqual(e["error"]?["details"]?["field"]?.stringValue, "entry.segmentId")
        XCTAssertEqual(try platform.call("POST", "/api/v1/canvases", token: bank.shOperator, json: "{not json").status, 400)

        // Draft → submit → approve.
        let created = try platform.json("POST", "/api/v1/canvases", token: bank.shOperator, try Self.canvas(template: bank.pushTemplate), expect: 201)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        XCTAssertEqual(created["status"]?.stringValue, "draft")
        XCTAssertEqual(created["orgId"]?.stringValue, "sh")
        XCTAssertEqual(try platform.call("POST", "/api/v1/canvases/\(id):approve", token: bank.shApprover, json: nil).status, 409, "not submitted")
        _ = try platform.json("POST", "/api/v1/canvases/\(id):submit", token: bank.shOperator, expect: 200)
        XCTAssertEqual(try platform.call("PUT", "/api/v1/canvases/\(id)", token: bank.shOperator,
                                         json: String(decoding: try JSONEncoder().encode(try Self.canvas(template: bank.pushTemplate)), as: UTF8.self)).status,
                       409, "a draft under review does not change")
        XCTAssertEqual(try platform.call("POST", "/api/v1/canvases/\(id):approve", token: bank.shOperator, json: nil).status, 403,
                       "an operator does not approve")
        let rejected = try platform.json("POST", "/api/v1/canvases/\(id):reject", token: bank.hqApprover, .object(["reason": .string("文案需修改")]), expect: 200)
        XCTAssertEqual(rejected["status"]?.stringValue, "rejected")
        XCTAssertEqual(rejected["draft"]?["reviewNote"]?.stringValue, "文案需修改")
        _ = try platform.json("PUT", "/api/v1/canvases/\(id)", token: bank.shOperator, try Self.canvas(template: bank.pushTemplate, name: "新客激活 v1"), expect: 200)
        _ = try platform.json("POST", "/api/v1/canvases/\(id):submit", token: bank.shOperator, expect: 200)
        let approved = try platform.json("POST", "/api/v1/canvases/\(id):approve", token: bank.hqApprover, expect: 200)   // an ancestor's approver
        XCTAssertEqual(approved["status"]?.stringValue, "running")
        XCTAssertEqual(approved["version"]?.doubleValue, 1)
        XCTAssertEqual(approved["document"]?["name"]?.stringValue, "新客激活 v1")
        XCTAssertTrue(approved["draft"] == nil || approved["draft"] == .null)

        // Never the author: one who holds both rights cannot approve its own draft.
        let own = try platform.json("POST", "/api/v1/canvases", token: bank.shBoth, try Self.canvas(template: bank.pushTemplate), expect: 201)
        let ownId = try XCTUnwrap(own["id"]?.stringValue)
        _ = try platform.json("POST", "/api/v1/canvases/\(ownId):submit", token: bank.shBoth, expect: 200)
        e = try platform.json("POST", "/api/v1/canvases/\(ownId):approve", token: bank.shBoth, expect: 422)
        XCTAssertEqual(e["error"]?["code"]?.stringValue, "canvas_self_approval")

        // A running canvas changes only by a new version: PUT prepares it; the live one stays v1.
        let v2 = try platform.json("PUT", "/api/v1/canvases/\(id)", token: bank.shOperator, try Self.canvas(template: bank.pushTemplate, name: "新客激活 v2"), expect: 200)
        XCTAssertEqual(v2["version"]?.doubleValue, 1)
        XCTAssertEqual(v2["document"]?["name"]?.stringValue, "新客激活 v1")
        XCTAssertEqual(v2["draft"]?["state"]?.stringValue, "editing")
        XCTAssertEqual(v2["status"]?.stringValue, "running")
        _ = try platform.json("POST", "/api/v1/canvases/\(id):submit", token: bank.shOperator, expect: 200)
        let published = try platform.json("POST", "/api/v1/canvases/\(id):approve", token: bank.shApprover, expect: 200)
        XCTAssertEqual(published["version"]?.doubleValue, 2)
        XCTAssertEqual(published["document"]?["name"]?.stringValue, "新客激活 v2")

        // Pause, resume, stop.
        XCTAssertEqual(try platform.json("POST", "/api/v1/canvases/\(id):pause", token: bank.shApprover, expect: 200)["status"]?.stringValue, "paused")
        XCTAssertEqual(try platform.call("POST", "/api/v1/canvases/\(id):pause", token: bank.shApprover, json: nil).status, 409)
        XCTAssertEqual(try platform.json("POST", "/api/v1/canvases/\(id):resume", token: bank.shApprover, expect: 200)["status"]?.stringValue, "running")
        XCTAssertEqual(try platform.json("POST", "/api/v1/canvases/\(id):stop", token: bank.shApprover, expect: 200)["status"]?.stringValue, "stopped")
        XCTAssertEqual(try platform.call("POST", "/api/v1/canvases/\(id):resume", token: bank.shApprover, json: nil).status, 409)

        // Scope: head office sees the branch's canvas; a head-office canvas is invisible to the branch
        // until it is a template, then readable and copyable but not writable.
        _ = try platform.json("GET", "/api/v1/canvases/\(id)", token: bank.hqOperator, expect: 200)
        var hqCanvas = try Self.canvas(template: bank.pushTemplate, name: "总行模板：开户激活")
        let hq = try platform.json("POST", "/api/v1/canvases", token: bank.hqOperator, hqCanvas, expect: 201)
        let hqId = try XCTUnwrap(hq["id"]?.stringValue)
        XCTAssertEqual(try platform.call("GET", "/api/v1/canvases/\(hqId)", token: bank.shOperator, json: nil).status, 404)
        XCTAssertEqual(try platform.call("POST", "/api/v1/canvases/\(hqId):copy", token: bank.shOperator, json: nil).status, 404)
        if case .object(var o) = hqCanvas { o["isTemplate"] = .bool(true); hqCanvas = .object(o) }
        _ = try platform.json("PUT", "/api/v1/canvases/\(hqId)", token: bank.hqOperator, hqCanvas, expect: 200)
        _ = try platform.json("GET", "/api/v1/canvases/\(hqId)", token: bank.shOperator, expect: 200)
        XCTAssertEqual(try platform.call("PUT", "/api/v1/canvases/\(hqId)", token: bank.shOperator,
                                         json: String(decoding: try JSONEncoder().encode(hqCanvas), as: UTF8.self)).status, 403)
        let copy = try platform.json("POST", "/api/v1/canvases/\(hqId):copy", token: bank.shOperator, .object(["name": .string("上海分行：开户激活")]), expect: 201)
        XCTAssertEqual(copy["orgId"]?.stringValue, "sh")
        XCTAssertEqual(copy["copiedFrom"]?.stringValue, hqId)
        XCTAssertEqual(copy["status"]?.stringValue, "draft")
        XCTAssertEqual(copy["draft"]?["document"]?["name"]?.stringValue, "上海分行：开户激活")
        let templates = try platform.json("GET", "/api/v1/canvases?template=true", token: bank.shOperator, expect: 200)
        XCTAssertEqual(templates.items.compactMap { $0["id"]?.stringValue }, [hqId])
        // A canvas for another unit only inside the caller's subtree.
        var other = try Self.canvas(template: bank.pushTemplate)
        if case .object(var o) = other { o["orgId"] = .string("bj"); other = .object(o) }
        XCTAssertEqual(try platform.call("POST", "/api/v1/canvases", token: bank.shOperator,
                                         json: String(decoding: try JSONEncoder().encode(other), as: UTF8.self)).status, 422)
        XCTAssertEqual(try platform.json("POST", "/api/v1/canvases", token: bank.hqOperator, other, expect: 201)["orgPath"]?.stringValue, "/hq/bj/")
    }
}
