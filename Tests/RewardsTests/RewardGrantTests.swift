import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The catalog, approval, grants, redemption, revocation, expiry, a customer's rewards and the facts,
/// through the gateway against the real processes.
final class RewardGrantTests: XCTestCase {
    var platform: RewardsPlatform!
    var bank: RewardsBank!

    override func setUpWithError() throws {
        platform = try RewardsPlatform()
        bank = try RewardsBank(platform: platform)
    }

    override func tearDown() {
        if (testRun?.failureCount ?? 0) > 0, let p = platform {
            print("rewards log:\n" + p.rewards.standardOutput.split(separator: "\n").filter { $0.contains("error") }.suffix(5).joined(separator: "\n"))
        }
        platform?.stop()
    }

    func testInvalidRewardsAreRefusedNamingTheField() throws {
        let cases: [([String: JSONValue], String)] = [
            (["kind": "coupon", "couponType": "cash", "faceValue": "5", "stock": 10, "unitCost": 5.5], "unitCost"),
            (["kind": "coupon", "faceValue": "5", "stock": 10, "unitCost": "5.00"], "couponType"),
            (["kind": "coupon", "couponType": "cash", "faceValue": "5", "stock": -1, "unitCost": "5.00"], "stock"),
            (["kind": "points", "stock": 10, "unitCost": "0.01"], "points"),
            (["kind": "external", "stock": 10, "unitCost": "1.00"], "providerUrl"),
            (["kind": "lottery", "stock": 10, "unitCost": "0"], "lottery"),
            (["kind": "gift", "stock": 10, "unitCost": "1.00", "validity": ["from": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"]],
             "validity.until"),
            (["kind": "gift", "stock": 10, "unitCost": "1.00", "colour": "red"], "colour"),
            (["kind": "gift", "stock": 10, "unitCost": "1.123"], "unitCost"),
        ]
        for (body, field) in cases {
            var b = body
            b["code"] = .string("bad-\(field.replacingOccurrences(of: ".", with: "-"))")
            b["name"] = "x"
            if b["validity"] == nil { b["validity"] = ["days": 30] }
            let answer = try platform.json("POST", "/api/v1/rewards", token: bank.hqOperator, .object(b), expect: 400)
            XCTAssertEqual(answer["error"]?["details"]?["field"]?.stringValue, field, "\(body)")
        }
        XCTAssertEqual(try platform.call("POST", "/api/v1/rewards", token: bank.hqOperator, json: "{not json").status, 400)
    }

    func testApprovalGrantReplayRedeemAndTheCustomersList() throws {
        let pending = try bank.reward(RewardsBank.coupon(stock: 10), approve: false)
        let id = try XCTUnwrap(pending["id"]?.stringValue)
        XCTAssertEqual(pending["status"]?.stringValue, "pending")
        let early = try bank.grant(id, customer: "c1", key: "k0")
        XCTAssertEqual(early.status, 409)
        XCTAssertEqual(early.errorCode, "not_approved")
        // Four eyes: the author cannot approve; an approver can.
        XCTAssertEqual(try platform.call("POST", "/api/v1/rewards/\(id):approve", token: bank.hqOperator, json: nil).status, 403)
        XCTAssertEqual(try platform.json("POST", "/api/v1/rewards/\(id):approve", token: bank.hqApprover, expect: 200)["status"]?.stringValue,
                       "approved")

        let first = try bank.grant(id, customer: "c1", key: "k1", extra: ["canvasId": "cnv_1", "nodeId": "n6"])
        XCTAssertEqual(first.status, 201, first.bodyText)
        let grant = first.jsonValue
        XCTAssertEqual(grant["cost"]?.stringValue, "5.00")
        XCTAssertEqual(grant["status"]?.stringValue, "granted")
        let again = try bank.grant(id, customer: "c1", key: "k1", extra: ["canvasId": "cnv_1", "nodeId": "n6"])
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.jsonValue["id"], grant["id"])
        let other = try bank.grant(id, customer: "c2", key: "k1")
        XCTAssertEqual(other.status, 409)
        XCTAssertEqual(other.errorCode, "idempotency_conflict")
        XCTAssertEqual(try bank.grant(id, customer: "c1", key: "").status, 400)
        XCTAssertEqual(try platform.call("POST", "/api/v1/rewards/\(id)/grants", token: bank.hqOperator, json: #"{"customerId":"c1"}"#).status, 400)

        let reward = try platform.json("GET", "/api/v1/rewards/\(id)", token: bank.shOperator, expect: 200)
        XCTAssertEqual(reward["remaining"], 9)

        let grantId = try XCTUnwrap(grant["id"]?.stringValue)
        let redeemed = try platform.json("POST", "/api/v1/grants/\(grantId):redeem", token: bank.shOperator, expect: 200)
        XCTAssertEqual(redeemed["status"]?.stringValue, "redeemed")
        let twice = try platform.call("POST", "/api/v1/grants/\(grantId):redeem", token: bank.shOperator, json: nil)
        XCTAssertEqual(twice.status, 409)
        XCTAssertEqual(twice.errorCode, "grant_redeemed")
        XCTAssertEqual(try platform.call("POST", "/api/v1/grants/grt_nope:redeem", token: bank.shOperator, json: nil).status, 404)

        let list = try platform.json("GET", "/api/v1/customers/c1/rewards", token: bank.hqOperator, expect: 200)
        XCTAssertEqual(list.items.map { $0["id"] }, [grant["id"]])

        // Facts in the outbox, with the canvas step and the cost as a decimal string.
        let facts = try platform.pool.query("SELECT event_type, payload::text AS p FROM outbox_events ORDER BY seq")
        let types = try facts.map { try $0.decode("event_type", as: String.self) }
        XCTAssertEqual(types, ["rewards.granted", "rewards.redeemed"])
        let payload = try JSONDecoder().decode(MarketingFact.self, from: Data(try facts[0].decode("p", as: String.self).utf8))
        XCTAssertEqual(payload.canvasId, "cnv_1")
        XCTAssertEqual(payload.nodeId, "n6")
        XCTAssertEqual(payload.cost, "5.00")
        XCTAssertEqual(payload.grantId, grantId)
    }

    func testTheCanvasCallsTheRewardsPortDirectly() throws {
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 1))["id"]?.stringValue)
        let body = #"{"customerId":"c9","canvasId":"cnv_9","nodeId":"n1"}"#
        let a = try platform.direct("POST", "/api/v1/rewards/\(id)/grants", json: body, headers: [("Idempotency-Key", "inst1:n1")])
        XCTAssertEqual(a.status, 201, a.bodyText)
        let b = try platform.direct("POST", "/api/v1/rewards/\(id)/grants", json: body, headers: [("Idempotency-Key", "inst1:n1")])
        XCTAssertEqual(b.status, 200)
        let c = try platform.direct("POST", "/api/v1/rewards/\(id)/grants", json: #"{"customerId":"c10"}"#, headers: [("Idempotency-Key", "inst2:n1")])
        XCTAssertEqual(c.status, 409)
        XCTAssertEqual(c.errorCode, "out_of_stock")
        // The profile's 360° view asks the same port for the customer's rewards (CustomerViewAssembler's path).
        let view = try platform.direct("GET", "/internal/v1/customers/c9/rewards", json: nil)
        XCTAssertEqual(view.status, 200, view.bodyText)
        XCTAssertEqual(view.jsonValue.items.map { $0["id"] }, [a.jsonValue["id"]])
        XCTAssertEqual(view.jsonValue["pointsBalance"], 0)
        XCTAssertEqual(try platform.direct("GET", "/internal/v1/customers/c10/rewards", json: nil).jsonValue.items.count, 0)
        // Without the internal credential the port refuses.
        var r = HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(platform.rewardsPort)/api/v1/rewards/\(id)/grants")
        r.body = Array(body.utf8)
        XCTAssertEqual(try platform.client.send(r).status, 401)
    }

    func testFixedValidityOutsideIsExpiredAndGrantsExpireByTheScheduledJob() throws {
        let past = try bank.reward(["kind": "gift", "stock": 5, "unitCost": "10.00",
                                    "validity": ["from": "2020-01-01T00:00:00Z", "until": "2020-02-01T00:00:00Z"]])
        let refused = try bank.grant(try XCTUnwrap(past["id"]?.stringValue), customer: "c1", key: "x")
        XCTAssertEqual(refused.status, 409)
        XCTAssertEqual(refused.errorCode, "expired")

        let until = Date().addingTimeInterval(1.5)
        let f = ISO8601DateFormatter()
        let soon = try bank.reward(["kind": "gift", "stock": 5, "unitCost": "10.00",
                                    "validity": ["from": "2020-01-01T00:00:00Z", "until": .string(f.string(from: until.addingTimeInterval(1)))]])
        let g = try bank.grant(try XCTUnwrap(soon["id"]?.stringValue), customer: "c1", key: "y")
        XCTAssertEqual(g.status, 201, g.bodyText)
        let grantId = try XCTUnwrap(g.jsonValue["id"]?.stringValue)
        XCTAssertTrue(try platform.eventually(timeout: 10) {
            try platform.json("GET", "/api/v1/grants/\(grantId)", token: bank.hqOperator, expect: 200)["status"]?.stringValue == "expired"
        })
        let late = try platform.call("POST", "/api/v1/grants/\(grantId):redeem", token: bank.shOperator, json: nil)
        XCTAssertEqual(late.errorCode, "grant_expired")
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM outbox_events WHERE event_type = 'rewards.expired'"), 1)
    }

    func testRevocationReturnsTheUnit() throws {
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 1))["id"]?.stringValue)
        let g = try bank.grant(id, customer: "c1", key: "a")
        XCTAssertEqual(g.status, 201)
        XCTAssertEqual(try bank.grant(id, customer: "c2", key: "b").errorCode, "out_of_stock")
        let grantId = try XCTUnwrap(g.jsonValue["id"]?.stringValue)
        let revoked = try platform.json("POST", "/api/v1/grants/\(grantId):revoke", token: bank.hqOperator, ["reason": "误发"], expect: 200)
        XCTAssertEqual(revoked["status"]?.stringValue, "revoked")
        XCTAssertEqual(try platform.call("POST", "/api/v1/grants/\(grantId):redeem", token: bank.hqOperator, json: nil).errorCode, "grant_revoked")
        XCTAssertEqual(try bank.grant(id, customer: "c2", key: "b").status, 201)
    }

    func testPointsRewardCreditsTheLedgerAndExternalRewardFetchesFromTheProvider() throws {
        let pts = try XCTUnwrap(try bank.reward(["kind": "points", "points": 200, "stock": 100, "unitCost": "0.20"])["id"]?.stringValue)
        XCTAssertEqual(try bank.grant(pts, customer: "p1", key: "p").status, 201)
        XCTAssertEqual(try platform.json("GET", "/api/v1/points/p1", token: bank.hqOperator, expect: 200)["balance"], 200)

        let ext = try XCTUnwrap(try bank.reward(["kind": "external", "providerUrl": .string("http://127.0.0.1:\(platform.simulatorPort)/benefits"),
                                                  "stock": 10, "unitCost": "15.00"])["id"]?.stringValue)
        let g = try bank.grant(ext, customer: "e1", key: "e")
        XCTAssertEqual(g.status, 201, g.bodyText)
        XCTAssertEqual(g.jsonValue["externalStatus"]?.stringValue, "fetched")
        let ref = try XCTUnwrap(g.jsonValue["externalRef"]?.stringValue)
        XCTAssertTrue(ref.hasPrefix("sim_"))
        // The provider saw the grant id as its idempotency key.
        let grantId = try XCTUnwrap(g.jsonValue["id"]?.stringValue)
        var r = HTTPClientRequest(method: "GET", url: "http://127.0.0.1:\(platform.simulatorPort)/control/messages?key=\(grantId)")
        r.headers.add("accept", "application/json")
        XCTAssertEqual(try platform.client.send(r).jsonValue.items.count, 1)
    }

    func testNoInputMakesAFiveHundred() throws {
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 5))["id"]?.stringValue)
        let bodies = ["", "null", "[]", "{}", "\"x\"", "{\"customerId\":1}", "{\"customerId\":\"\"}", "{\"customerId\":\"a\\u0000b\"}",
                      "{\"points\":1e300}", "{\"points\":-5}", "{\"points\":1.5}", String(repeating: "[", count: 5000),
                      "{\"customerId\":\"\(String(repeating: "长", count: 65))\"}"]
        let paths = ["/api/v1/rewards", "/api/v1/rewards/\(id)/grants", "/api/v1/rewards/rwd_zz/grants", "/api/v1/rewards/\(id):approve",
                     "/api/v1/grants/grt_x:redeem", "/api/v1/grants/grt_x:revoke", "/api/v1/points/c1:earn", "/api/v1/points/c1:spend",
                     "/api/v1/lotteries/\(id):draw"]
        for path in paths {
            for body in bodies {
                let r = try platform.call("POST", path, token: bank.hqApprover, json: body, headers: [("Idempotency-Key", "fuzz")])
                XCTAssertLessThan(r.status, 500, "\(path) \(body.prefix(40)): \(r.bodyText)")
            }
        }
        for query in ["/api/v1/rewards?kind=nope", "/api/v1/rewards?limit=0", "/api/v1/rewards?cursor=%%%", "/api/v1/customers/c1/rewards?status=x",
                      "/api/v1/points/c1?cursor=bm90YW51bWJlcg", "/api/v1/grants/not-an-id", "/api/v1/rewards/rwd_"] {
            let r = try platform.call("GET", query, token: bank.hqOperator)
            XCTAssertTrue((400..<500).contains(r.status), "\(query): \(r.status) \(r.bodyText)")
        }
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM grants"), 0)
    }
}

