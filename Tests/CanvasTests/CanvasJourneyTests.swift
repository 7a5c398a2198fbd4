import Contracts
import Foundation
import HTTP
@testable import Canvas
import TestSupport
import XCTest

/// Journeys on real processes: a segment canvas with a control group and an A/B split sending through
/// the dispatcher (counted at the provider simulator), and a real-time canvas with a `where`
/// condition, waitEvent with its timeout, a goal, pause holding journeys, and statistics.
final class CanvasJourneyTests: XCTestCase {
    func testSegmentCanvasWithControlGroupAndABSendsOncePerTreatedCustomer() throws {
        let platform = try CanvasPlatform()
        defer { platform.stop() }
        let bank = try CanvasBank(platform: platform)
        let n = 120
        try bank.customers(n)
        let segment = try bank.segment(city: "上海", token: bank.shOperator, expected: n)
        let canvas = try JSONValue.parse("""
            {"name": "存量客户理财推荐", "entry": {"type": "segment", "segmentId": "\(segment)"}, "controlGroupPercent": 20, "start": "ab",
             "nodes": [{"id": "ab", "type": "ab", "branches": [{"name": "A", "weight": 50, "next": "push"}, {"name": "B", "weight": 50, "next": "sms"}]},
                       {"id": "push", "type": "send", "channel": "push", "templateId": "\(bank.pushTemplate)", "next": "pause"},
                       {"id": "sms", "type": "send", "channel": "sms", "templateId": "\(bank.smsTemplate)", "next": "pause"},
                       {"id": "pause", "type": "wait", "duration": "1s", "next": "done"},
                       {"id": "done", "type": "exit"}]}
            """)
        let id = try bank.launch(canvas)
        // What the deterministic assignment says.
        let ids = (0..<n).map { "c\($0)" }
        let control = ids.filter { Assignment.inControl(canvas: id, customer: $0, percent: 20) }
        let treated = n - control.count
        XCTAssertTrue(try platform.eventually(timeout: 30) {
            let s = try bank.stats(id)
            return Int(s["exited"]?.doubleValue ?? 0) >= n
        }, "journeys did not finish")
        let stats = try bank.stats(id)
        XCTAssertEqual(stats["entered"]?.doubleValue, Double(n))
        XCTAssertEqual(stats["control"]?.doubleValue, Double(control.count))
        let nodes = Dictionary(uniqueKeysWithValues: stats["nodes"].map { v -> [(String, JSONValue)] in
            if case .array(let a) = v { return a.map { ($0["nodeId"]?.stringValue ?? "", $0) } }
            return []
        } ?? [])
        XCTAssertEqual(nodes["ab"]?["reached"]?.doubleValue, Double(treated))
        let pushes = nodes["push"]?["outcomes"]?["sent"]?.doubleValue ?? 0, smses = nodes["sms"]?["outcomes"]?["sent"]?.doubleValue ?? 0
        XCTAssertEqual(pushes + smses, Double(treated), "\(stats)")
        XCTAssertEqual(nodes["done"]?["reached"]?.doubleValue, Double(treated))
        XCTAssertTrue(try platform.eventually(timeout: 20) { (try platform.simulatorStats()["accepted"] ?? 0) >= treated })
        Thread.sleep(forTimeInterval: 0.5)
        let sim = try platform.simulatorStats()
        XCTAssertEqual(sim["accepted"], treated, "one message per treated customer: \(sim)")
        XCTAssertEqual(sim["duplicates"] ?? 0, 0)
        // The dispatcher knows each message by the journey step's key.
        let messages = try platform.json("GET", "/api/v1/messages?canvasId=\(id)&limit=200", token: bank.shOperator, expect: 200)
        XCTAssertEqual(messages.items.count, treated)
        XCTAssertTrue(messages.items.allSatisfy { ($0["key"]?.stringValue ?? "").hasSuffix(":push") || ($0["key"]?.stringValue ?? "").hasSuffix(":sms") })
        XCTAssertFalse(messages.items.contains { control.contains($0["customerId"]?.stringValue ?? "") }, "the control group receives nothing")
    }


