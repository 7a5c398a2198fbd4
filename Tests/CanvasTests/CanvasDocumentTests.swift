import Contracts
import Foundation
@testable import Canvas
import XCTest

/// Validation of canvas documents on save: every graph fault is a 422 naming the node, shape faults
/// are 400 naming the field; assignment to the control group and A/B branches is deterministic.
final class CanvasDocumentTests: XCTestCase {
    static func parse(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    static func canvas(nodes: String, start: String = "n1", extra: String = "") throws -> JSONValue {
        try parse(#"{"name": "新客开户7天激活", "entry": {"type": "event", "event": "account_opened"}, "start": "\#(start)", "nodes": \#(nodes)\#(extra)}"#)
    }

    func fault(_ json: JSONValue, file: StaticString = #filePath, line: UInt = #line) -> APIError? {
        Self.fault(json, file: file, line: line)
    }

    /// The error a document that must be refused is refused with (a test failure if it is accepted).
    static func fault(_ json: JSONValue, file: StaticString = #filePath, line: UInt = #line) -> APIError? {
        do {
            _ = try CanvasDocument(json: json)
            XCTFail("accepted", file: file, line: line)
            return nil
        } catch let e as APIError {
            return e
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    func testTheDesignExampleIsValid() throws {
        let d = try CanvasDocument(json: try Self.canvas(nodes: """
            [{"id": "n1", "type": "send", "channel": "push", "templateId": "tpl_a", "fallback": "sms", "fallbackTemplateId": "tpl_b", "next": "n2"},
             {"id": "n2", "type": "wait", "duration": "1d", "next": "n3"},
             {"id": "n3", "type": "split", "condition": {"attr": "aum", "op": "gte", "value": 500000}, "yes": "n4", "no": "n5"},
             {"id": "n4", "type": "ab", "branches": [{"name": "A", "weight": 50, "next": "n6"}, {"name": "B", "weight": 50, "next": "n7"}]},
             {"id": "n5", "type": "waitEvent", "event": "fund_purchase", "timeout": "3d", "onEvent": "n8", "onTimeout": "n9"},
             {"id": "n6", "type": "reward", "rewardId": "rwd_1", "next": null},
             {"id": "n7", "type": "tag", "add": "activated", "next": null},
             {"id": "n8", "type": "task", "assignee": "accountManager", "text": "致电客户", "next": null},
             {"id": "n9", "type": "webhook", "url": "https://crm.bank.example/hook", "next": null}]
            """, extra: #", "goal": {"event": "fund_purchase", "within": "7d", "exitOnGoal": true}, "controlGroupPercent": 10, "reentry": "after:30d""#))
        XCTAssertEqual(d.nodes.count, 9)
        XCTAssertEqual(d.controlGroupPercent, 10)
        XCTAssertEqual(d.reentry, .after(try RuleDuration(parsing: "30d")))
    }

    func testGraphFaultsName422AndTheNode() throws {
        let cases: [(String, String, String)] = [
            (#"[{"id": "n1", "type": "teleport", "next": null}]"#, "n1", "unknown node type"),
            (#"[{"id": "n1", "type": "wait", "duration": "1d", "next": "n9"}]"#, "n1", "dangling"),
            (#"[{"id": "n1", "type": "split", "condition": {"tag": "vip"}, "no": null}]"#, "n1", "missing edge"),
            (#"[{"id": "n1", "type": "exit"}, {"id": "n2", "type": "exit"}]"#, "n2", "unreachable"),
            (#"[{"id": "n1", "type": "ab", "branches": [{"name": "A", "weight": 50, "next": "n2"}, {"name": "B", "weight": 40, "next": "n2"}]}, {"id": "n2", "type": "exit"}]"#, "n1", "weights"),
            (#"[{"id": "n1", "type": "tag", "add": "x", "next": "n2"}, {"id": "n2", "type": "tag", "add": "y", "next": "n1"}]"#, "n1", "cycle"),
        ]
        for (nodes, node, what) in cases {
            let e = try XCTUnwrap(fault(try Self.canvas(nodes: nodes)), what)
            XCTAssertEqual(e.status, 422, what)
            XCTAssertEqual(e.code, "canvas_invalid", what)
            XCTAssertEqual(e.body["error"]?["details"]?["nodeId"]?.stringValue, node, what)
        }
        // A cycle through a wait is a loop of touches, not a fault.
        XCTAssertNoThrow(try CanvasDocument(json: try Self.canvas(nodes: """
            [{"id": "n1", "type": "tag", "add": "x", "next": "n2"}, {"id": "n2", "type": "wait", "duration": "7d", "next": "n1"}]
            """)))
        // Start naming no node.
        XCTAssertEqual(fault(try Self.canvas(nodes: #"[{"id": "n1", "type": "exit"}]"#, start: "zz"))?.status, 422)
    }

    func testShapeFaultsAre400NamingTheField() throws {
        XCTAssertEqual(fault(try Self.parse(#"{"entry": {"type": "event", "event": "x"}, "start": "n1", "nodes": [{"id": "n1", "type": "exit"}]}"#))?.body["error"]?["details"]?["field"]?.stringValue, "name")
        let e = fault(try Self.canvas(nodes: #"[{"id": "n1", "type": "send", "channel": "pigeon", "templateId": "t", "next": null}]"#))
        XCTAssertEqual(e?.status, 400)
        XCTAssertEqual(e?.body["error"]?["details"]?["field"]?.stringValue, "$.nodes[0].channel")
        XCTAssertEqual(fault(try Self.canvas(nodes: #"[{"id": "n1", "type": "exit"}]"#, extra: #", "reentry": "sometimes""#))?.status, 400)
        XCTAssertEqual(fault(try Self.canvas(nodes: #"[{"id": "n1", "type": "exit"}]"#, extra: #", "controlGroupPercent": 150"#))?.status, 400)
        XCTAssertEqual(fault(try Self.parse("[1, 2]"))?.status, 400)
    }

    func testAssignmentIsDeterministicAndFollowsTheWeights() {
        let branches = [CanvasDocument.Branch(name: "A", weight: 30, next: nil), CanvasDocument.Branch(name: "B", weight: 70, next: nil)]
        var counts: [String: Int] = [:]
        var control = 0
        for i in 0..<20_000 {
            let c = "c\(i)"
            let b = Assignment.branch(branches, canvas: "cnv_1", customer: c).name
            XCTAssertEqual(b, Assignment.branch(branches, canvas: "cnv_1", customer: c).name)
            counts[b, default: 0] += 1
            if Assignment.inControl(canvas: "cnv_1", customer: c, percent: 10) { control += 1 }
        }
        XCTAssertEqual(Double(counts["A"] ?? 0) / 20_000, 0.3, accuracy: 0.02)
        XCTAssertEqual(Double(control) / 20_000, 0.1, accuracy: 0.015)
        XCTAssertFalse(Assignment.inControl(canvas: "cnv_1", customer: "c1", percent: 0))
    }
}