/// 配额下发: head office allots part of a reward to a branch; the branch's grants stop at its quota, the
/// rest of the bank shares the remainder.
final class RewardQuotaTests: XCTestCase {
    func testABranchsGrantsStopAtItsQuotaAndTheRemainderServesTheRest() throws {
        let platform = try RewardsPlatform()
        defer { platform.stop() }
        let bank = try RewardsBank(platform: platform)
        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 10))["id"]?.stringValue)
        let quotas = try platform.json("POST", "/api/v1/rewards/\(id)/quotas", token: bank.hqOperator,
                                       ["orgId": "sh", "orgPath": "/hq/sh/", "units": 3], expect: 200)
        XCTAssertEqual(quotas.items.map { $0["allotted"] }, [7, 3])
        XCTAssertEqual(try platform.call("POST", "/api/v1/rewards/\(id)/quotas", token: bank.hqOperator,
                                         json: #"{"orgId":"sh","orgPath":"/hq/sh/","units":11}"#).errorCode, "quota_exceeds_stock")
        XCTAssertEqual(try platform.call("POST", "/api/v1/rewards/\(id)/quotas", token: bank.shOperator,
                                         json: #"{"orgId":"sh","orgPath":"/hq/sh/","units":5}"#).status, 403)
        let tally = Tally()
        let token = bank.shOperator
        platform.concurrently(20, threads: 20) { i in
            let r = try? bank.grant(id, customer: "s\(i)", key: "s\(i)", token: token)
            tally.add(r.map { $0.status == 201 ? "201" : "\($0.status) \($0.errorCode ?? "")" } ?? "error")
        }
        XCTAssertEqual(tally.counts, ["201": 3, "409 quota_exhausted": 17])
        for i in 0..<8 {
            let r = try bank.grant(id, customer: "h\(i)", key: "h\(i)")
            XCTAssertEqual(r.status, i < 7 ? 201 : 409, r.bodyText)
            if i == 7 { XCTAssertEqual(r.errorCode, "quota_exhausted") }
        }
        XCTAssertEqual(try platform.count("SELECT count(*) AS n FROM grants WHERE reward_id = $1", id), 10)
        XCTAssertEqual(try platform.count("SELECT sum(remaining)::bigint AS n FROM reward_stock WHERE reward_id = $1", id), 0)

        // Units granted before the first allotment are gone: they cannot be allotted to a branch.
        let early = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 5))["id"]?.stringValue)
        for i in 0..<3 { XCTAssertEqual(try bank.grant(early, customer: "e\(i)", key: "e\(i)").status, 201) }
        XCTAssertEqual(try platform.call("POST", "/api/v1/rewards/\(early)/quotas", token: bank.hqOperator,
                                         json: #"{"orgId":"sh","orgPath":"/hq/sh/","units":3}"#).errorCode, "quota_exceeds_stock")
        let allotted = try platform.json("POST", "/api/v1/rewards/\(early)/quotas", token: bank.hqOperator,
                                         ["orgId": "sh", "orgPath": "/hq/sh/", "units": 2], expect: 200)
        XCTAssertEqual(allotted.items.map { $0["used"] }, [3, 0])
        for i in 0..<2 { XCTAssertEqual(try bank.grant(early, customer: "b\(i)", key: "b\(i)", token: bank.shOperator).status, 201) }
    }

    func testHeadOfficeAboveABranchsRewardDrawsOnTheBranchsRemainder() throws {
        let platform = try RewardsPlatform()
        defer { platform.stop() }
        let bank = try RewardsBank(platform: platform)
        XCTAssertEqual(try platform.call("POST", "/api/v1/orgs", token: bank.admin,
                                         json: #"{"id":"pd","parentId":"sh","kind":"sub_branch","name":"浦东支行"}"#).status, 201)
        var body = RewardsBank.coupon(stock: 3)
        body["code"] = "sh-coupon"
        body["name"] = "分行券"
        body["validity"] = ["days": 30]
        let created = try platform.json("POST", "/api/v1/rewards", token: bank.shOperator, .object(body), expect: 201)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        _ = try platform.json("POST", "/api/v1/rewards/\(id):approve", token: bank.hqApprover, expect: 200)
        _ = try platform.json("POST", "/api/v1/rewards/\(id)/quotas", token: bank.shOperator,
                              ["orgId": "pd", "orgPath": "/hq/sh/pd/", "units": 2], expect: 200)
        // The remainder is one unit; head office's grants count against it, and the sub-branch keeps its two.
        XCTAssertEqual(try bank.grant(id, customer: "h1", key: "h1").status, 201)
        XCTAssertEqual(try bank.grant(id, customer: "h2", key: "h2").errorCode, "quota_exhausted")
        let quotas = try platform.json("GET", "/api/v1/rewards/\(id)/quotas", token: bank.shOperator, expect: 200)
        XCTAssertEqual(quotas.items.map { $0["used"] }, [1, 0])
    }
}

/// The rewards service and a real profile service: grants, redemptions and draws reach the profile through
/// the outbox as the customer's events, and the profile's 360° view shows the customer's rewards.
final class RewardFactsInTheProfileTests: XCTestCase {
    func testGrantsAndRedemptionsBecomeTheCustomersEventsInTheProfile() throws {
        let profilePort = TestEnvironment.freePort()
        let platform = try RewardsPlatform(rewardsEnvironment: [
            "LATTICE_EVENT_SUBSCRIBERS": "profile=http://127.0.0.1:\(profilePort)/internal/v1/events",
        ])
        let profileSchema = TestEnvironment.uniqueSchema("e2e_profile")
        let profile = try FixtureProcess("lattice-profile", environment: [
            "DATABASE_URL": try TestEnvironment.databaseURL(), "LATTICE_INTERNAL_SECRET": RewardsPlatform.secret,
            "LATTICE_DB_SCHEMA": profileSchema, "LATTICE_PORT": String(profilePort), "LATTICE_HTTP_EVENT_LOOPS": "1",
            "LATTICE_DB_POOL_SIZE": "6", "LATTICE_GATEWAY_URL": "http://127.0.0.1:\(platform.gatewayPort)",
            "LATTICE_SERVICE_REWARDS": "http://127.0.0.1:\(platform.rewardsPort)",
            "LATTICE_SERVICE_CANVAS": "http://127.0.0.1:\(TestEnvironment.freePort())",
            "LATTICE_SERVICE_DISPATCHER": "http://127.0.0.1:\(TestEnvironment.freePort())",
        ])
        defer {
            profile.signal(SIGTERM)
            _ = profile.waitForExit(timeout: 10)
            TestEnvironment.dropSchema(profileSchema)
            platform.stop()
        }
        XCTAssertTrue(profile.waitForOutput("\"msg\":\"started\""), profile.standardError + profile.standardOutput)
        let bank = try RewardsBank(platform: platform)
        let put = try platform.direct("PUT", "/api/v1/customers/c1", json: #"{"orgId":"hq"}"#, port: profilePort)
        XCTAssertEqual(put.status, 201, put.bodyText)

        let id = try XCTUnwrap(try bank.reward(RewardsBank.coupon(stock: 10))["id"]?.stringValue)
        let grant = try bank.grant(id, customer: "c1", key: "k1", extra: ["canvasId": "cnv_7"])
        XCTAssertEqual(grant.status, 201, grant.bodyText)
        let grantId = try XCTUnwrap(grant.jsonValue["id"]?.stringValue)
        _ = try platform.json("POST", "/api/v1/grants/\(grantId):redeem", token: bank.hqOperator, expect: 200)

        var view: JSONValue = .null
        XCTAssertTrue(try platform.eventually(timeout: 20) {
            view = try platform.direct("GET", "/api/v1/customers/c1", json: nil, port: profilePort).jsonValue
            guard case .array(let events)? = view["recentEvents"] else { return false }
            return Set(events.compactMap { $0["name"]?.stringValue }) == ["reward_granted", "reward_redeemed"]
        }, "\(view)")
        guard case .array(let events)? = view["recentEvents"] else { return XCTFail("\(view)") }
        let granted = try XCTUnwrap(events.first { $0["name"] == "reward_granted" })
        XCTAssertEqual(granted["properties"]?["grantId"]?.stringValue, grantId)
        XCTAssertEqual(granted["properties"]?["canvasId"]?.stringValue, "cnv_7")
        // The 360° view's rewards part comes from the rewards service.
        XCTAssertEqual(view["rewards"]?.items.map { $0["id"] }, [.string(grantId)], "\(view)")
        XCTAssertEqual(view["unavailable"], ["canvas", "dispatcher"])
    }
}