    func testRealTimeCanvasWaitEventTimeoutGoalAndPause() throws {
        let platform = try CanvasPlatform()
        defer { platform.stop() }
        let bank = try CanvasBank(platform: platform)
        try bank.customers(4, prefix: "rt")
        let canvas = try JSONValue.parse("""
            {"name": "开户未绑卡提醒", "entry": {"type": "event", "event": "account_opened", "where": {"attr": "channel", "op": "eq", "value": "app"}},
             "start": "welcome", "goal": {"event": "fund_purchase", "within": "1d", "exitOnGoal": true},
             "nodes": [{"id": "welcome", "type": "send", "channel": "push", "templateId": "\(bank.pushTemplate)", "next": "bind"},
                       {"id": "bind", "type": "waitEvent", "event": "card_bound", "timeout": "2s", "onEvent": "thanks", "onTimeout": "remind"},
                       {"id": "thanks", "type": "tag", "add": "card_bound_via_canvas", "next": null},
                       {"id": "remind", "type": "send", "channel": "sms", "templateId": "\(bank.smsTemplate)", "next": "hold"},
                       {"id": "hold", "type": "wait", "duration": "1d", "next": null}]}
            """)
        let id = try bank.launch(canvas)
        let started = Date()
        try bank.sendEvent("rt0", "account_opened", properties: ["channel": .string("app")])
        try bank.sendEvent("rt1", "account_opened", properties: ["channel": .string("app")])
        try bank.sendEvent("rt2", "account_opened", properties: ["channel": .string("branch")])   // where fails
        XCTAssertTrue(try platform.eventually { (try platform.simulatorStats()["accepted"] ?? 0) >= 2 }, "the welcome pushes never arrived")
        print("real-time: two welcome pushes at the simulator \(Int(Date().timeIntervalSince(started) * 1000)) ms after the events")
        try bank.sendEvent("rt0", "card_bound")
        XCTAssertTrue(try platform.eventually {
            let s = try bank.stats(id)
            return s["nodes"].map { v -> Bool in
                if case .array(let a) = v { return a.contains { $0["nodeId"]?.stringValue == "remind" && ($0["reached"]?.doubleValue ?? 0) >= 1 } }
                return false
            } ?? false
        }, "the timeout never fired")
        XCTAssertTrue(try platform.eventually { (try platform.simulatorStats()["accepted"] ?? 0) >= 3 })
        let stats = try bank.stats(id)
        XCTAssertEqual(stats["entered"]?.doubleValue, 2, "\(stats)")
        let nodes: [String: JSONValue] = {
            guard case .array(let a)? = stats["nodes"] else { return [:] }
            return Dictionary(uniqueKeysWithValues: a.map { ($0["nodeId"]?.stringValue ?? "", $0) })
        }()
        XCTAssertEqual(nodes["bind"]?["outcomes"]?["event"]?.doubleValue, 1)
        XCTAssertEqual(nodes["bind"]?["outcomes"]?["timeout"]?.doubleValue, 1)
        XCTAssertEqual(nodes["remind"]?["reached"]?.doubleValue, 1)
        XCTAssertEqual(try platform.simulatorStats()["accepted"], 3, "rt0 got its push, rt1 push and sms; rt2 nothing")

        // The goal converts rt1 (waiting a day) and ends its journey.
        try bank.sendEvent("rt1", "fund_purchase")
        XCTAssertTrue(try platform.eventually { try bank.stats(id)["converted"]?.doubleValue == 1 })
        XCTAssertEqual(try bank.stats(id)["active"]?.doubleValue, 0)

        // Paused: journeys hold (no welcome while paused), resumed: they go on.
        _ = try platform.json("POST", "/api/v1/canvases/\(id):pause", token: bank.shApprover, expect: 200)
        Thread.sleep(forTimeInterval: 1.2)   // the canvas list of the event consumer is cached for a second
        try bank.sendEvent("rt3", "account_opened", properties: ["channel": .string("app")])
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(try platform.simulatorStats()["accepted"], 3)
        XCTAssertEqual(try bank.stats(id)["entered"]?.doubleValue, 2, "a paused canvas takes no entries")
        _ = try platform.json("POST", "/api/v1/canvases/\(id):resume", token: bank.shApprover, expect: 200)
    }
}

/// Breakpoint recall (A not followed by B within T), versions (journeys keep theirs), and
/// segment_enter / lifecycle entries fed straight to the canvas's inbox as their services send them.
final class CanvasEntryTests: XCTestCase {

