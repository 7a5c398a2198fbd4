import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// Events into analytics's inbox, reports out through the gateway, across two org units.
final class AnalyticsEndToEndTests: XCTestCase {
    var platform: AnalyticsPlatform!
    var admin = "", shAnalyst = "", bjAnalyst = ""

    override func setUpWithError() throws {
        platform = try AnalyticsPlatform()
        admin = try platform.login("admin", AnalyticsPlatform.adminPassword)
        for (id, name) in [("sh", "上海分行"), ("bj", "北京分行")] {
            XCTAssertEqual(try platform.call("POST", "/api/v1/orgs", token: admin,
                                             json: #"{"id":"\#(id)","parentId":"hq","kind":"branch","name":"\#(name)"}"#).status, 201)
        }
        shAnalyst = try platform.user(admin, "sh_an", org: "sh", role: "analyst")
        bjAnalyst = try platform.user(admin, "bj_an", org: "bj", role: "analyst")
    }

    override func tearDown() { platform?.stop() }

    func post(_ type: MarketingFactType, _ fact: MarketingFact, id: UUID = UUID(), file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try platform.deliver(id: id, type: type.rawValue, payload: AnalyticsPlatform.fact(fact))
        XCTAssertEqual(r.status, 200, r.bodyText, file: file, line: line)
    }

    /// Journeys of canvas `cvs_sh` (owned by the Shanghai branch): 2,000 customers in control (10%) and
    /// two branches, conversions known per arm; the same event delivered twice counts once.
    func testFunnelAndExperimentThroughTheGatewayWithRedeliveryAndScope() throws {
        let org = "/hq/sh/"
        let plan = ["control": 0.1, "A": 0.45, "B": 0.45]
        var expected: [String: (n: Int, c: Int)] = [:]
        let ids = (0..<360).map { _ in UUID() }
        let platform: AnalyticsPlatform = self.platform
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for i in stride(from: worker, to: 360, by: 4) {
                let arm = i % 10 == 0 ? "control" : (i % 2 == 0 ? "A" : "B")
                let customer = "c\(i)"
                let f = MarketingFact(customerId: customer, orgPath: org, canvasId: "cvs_sh", nodeId: "n1", nodeType: "send", arm: arm,
                                      plannedShare: plan[arm])
                _ = try? platform.deliver(id: ids[i], type: MarketingFactType.journeyEntered.rawValue, payload: AnalyticsPlatform.fact(f))
                _ = try? platform.deliver(type: MarketingFactType.nodeReached.rawValue, payload: AnalyticsPlatform.fact(f))
                _ = try? platform.deliver(type: MarketingFactType.messageSent.rawValue,
                                          payload: AnalyticsPlatform.fact(MarketingFact(customerId: customer, orgPath: org, canvasId: "cvs_sh",
                                                                                        nodeId: "n1", channel: "sms", cost: "0.04")))
                if i % 7 == 0 {
                    _ = try? platform.deliver(type: MarketingFactType.messageSuppressed.rawValue,
                                              payload: AnalyticsPlatform.fact(MarketingFact(customerId: customer, orgPath: org, canvasId: "cvs_sh",
                                                                                            nodeId: "n1", channel: "sms", reason: "quiet_hours")))
                }
                if i % (arm == "B" ? 3 : 6) == 0 {
                    _ = try? platform.deliver(type: MarketingFactType.journeyConverted.rawValue,
                                              payload: AnalyticsPlatform.fact(MarketingFact(customerId: customer, orgPath: org, canvasId: "cvs_sh",
                                                                                            nodeId: "n1", amount: "250.00")))
                }
            }
        }
        for i in 0..<360 {
            let arm = i % 10 == 0 ? "control" : (i % 2 == 0 ? "A" : "B")
            expected[arm, default: (0, 0)].n += 1
            if i % (arm == "B" ? 3 : 6) == 0 { expected[arm, default: (0, 0)].c += 1 }
        }
        // Redelivery of entries already processed: answered 200 "duplicate", counted once.
        for i in 0..<5 {
            let f = MarketingFact(customerId: "c\(i)", orgPath: org, canvasId: "cvs_sh", nodeId: "n1", arm: "A", plannedShare: 0.45)
            let r = try platform.deliver(id: ids[i], type: MarketingFactType.journeyEntered.rawValue, payload: AnalyticsPlatform.fact(f))
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(try r.decode(JSONValue.self)["outcome"]?.stringValue, "duplicate")
        }

        let funnel = try platform.report("/api/v1/analytics/canvases/cvs_sh/funnel", token: shAnalyst)
        XCTAssertEqual(funnel["entered"]?.int, 360)
        let node = try XCTUnwrap(funnel["nodes"]?.array.first)
        XCTAssertEqual(node["nodeId"]?.stringValue, "n1")
        XCTAssertEqual(node["reached"]?.int, 360)
        XCTAssertEqual(node["sent"]?.int, 360)
        XCTAssertEqual(node["suppressed"]?.int, (0..<360).filter { $0 % 7 == 0 }.count)
        XCTAssertEqual(node["suppressedByReason"]?["quiet_hours"]?.int, (0..<360).filter { $0 % 7 == 0 }.count)
        XCTAssertEqual(funnel["converted"]?.int, expected.values.reduce(0) { $0 + $1.c })

        let experiment = try platform.report("/api/v1/analytics/canvases/cvs_sh/experiments", token: shAnalyst)
        XCTAssertEqual(experiment["baseline"]?.stringValue, "control")
        var byArm: [String: JSONValue] = [:]
        for arm in experiment["arms"]?.array ?? [] { byArm[arm["arm"]?.stringValue ?? ""] = arm }
        for (arm, counts) in expected {
            XCTAssertEqual(byArm[arm]?["customers"]?.int, counts.n, arm)
            XCTAssertEqual(byArm[arm]?["conversions"]?.int, counts.c, arm)
        }
        // 36 control customers with 12 conversions: above the sample rules, so B gets a p-value.
        XCTAssertEqual(byArm["control"]?["verdict"]?.stringValue, "baseline")
        XCTAssertNotNil(byArm["B"]?["pValue"]?.doubleValue)
        XCTAssertEqual(experiment["sampleRatio"]?["outcome"]?.stringValue, "ok")

        // The Beijing branch sees nothing of a Shanghai canvas; head office sees it all.
        XCTAssertEqual(try platform.report("/api/v1/analytics/canvases/cvs_sh/funnel", token: bjAnalyst)["entered"]?.int, 0)
        XCTAssertEqual(try platform.report("/api/v1/analytics/canvases/cvs_sh/experiments", token: bjAnalyst)["arms"]?.array.count, 0)
        XCTAssertEqual(try platform.report("/api/v1/analytics/canvases/cvs_sh/funnel", token: admin)["entered"]?.int, 360)
        _ = try platform.report("/api/v1/analytics/dashboard?orgPath=/hq/sh/", token: bjAnalyst, expect: 403)

        // CSV with Chinese labels.
        let csv = try platform.call("GET", "/api/v1/analytics/canvases/cvs_sh/experiments?format=csv", token: shAnalyst, json: nil)
        XCTAssertEqual(csv.status, 200)
        XCTAssertEqual(csv.headers.first("content-type"), "text/csv; charset=utf-8")
        let lines = csv.bodyText.components(separatedBy: "\r\n")
        XCTAssertTrue(lines[0].hasPrefix("\u{FEFF}分组,基准组,人数"), lines[0])
        XCTAssertEqual(lines.filter { !$0.isEmpty }.count, 4)

        // The dashboard of today.
        let dashboard = try platform.report("/api/v1/analytics/dashboard", token: shAnalyst)
        XCTAssertEqual(dashboard["totals"]?["entered"]?.int, 360)
        XCTAssertEqual(dashboard["totals"]?["sends"]?.int, 360)
        XCTAssertEqual(dashboard["topCanvases"]?.array.first?["canvasId"]?.stringValue, "cvs_sh")
        let channels = try platform.report("/api/v1/analytics/channels", token: shAnalyst)
        XCTAssertEqual(channels["channels"]?.array.first?["cost"]?.stringValue, "14.40")
    }

    func testBadInputIsA400NamingTheFieldAndStoresNothing() throws {
        let bad: [(String, String, String)] = [
            (MarketingFactType.messageSent.rawValue, #"{"customerId":"c1","orgPath":"/hq/","cost":"1.23456"}"#, "payload.cost"),
            (MarketingFactType.journeyEntered.rawValue, #"{"customerId":"c1","orgPath":"hq"}"#, "payload.orgPath"),
            (MarketingFactType.journeyEntered.rawValue, #"{"customerId":"c1","orgPath":"/hq/","plannedShare":1.5}"#, "payload.plannedShare"),
            (MarketingFactType.journeyEntered.rawValue, #"{"orgPath":"/hq/"}"#, "payload.customerId"),
            ("profile.lifecycle_changed", #"{"customerId":"c1","orgPath":"/hq/","to":"zombie","changedAt":"2026-12-01T00:00:00Z"}"#, "payload.to"),
        ]
        for (type, payload, field) in bad {
            let r = try platform.deliver(type: type, payload: payload)
            XCTAssertEqual(r.status, 400, "\(payload): \(r.bodyText)")
            XCTAssertEqual(try r.decode(JSONValue.self)["error"]?["details"]?["field"]?.stringValue, field, payload)
        }
        XCTAssertEqual(try platform.deliver(type: "canvas.journey_entered", payload: #"{"customerId":"c1","orgPath":"/hq/"}"#,
                                            credential: "wrong-secret-0123456789").status, 401)
        // An event type analytics does not count is acknowledged (its relay must not retry forever).
        XCTAssertEqual(try platform.deliver(type: "segment.segment_enter", payload: #"{"x":1}"#).status, 200)
        let dashboard = try platform.report("/api/v1/analytics/dashboard", token: admin)
        XCTAssertEqual(dashboard["totals"]?["entered"]?.int, 0)

        for (path, field) in [("/api/v1/analytics/channels?from=2026-13-01", "from"), ("/api/v1/analytics/rewards?by=branch", "by"),
                              ("/api/v1/analytics/lifecycle?interval=year", "interval"), ("/api/v1/analytics/dashboard?format=pdf", "format"),
                              ("/api/v1/analytics/canvases/a%20b/funnel", "id")] {
            let r = try platform.report(path, token: admin, expect: 400)
            XCTAssertEqual(r["error"]?["details"]?["field"]?.stringValue, field, path)
        }
    }

    func testRewardsLifecycleAndBehaviourEvents() throws {
        let org = "/hq/bj/"
        for i in 0..<4 {
            try post(.rewardGranted, MarketingFact(customerId: "c\(i)", orgPath: org, canvasId: "cvs_bj", rewardId: "rw_cash5", rewardKind: "coupon",
                                                   cost: "5.00"))
        }
        try post(.rewardRedeemed, MarketingFact(customerId: "c0", orgPath: org, canvasId: "cvs_bj", rewardId: "rw_cash5", rewardKind: "coupon"))
        try post(.journeyConverted, MarketingFact(customerId: "c0", orgPath: org, canvasId: "cvs_bj", nodeId: "n2", amount: "1000.00"))
        try post(.messageSent, MarketingFact(customerId: "c0", orgPath: org, canvasId: "cvs_bj", nodeId: "n1", channel: "sms", cost: "0.10"))
        let rewards = try platform.report("/api/v1/analytics/rewards", token: bjAnalyst)
        let reward = try XCTUnwrap(rewards["rewards"]?.array.first)
        XCTAssertEqual(reward["granted"]?.int, 4)
        XCTAssertEqual(reward["redeemed"]?.int, 1)
        XCTAssertEqual(reward["cost"]?.stringValue, "20.00")
        XCTAssertEqual(reward["redemptionRate"]?.doubleValue, 0.25)
        let roi = try XCTUnwrap(try platform.report("/api/v1/analytics/rewards?by=canvas", token: bjAnalyst)["canvases"]?.array.first)
        XCTAssertEqual(roi["totalCost"]?.stringValue, "20.10")
        XCTAssertEqual(roi["convertedAmount"]?.stringValue, "1000.00")
        XCTAssertEqual(try XCTUnwrap(roi["roi"]?.doubleValue), (1000 - 20.10) / 20.10, accuracy: 1e-9)
        XCTAssertEqual(try platform.report("/api/v1/analytics/rewards?by=canvas", token: shAnalyst)["canvases"]?.array.count, 0)

        let now = Date()
        for (from, to) in [(nil, "new"), ("new", "growing"), ("growing", "dormant")] as [(String?, String)] {
            let payload = #"{"customerId":"c9","orgPath":"/hq/bj/","from":\#(from.map { "\"\($0)\"" } ?? "null"),"to":"\#(to)","changedAt":"\#(JSONCoding.formatDate(now))"}"#
            XCTAssertEqual(try platform.deliver(type: "profile.lifecycle_changed", payload: payload).status, 200)
        }
        let event = #"{"eventId":"e1","customerId":"c9","orgPath":"/hq/bj/","name":"fund_purchase","occurredAt":"\#(JSONCoding.formatDate(now))","properties":{"amount":100}}"#
        XCTAssertEqual(try platform.deliver(type: "profile.event", payload: event).status, 200)
        let lifecycle = try platform.report("/api/v1/analytics/lifecycle?interval=month", token: bjAnalyst)
        XCTAssertEqual(lifecycle["movements"]?.array.count, 3)
        let growing = lifecycle["stages"]?.array.first { $0["stage"]?.stringValue == "growing" }
        XCTAssertEqual(growing?["entered"]?.int, 1)
        XCTAssertEqual(growing?["left"]?.int, 1)
        let lifecycleCSV = try platform.call("GET", "/api/v1/analytics/lifecycle?format=csv", token: bjAnalyst, json: nil).bodyText
        XCTAssertTrue(lifecycleCSV.contains("成长期,休眠期,1"), lifecycleCSV)
        let dashboard = try platform.report("/api/v1/analytics/dashboard", token: bjAnalyst)
        XCTAssertEqual(dashboard["behaviourEvents"]?.int, 1)
        XCTAssertEqual(dashboard["totals"]?["conversions"]?.int, 1)
        XCTAssertEqual(dashboard["totals"]?["rewardCost"]?.stringValue, "20.00")
    }

    /// A killed analytics process loses no acknowledged event and counts none twice: what was answered
    /// 200 is committed; the relay's redelivery after the restart is a duplicate.
    func testAKilledProcessLosesNothingAcknowledged() throws {
        var ids: [UUID] = []
        for i in 0..<50 {
            let id = UUID()
            try post(.journeyEntered, MarketingFact(customerId: "k\(i)", orgPath: "/hq/", canvasId: "cvs_k", nodeId: "n1", arm: "A"), id: id)
            ids.append(id)
        }
        try platform.restartAnalyticsHard()
        for (i, id) in ids.enumerated() {
            let r = try platform.deliver(id: id, type: MarketingFactType.journeyEntered.rawValue,
                                         payload: AnalyticsPlatform.fact(MarketingFact(customerId: "k\(i)", orgPath: "/hq/", canvasId: "cvs_k",
                                                                                       nodeId: "n1", arm: "A")))
            XCTAssertEqual(try r.decode(JSONValue.self)["outcome"]?.stringValue, "duplicate")
        }
        XCTAssertEqual(try platform.report("/api/v1/analytics/canvases/cvs_k/funnel", token: admin)["entered"]?.int, 50)
        let arms = try platform.report("/api/v1/analytics/canvases/cvs_k/experiments", token: admin)["arms"]?.array ?? []
        XCTAssertEqual(arms.first?["customers"]?.int, 50)
        XCTAssertEqual(arms.first?["verdict"]?.stringValue, "baseline")
    }
}
