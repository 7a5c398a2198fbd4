import Contracts
import Foundation
import HTTP
@testable import Profile
import XCTest

/// Tags: definitions, validation, org scope, manual and score membership, rule tags kept by the worker.
final class TagTests: XCTestCase {
    static func customer(_ h: ProfileHarness, _ id: String, _ json: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try h.call(.PUT, "/api/v1/customers/\(id)", as: ProfileHarness.hqAdmin, json: json)
        XCTAssertTrue(r.status == 201 || r.status == 200, "PUT \(id): \(r.status) \(r.text)", file: file, line: line)
    }

    static func tags(_ h: ProfileHarness, _ id: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for row in try h.pool.query("SELECT tag_code, value FROM customer_tags WHERE customer_id = $1", id) {
            out[try row.decode("tag_code")] = try row.decode("value")
        }
        return out
    }

    static func codes(_ response: TestResponse) -> Set<String> {
        guard case .array(let items)? = response.json["items"] else { return [] }
        return Set(items.compactMap { $0["code"]?.stringValue })
    }

    func testCreateListGetAndValidation() throws {
        let h = try ProfileHarness()
        let created = try h.call(.POST, "/api/v1/tags", as: ProfileHarness.shOperator,
                                 json: #"{"code": "vip", "name": "贵宾", "kind": "manual", "values": ["gold", "silver"]}"#)
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(created.json["orgId"], "sh")
        XCTAssertEqual(created.json["kind"], "manual")

        let got = try h.call(.GET, "/api/v1/tags/vip", as: ProfileHarness.shOperator)
        XCTAssertEqual(got.status, 200)
        XCTAssertEqual(got.json["values"], ["gold", "silver"])
        let list = try h.call(.GET, "/api/v1/tags", as: ProfileHarness.shOperator)
        XCTAssertEqual(list.status, 200)
        XCTAssertEqual(Self.codes(list), ["vip", "lifecycle"])
        XCTAssertEqual(list.json["nextCursor"], .null)

        let dup = try h.call(.POST, "/api/v1/tags", as: ProfileHarness.bjOperator, json: #"{"code": "vip", "name": "x", "kind": "manual"}"#)
        XCTAssertEqual(dup.status, 409)
        XCTAssertEqual(dup.json["error"]?["code"], "tag_exists")

        func post(_ json: String) throws -> TestResponse { try h.call(.POST, "/api/v1/tags", as: ProfileHarness.hqAdmin, json: json) }
        let badCode = try post(#"{"code": "VIP", "name": "x", "kind": "manual"}"#)
        XCTAssertEqual(badCode.status, 400)
        XCTAssertEqual(badCode.json["error"]?["details"]?["field"], "code")
        let badKind = try post(#"{"code": "k", "name": "x", "kind": "magic"}"#)
        XCTAssertEqual(badKind.json["error"]?["details"]?["field"], "kind")
        let noRule = try post(#"{"code": "r", "name": "x", "kind": "rule"}"#)
        XCTAssertEqual(noRule.status, 400)
        XCTAssertEqual(noRule.json["error"]?["details"]?["field"], "rule")

        let badOp = try post(#"{"code": "r", "name": "x", "kind": "rule", "rule": {"attr": "aum", "op": "bigger", "value": 1}}"#)
        XCTAssertEqual(badOp.status, 422, badOp.text)
        XCTAssertEqual(badOp.json["error"]?["code"], "rule_invalid")
        XCTAssertEqual(badOp.json["error"]?["details"]?["path"], "$.rule.op")

        let unknownAttr = try post(#"{"code": "r", "name": "x", "kind": "rule", "rule": {"all": [{"attr": "aum", "op": "gte", "value": 1}, {"attr": "shoeSize", "op": "gt", "value": 40}]}}"#)
        XCTAssertEqual(unknownAttr.status, 422)
        XCTAssertEqual(unknownAttr.json["error"]?["details"]?["path"], "$.rule.all[1].attr")

        let selfRef = try post(#"{"code": "r", "name": "x", "kind": "rule", "rule": {"not": {"tag": "r"}}}"#)
        XCTAssertEqual(selfRef.status, 422)
        XCTAssertEqual(selfRef.json["error"]?["details"]?["path"], "$.rule.not.tag")
        let unknownTag = try post(#"{"code": "r", "name": "x", "kind": "rule", "rule": {"tag": "nope"}}"#)
        XCTAssertEqual(unknownTag.json["error"]?["details"]?["path"], "$.rule.tag")
        let segment = try post(#"{"code": "r", "name": "x", "kind": "rule", "rule": {"segment": "s1"}}"#)
        XCTAssertEqual(segment.status, 422)
        let whereFilter = try post(#"{"code": "r", "name": "x", "kind": "rule", "rule": {"event": "buy", "where": {"attr": "amount", "op": "gt", "value": 1}}}"#)
        XCTAssertEqual(whereFilter.json["error"]?["details"]?["path"], "$.rule.where")

        let noBuckets = try post(#"{"code": "s", "name": "x", "kind": "score"}"#)
        XCTAssertEqual(noBuckets.json["error"]?["details"]?["field"], "buckets")
        let overlap = try post(#"{"code": "s", "name": "x", "kind": "score", "buckets": [{"value": "a", "min": 0, "max": 0.6}, {"value": "b", "min": 0.5, "max": 1}]}"#)
        XCTAssertEqual(overlap.status, 422)
        XCTAssertEqual(overlap.json["error"]?["code"], "buckets_invalid")
        // A rule reading a custom attribute of the catalog and an existing tag is accepted.
        XCTAssertEqual(try h.call(.POST, "/api/v1/attributes", as: ProfileHarness.hqAdmin,
                                  json: #"{"code": "shoeSize", "name": "鞋码", "type": "int"}"#).status, 201)
        let good = try post(#"{"code": "r", "name": "x", "kind": "rule", "rule": {"all": [{"attr": "shoeSize", "op": "gt", "value": 40}, {"tag": "vip"}]}}"#)
        XCTAssertEqual(good.status, 201, good.text)
        XCTAssertEqual(try h.call(.GET, "/api/v1/tags/nope", as: ProfileHarness.hqAdmin).status, 404)
    }

    func testManualMembersWithScope() throws {
        let h = try ProfileHarness()
        try Self.customer(h, "c_sh", #"{"orgId": "sh", "name": "张三"}"#)
        try Self.customer(h, "c_pd", #"{"orgId": "sh_pd", "name": "李四"}"#)
        try Self.customer(h, "c_bj", #"{"orgId": "bj", "name": "王五"}"#)
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags", as: ProfileHarness.shOperator,
                                  json: #"{"code": "vip", "name": "贵宾", "kind": "manual", "values": ["gold", "silver"]}"#).status, 201)

        let add = try h.call(.POST, "/api/v1/tags/vip/members", as: ProfileHarness.shOperator,
                             json: #"{"customerIds": ["c_sh", "c_pd", "c_bj", "c_none", "c_sh"], "value": "gold"}"#)
        XCTAssertEqual(add.status, 200, add.text)
        XCTAssertEqual(add.json["applied"], 2)
        XCTAssertEqual(add.json["rejected"], [["customerId": "c_bj", "reason": "customer_not_found"],
                                              ["customerId": "c_none", "reason": "customer_not_found"]])
        XCTAssertEqual(try Self.tags(h, "c_sh")["vip"], "gold")
        XCTAssertEqual(try Self.tags(h, "c_pd")["vip"], "gold")
        XCTAssertNil(try Self.tags(h, "c_bj")["vip"])

        // Customer search by tag, and by tag value, within the caller's subtree.
        func found(_ query: String, _ caller: CallerIdentity) throws -> [String] {
            let r = try h.call(.GET, "/api/v1/customers?\(query)", as: caller)
            XCTAssertEqual(r.status, 200, r.text)
            guard case .array(let items)? = r.json["items"] else { return [] }
            return items.compactMap { $0["id"]?.stringValue }
        }
        XCTAssertEqual(try found("tag=vip", ProfileHarness.hqAdmin), ["c_pd", "c_sh"])
        XCTAssertEqual(try found("tag=vip:gold", ProfileHarness.hqAdmin), ["c_pd", "c_sh"])
        XCTAssertEqual(try found("tag=vip:silver", ProfileHarness.hqAdmin), [])
        XCTAssertEqual(try found("tag=vip", ProfileHarness.pdOperator), ["c_pd"])
        XCTAssertEqual(try found("tag=vip", ProfileHarness.bjOperator), [])

        // The same again changes nothing; a sub-branch operator cannot touch the branch's customer.
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags/vip/members", as: ProfileHarness.shOperator,
                                  json: #"{"customerIds": ["c_sh"], "value": "gold"}"#).json["unchanged"], 1)
        let bad = try h.call(.POST, "/api/v1/tags/vip/members", as: ProfileHarness.shOperator, json: #"{"customerIds": ["c_sh"], "value": "bronze"}"#)
        XCTAssertEqual(bad.status, 422)
        XCTAssertEqual(bad.json["error"]?["code"], "tag_value_invalid")
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags/vip/members", as: ProfileHarness.shOperator, json: #"{"customerIds": []}"#).status, 400)
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags/vip/members", as: ProfileHarness.shOperator,
                                  json: #"{"customerIds": ["bad id!"]}"#).json["error"]?["details"]?["field"], "customerIds[0]")

        let remove = try h.call(.POST, "/api/v1/tags/vip/members", as: ProfileHarness.shOperator,
                                json: #"{"customerIds": ["c_sh"], "remove": true}"#)
        XCTAssertEqual(remove.json["applied"], 1)
        XCTAssertNil(try Self.tags(h, "c_sh")["vip"])
        XCTAssertEqual(try Self.tags(h, "c_pd")["vip"], "gold")

        // Another branch does not see the tag at all; rule tags take no members.
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags/vip/members", as: ProfileHarness.bjOperator,
                                  json: #"{"customerIds": ["c_bj"]}"#).status, 404)
        let rule = try h.call(.POST, "/api/v1/tags/lifecycle/members", as: ProfileHarness.hqAdmin, json: #"{"customerIds": ["c_sh"]}"#)
        XCTAssertEqual(rule.status, 422)
        XCTAssertEqual(rule.json["error"]?["code"], "tag_not_writable")
    }

    func testScoreBucketing() throws {
        let h = try ProfileHarness()
        for id in ["s1", "s2", "s3", "s4"] { try Self.customer(h, id, #"{"orgId": "sh"}"#) }
        let created = try h.call(.POST, "/api/v1/tags", as: ProfileHarness.hqAdmin, json: """
            {"code": "churn_risk", "name": "流失风险", "kind": "score",
             "buckets": [{"value": "low", "min": 0, "max": 0.3}, {"value": "mid", "min": 0.3, "max": 0.7}, {"value": "high", "min": 0.7, "max": 1.0001}]}
            """)
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(created.json["values"], ["low", "mid", "high"])
        let r = try h.call(.POST, "/api/v1/tags/churn_risk/members", as: ProfileHarness.hqAdmin, json: """
            {"scores": [{"customerId": "s1", "score": 0.1}, {"customerId": "s2", "score": 0.3}, {"customerId": "s3", "score": 0.95},
                        {"customerId": "s4", "score": 7}]}
            """)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json["applied"], 3)
        XCTAssertEqual(r.json["rejected"], [["customerId": "s4", "reason": "score_out_of_buckets"]])
        XCTAssertEqual(try Self.tags(h, "s1")["churn_risk"], "low")
        XCTAssertEqual(try Self.tags(h, "s2")["churn_risk"], "mid")   // min is inclusive
        XCTAssertEqual(try Self.tags(h, "s3")["churn_risk"], "high")
        let score: Decimal? = try h.pool.query("SELECT score FROM customer_tags WHERE customer_id = 's3' AND tag_code = 'churn_risk'")[0].decode("score")
        XCTAssertEqual(score, Decimal(string: "0.95"))
        // customerIds without scores are refused for a score tag.
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags/churn_risk/members", as: ProfileHarness.hqAdmin,
                                  json: #"{"customerIds": ["s1"]}"#).json["error"]?["details"]?["field"], "scores")
    }

    func testRuleTagFollowsChangesAndStopsLooping() throws {
        let h = try ProfileHarness()
        try Self.customer(h, "r1", #"{"orgId": "sh", "aum": 200000}"#)
        try Self.customer(h, "r2", #"{"orgId": "bj", "aum": 300000}"#)
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags", as: ProfileHarness.hqAdmin, json: """
            {"code": "rich", "name": "高净值", "kind": "rule", "isTemplate": true, "rule": {"attr": "aum", "op": "gte", "value": 100000}}
            """).status, 201)
        // A branch's rule tag reading another rule tag: only its own customers are evaluated.
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags", as: ProfileHarness.bjOperator, json: """
            {"code": "bj_rich", "name": "北京高净值", "kind": "rule", "rule": {"tag": "rich"}}
            """).status, 201)
        try h.app.ruleTags.drain()
        // Existing customers changed before the tag existed: the full sweep requested at creation covers them.
        XCTAssertNotNil(try h.app.ruleTags.sweep())
        XCTAssertEqual(try Self.tags(h, "r1")["rich"], "")
        XCTAssertNil(try Self.tags(h, "r1")["bj_rich"])
        XCTAssertEqual(try Self.tags(h, "r2")["rich"], "")
        XCTAssertEqual(try Self.tags(h, "r2")["bj_rich"], "")

        try Self.customer(h, "r1", #"{"aum": 5000}"#)
        try Self.customer(h, "r3", #"{"orgId": "sh_pd", "aum": 150000}"#)
        let step = try h.app.ruleTags.step()
        XCTAssertTrue(step.claimed)
        try h.app.ruleTags.drain()
        XCTAssertNil(try Self.tags(h, "r1")["rich"], "removed when the rule stops holding")
        XCTAssertEqual(try Self.tags(h, "r3")["rich"], "")
        // The worker's own writes come back through the feed and change nothing: the loop ends.
        try h.app.ruleTags.drain()
        let quiet = try h.app.ruleTags.step()
        XCTAssertEqual(quiet.assigned + quiet.removed, 0)
        XCTAssertTrue(quiet.caughtUp)
        let again = try h.app.ruleTags.step()
        XCTAssertEqual(again.rows, 0)
    }

    func testTimeWindowReevaluation() throws {
        let h = try ProfileHarness()
        try Self.customer(h, "w1", #"{"orgId": "sh"}"#)
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags", as: ProfileHarness.hqAdmin, json: """
            {"code": "active7", "name": "近7天活跃", "kind": "rule", "rule": {"event": "app_login", "within": "7d"}}
            """).status, 201)
        let now = Date()
        let posted = try h.call(.POST, "/api/v1/events", as: ProfileHarness.hqAdmin, json: """
            {"eventId": "e-w1-1", "customerId": "w1", "name": "app_login", "occurredAt": "\(JSONCoding.formatDate(now.addingTimeInterval(-3600)))", "properties": {}}
            """)
        XCTAssertLessThan(posted.status, 300, posted.text)
        try h.app.ruleTags.drain(now: now)
        XCTAssertEqual(try Self.tags(h, "w1")["active7"], "")
        // Five days later the login is still inside the 7-day window; ten days later it is not.
        XCTAssertNotNil(try h.app.ruleTags.sweep(now: now.addingTimeInterval(5 * 86_400), force: true))
        XCTAssertEqual(try Self.tags(h, "w1")["active7"], "")
        XCTAssertNotNil(try h.app.ruleTags.sweep(now: now.addingTimeInterval(10 * 86_400), force: true))
        XCTAssertNil(try Self.tags(h, "w1")["active7"])
        // Not due again until the interval passed (unless forced).
        XCTAssertNil(try h.app.ruleTags.sweep(now: now.addingTimeInterval(10 * 86_400 + 60)))
    }

    func testTemplatesAndBranchIsolation() throws {
        let h = try ProfileHarness()
        func create(_ caller: CallerIdentity, _ json: String) throws {
            let r = try h.call(.POST, "/api/v1/tags", as: caller, json: json)
            XCTAssertEqual(r.status, 201, r.text)
        }
        try create(ProfileHarness.hqAdmin, #"{"code": "hq_tpl", "name": "总行模板", "kind": "manual", "isTemplate": true}"#)
        try create(ProfileHarness.hqAdmin, #"{"code": "hq_private", "name": "总行内部", "kind": "manual"}"#)
        try create(ProfileHarness.shOperator, #"{"code": "sh_tag", "name": "上海", "kind": "activity"}"#)
        try create(ProfileHarness.bjOperator, #"{"code": "bj_tag", "name": "北京", "kind": "manual"}"#)

        XCTAssertEqual(Self.codes(try h.call(.GET, "/api/v1/tags", as: ProfileHarness.hqAdmin)),
                       ["lifecycle", "hq_tpl", "hq_private", "sh_tag", "bj_tag"])
        XCTAssertEqual(Self.codes(try h.call(.GET, "/api/v1/tags", as: ProfileHarness.shOperator)), ["lifecycle", "hq_tpl", "sh_tag"])
        XCTAssertEqual(Self.codes(try h.call(.GET, "/api/v1/tags", as: ProfileHarness.bjOperator)), ["lifecycle", "hq_tpl", "bj_tag"])
        XCTAssertEqual(Self.codes(try h.call(.GET, "/api/v1/tags", as: ProfileHarness.pdOperator)), ["lifecycle", "hq_tpl"])
        XCTAssertEqual(Self.codes(try h.call(.GET, "/api/v1/tags?kind=activity", as: ProfileHarness.hqAdmin)), ["sh_tag"])
        XCTAssertEqual(try h.call(.GET, "/api/v1/tags/sh_tag", as: ProfileHarness.bjOperator).status, 404)
        XCTAssertEqual(try h.call(.GET, "/api/v1/tags/hq_private", as: ProfileHarness.shOperator).status, 404)
        XCTAssertEqual(try h.call(.GET, "/api/v1/tags/hq_tpl", as: ProfileHarness.pdOperator).status, 200)
        // A branch rule may read the template but not another branch's tag.
        XCTAssertEqual(try h.call(.POST, "/api/v1/tags", as: ProfileHarness.bjOperator,
                                  json: #"{"code": "r1", "name": "x", "kind": "rule", "rule": {"tag": "hq_tpl"}}"#).status, 201)
        let hidden = try h.call(.POST, "/api/v1/tags", as: ProfileHarness.bjOperator,
                                json: #"{"code": "r2", "name": "x", "kind": "rule", "rule": {"tag": "sh_tag"}}"#)
        XCTAssertEqual(hidden.status, 422)
        // A branch uses the template on its own customers only.
        try Self.customer(h, "t_sh", #"{"orgId": "sh"}"#)
        try Self.customer(h, "t_bj", #"{"orgId": "bj"}"#)
        let r = try h.call(.POST, "/api/v1/tags/hq_tpl/members", as: ProfileHarness.shOperator, json: #"{"customerIds": ["t_sh", "t_bj"]}"#)
        XCTAssertEqual(r.json["applied"], 1)
        XCTAssertEqual(r.json["rejected"], [["customerId": "t_bj", "reason": "customer_not_found"]])
        // Paging.
        let first = try h.call(.GET, "/api/v1/tags?limit=2", as: ProfileHarness.hqAdmin)
        guard case .string(let cursor)? = first.json["nextCursor"] else { return XCTFail("no cursor: \(first.text)") }
        let second = try h.call(.GET, "/api/v1/tags?limit=10&cursor=\(cursor)", as: ProfileHarness.hqAdmin)
        XCTAssertEqual(Self.codes(first).count + Self.codes(second).count, 6)
        XCTAssertTrue(Self.codes(first).isDisjoint(with: Self.codes(second)))
    }
}