    func accepted(_ platform: CanvasPlatform) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for m in try platform.simulatorCall("GET", "/control/messages").items {
            if let c = m["customerId"]?.stringValue { out[c, default: 0] += Int(m["count"]?.doubleValue ?? 0) }
        }
        return out
    }

    /// A relay batch enters its events together, with the rules of one event at a time: a customer's
    /// second event while their journey runs does not enter them again (re-entry `always` is after the
    /// end), and the maximum of entries holds across batches, in the events' order.
    func testEventsOfOneBatchEnterTogetherWithinTheMaximum() throws {
        let platform = try CanvasPlatform()
        defer { platform.stop() }
        let bank = try CanvasBank(platform: platform)
        try bank.customers(3, prefix: "rb")
        let canvas = try JSONValue.parse("""
            {"name": "批量事件", "entry": {"type": "event", "event": "batch_probe"}, "reentry": "always", "maxEntries": 4, "start": "push",
             "nodes": [{"id": "push", "type": "send", "channel": "push", "templateId": "\(bank.pushTemplate)", "next": null}]}
            """)
        let id = try bank.launch(canvas)
        try platform.deliverEvents(["rb0", "rb0", "rb1"].map { ($0, "batch_probe", Date()) })
        XCTAssertTrue(try platform.eventually(timeout: 10) { try bank.stats(id)["exited"]?.doubleValue == 2 })
        try platform.deliverEvents(["rb1", "rb0", "rb2"].map { ($0, "batch_probe", Date()) })
        XCTAssertTrue(try platform.eventually(timeout: 10) { try bank.stats(id)["exited"]?.doubleValue == 4 })
        Thread.sleep(forTimeInterval: 0.5)
        var byCustomer: [String: Int] = [:]
        for m in try platform.json("GET", "/api/v1/messages?canvasId=\(id)", token: bank.shOperator, expect: 200).items {
            byCustomer[m["customerId"]?.stringValue ?? "", default: 0] += 1
        }
        XCTAssertEqual(byCustomer, ["rb0": 2, "rb1": 2], "the repeat inside a journey is not an entry; rb2 came after the maximum of 4")
        XCTAssertEqual(try bank.stats(id)["entered"]?.doubleValue, 4)
    }

    func testRecallFiresAfterTOnlyWithoutBAndJourneysKeepTheirVersion() throws {
        let platform = try CanvasPlatform()
        defer { platform.stop() }
        let bank = try CanvasBank(platform: platform)
        try bank.customers(5, prefix: "rc")
        let recall = try JSONValue.parse("""
            {"name": "绑卡中断召回", "entry": {"type": "event", "event": "card_bind_start", "notFollowedBy": {"event": "card_bind_success", "within": "2s"}},
             "start": "push", "nodes": [{"id": "push", "type": "send", "channel": "push", "templateId": "\(bank.pushTemplate)", "next": null}]}
            """)
        let id = try bank.launch(recall)
        let t0 = Date()
        try bank.sendEvent("rc0", "card_bind_start")
        try bank.sendEvent("rc1", "card_bind_start")
        try bank.sendEvent("rc1", "card_bind_success")
        // Out of order, as the relay may deliver: rc3's B arrives before its A; rc4's B occurred before its A.
        let now = Date()
        try platform.deliverEvent("rc3", "card_bind_success", occurredAt: now)
        try platform.deliverEvent("rc3", "card_bind_start", occurredAt: now.addingTimeInterval(-0.5))
        try platform.deliverEvent("rc4", "card_bind_start", occurredAt: now)
        try platform.deliverEvent("rc4", "card_bind_success", occurredAt: now.addingTimeInterval(-0.5))
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(try accepted(platform), [:], "nothing before T")
        XCTAssertTrue(try platform.eventually(timeout: 10) { try accepted(platform)["rc0"] == 1 })
        let firedAfter = Date().timeIntervalSince(t0)
        XCTAssertLessThan(firedAfter, 4, "the recall fires promptly after T (2 s)")
        XCTAssertTrue(try platform.eventually(timeout: 10) { try accepted(platform)["rc4"] == 1 }, "a B before A cancels nothing")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(try accepted(platform), ["rc0": 1, "rc4": 1], "never for a customer who did B after A, whatever order they arrived in")
        XCTAssertEqual(try bank.stats(id)["entered"]?.doubleValue, 2)

        // Versions: a journey waiting in v1 keeps v1 after v2 is published.
        let v1 = try JSONValue.parse("""
            {"name": "版本测试 v1", "entry": {"type": "event", "event": "version_probe"}, "start": "hold",
             "nodes": [{"id": "hold", "type": "wait", "duration": "2s", "next": "push"},
                       {"id": "push", "type": "send", "channel": "push", "templateId": "\(bank.pushTemplate)", "next": null}]}
            """)
        let vid = try bank.launch(v1)
        try bank.sendEvent("rc2", "version_probe")
        XCTAssertTrue(try platform.eventually { try bank.stats(vid)["entered"]?.doubleValue == 1 })
        let v2 = try JSONValue.parse("""
            {"name": "版本测试 v2", "entry": {"type": "event", "event": "version_probe"}, "start": "hold",
             "nodes": [{"id": "hold", "type": "wait", "duration": "2s", "next": "sms"},
                       {"id": "sms", "type": "send", "channel": "sms", "templateId": "\(bank.smsTemplate)", "next": null}]}
            """)
        _ = try platform.json("PUT", "/api/v1/canvases/\(vid)", token: bank.shOperator, v2, expect: 200)
        _ = try platform.json("POST", "/api/v1/canvases/\(vid):submit", token: bank.shOperator, expect: 200)
        XCTAssertEqual(try platform.json("POST", "/api/v1/canvases/\(vid):approve", token: bank.shApprover, expect: 200)["version"]?.doubleValue, 2)
        XCTAssertTrue(try platform.eventually(timeout: 10) { try accepted(platform)["rc2"] == 1 })
        let messages = try platform.json("GET", "/api/v1/messages?canvasId=\(vid)", token: bank.shOperator, expect: 200)
        XCTAssertEqual(messages.items.map { $0["channel"]?.stringValue }, ["push"], "the journey kept version 1 (push), not version 2 (sms)")
    }
}
