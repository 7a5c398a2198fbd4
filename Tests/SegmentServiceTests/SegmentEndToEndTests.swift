import Contracts
import Foundation
import HTTP
import TestSupport
import XCTest

/// The segment service behind the gateway, fed by a real profile service: estimates scoped to the
/// caller's subtree, rule faults with their JSON paths, unknown names, segments dynamic and snapshot,
/// cycles, lists and the global black list, and the feed's lag.
final class SegmentEndToEndTests: XCTestCase {
    var platform: SegmentPlatform!
    var admin = "", hqOperator = "", shOperator = "", bjOperator = "", shViewer = ""

    override func setUpWithError() throws {
        platform = try SegmentPlatform()
        admin = try platform.login("admin", SegmentPlatform.adminPassword)
        for (id, name) in [("sh", "上海分行"), ("bj", "北京分行")] {
            let r = try platform.call("POST", "/api/v1/orgs", token: admin, json: #"{"id":"\#(id)","parentId":"hq","kind":"branch","name":"\#(name)"}"#)
            XCTAssertEqual(r.status, 201, r.bodyText)
        }
        hqOperator = try platform.user(admin, "hq_op", org: "hq", role: "operator")
        shOperator = try platform.user(admin, "sh_op", org: "sh", role: "operator")
        bjOperator = try platform.user(admin, "bj_op", org: "bj", role: "operator")
        shViewer = try platform.user(admin, "sh_view", org: "sh", role: "viewer")
    }

    override func tearDown() { platform?.stop() }

    /// Customers SH1 (C3, 600k, tag sh_vip, two app logins today), SH2 (C1) in sh; BJ1 (C3) in bj.
    func loadCustomers() throws {
        for (token, id, body) in [(shOperator, "SH1", #"{"orgId":"sh","riskLevel":"C3","aum":600000}"#),
                                  (shOperator, "SH2", #"{"orgId":"sh","riskLevel":"C1","aum":100}"#),
                                  (bjOperator, "BJ1", #"{"orgId":"bj","riskLevel":"C3","aum":900000}"#)] {
            let r = try platform.call("PUT", "/api/v1/customers/\(id)", token: token, json: body)
            XCTAssertEqual(r.status, 201, r.bodyText)
        }
        XCTAssertEqual(try platform.call("POST", "/api/v1/tags", token: shOperator,
                                         json: #"{"code":"sh_vip","name":"上海贵宾","kind":"manual"}"#).status, 201)
        XCTAssertEqual(try platform.call("POST", "/api/v1/tags/sh_vip/members", token: shOperator,
                                         json: #"{"customerIds":["SH1"]}"#).status, 200)
        let now = JSONCoding.formatDate(Date())
        let events = try platform.call("POST", "/api/v1/events", token: shOperator, json: """
            {"events":[{"eventId":"e1","customerId":"SH1","name":"app_login","occurredAt":"\(now)","properties":{}},
                       {"eventId":"e2","customerId":"SH1","name":"app_login","occurredAt":"\(now)","properties":{}}]}
            """)
        XCTAssertEqual(events.status, 200, events.bodyText)
        // The index has every customer, the tag and the events once a tag-and-event rule counts SH1.
        let loaded = try platform.eventually {
            try platform.count(#"{"all":[{"tag":"sh_vip"},{"event":"app_login","count":{"op":"gte","value":2},"within":"30d"}]}"#,
                               token: hqOperator) == 1
        }
        let status = try platform.indexStatus()
        XCTAssertNotNil(loaded, "the index did not catch up: \(status)")
    }

    func testEstimatesAreScopedToTheCallersSubtree() throws {
        try loadCustomers()
        let c3 = #"{"attr":"riskLevel","op":"eq","value":"C3"}"#
        let sh = try platform.estimate(c3, token: shOperator).decode(JSONValue.self)
        XCTAssertEqual(sh["count"], 1)
        XCTAssertEqual(sh["sample"]?.strings, ["SH1"])
        XCTAssertNotNil(sh["tookMs"]?.doubleValue)
        XCTAssertEqual(try platform.count(c3, token: hqOperator), 2)
        // Whatever the rule, a branch's estimate never holds another branch's customer.
        for rule in [#"{"attr":"aum","op":"gte","value":0}"#, #"{"not":{"attr":"riskLevel","op":"eq","value":"C9"}}"#,
                     #"{"any":[{"attr":"riskLevel","op":"is_set"},{"attr":"riskLevel","op":"is_not_set"}]}"#] {
            let bj = try platform.estimate(rule, token: bjOperator).decode(JSONValue.self)
            XCTAssertEqual(bj["sample"]?.strings, ["BJ1"], rule)
            let shAll = try platform.estimate(rule, token: shOperator).decode(JSONValue.self)
            XCTAssertEqual(shAll["sample"]?.strings.sorted(), ["SH1", "SH2"], rule)
        }
        // A viewer may read segments but not estimate (the gateway's right for POST is edit).
        XCTAssertEqual(try platform.estimate(c3, token: shViewer).status, 403)
    }

    func testBadRulesAnswer422WithThePathOfTheFault() throws {
        try loadCustomers()
        func fault(_ rule: String, token: String) throws -> (status: Int, code: String?, path: String?, field: String?) {
            let r = try platform.estimate(rule, token: token)
            let body = (try? r.decode(JSONValue.self)) ?? .null
            let error = body["error"]
            return (r.status, error?["code"]?.stringValue, error?["details"]?["path"]?.stringValue,
                    error?["details"]?["field"]?.stringValue)
        }
        let malformed = try fault(#"{"all":[{"attr":"aum","op":"gte","value":1},{"attr":"aum","op":"bogus","value":1}]}"#, token: shOperator)
        XCTAssertEqual(malformed.status, 422)
        XCTAssertEqual(malformed.code, "rule_invalid")
        XCTAssertEqual(malformed.path, "$.rule.all[1].op")
        XCTAssertEqual(malformed.field, "$.rule.all[1].op")
        XCTAssertEqual(try fault(#"{"any":[{"attr":"nosuch","op":"eq","value":1}]}"#, token: shOperator).path, "$.rule.any[0].attr")
        // bj cannot see sh's tag: to bj it does not exist.
        XCTAssertEqual(try fault(#"{"tag":"sh_vip"}"#, token: bjOperator).path, "$.rule.tag")
        XCTAssertEqual(try fault(#"{"tag":"sh_vip"}"#, token: shOperator).status, 200)
        XCTAssertEqual(try fault(#"{"not":{"segment":"seg_nosuch"}}"#, token: shOperator).path, "$.rule.not.segment")
        XCTAssertEqual(try fault(#"{"list":"lst_nosuch"}"#, token: shOperator).path, "$.rule.list")
        let withWhere = try fault(#"{"event":"app_login","where":{"attr":"channel","op":"eq","value":"ios"}}"#, token: shOperator)
        XCTAssertEqual(withWhere.status, 422)
        XCTAssertEqual(withWhere.code, "rule_unsupported")
        XCTAssertEqual(withWhere.path, "$.rule.where")
        // Shape faults are 400 naming the field; never a 500.
        for body in [#"{}"#, #"{"rule":{"attr":"aum"},"extra":1}"#, #"[1,2]"#, #"not json"#] {
            let r = try platform.call("POST", "/api/v1/segments:estimate", token: shOperator, json: body)
            XCTAssertTrue((400..<500).contains(r.status), "\(body): \(r.status) \(r.bodyText)")
            XCTAssertNotNil(try? r.decode(JSONValue.self)["error"]?["code"], body)
        }
    }

    func testEveryEndpointAnswersBadInputWithAClientErrorNamingTheField() throws {
        try loadCustomers()
        let created = try platform.call("POST", "/api/v1/segments", token: shOperator,
                                        json: #"{"name":"ok","rule":{"tag":"sh_vip"}}"#)
        let id = try XCTUnwrap(try created.decode(JSONValue.self)["id"]?.stringValue)
        let cases: [(String, String, String?, Int, String?)] = [
            ("POST", "/api/v1/segments", #"{"rule":{"tag":"sh_vip"}}"#, 400, "name"),
            ("POST", "/api/v1/segments", #"{"name":"x"}"#, 400, "rule"),
            ("POST", "/api/v1/segments", #"{"name":"x","kind":"frozen","rule":{"tag":"sh_vip"}}"#, 400, "kind"),
            ("POST", "/api/v1/segments", #"{"name":"","rule":{"tag":"sh_vip"}}"#, 400, "name"),
            ("POST", "/api/v1/segments", #"{"name":"x","rule":{"tag":"sh_vip"},"owner":"bj"}"#, 400, "owner"),
            ("POST", "/api/v1/segments", #"{"name":"x","rule":{"all":[]}}"#, 422, "$.rule.all"),
            ("PUT", "/api/v1/segments/\(id)", #"{}"#, 400, "$"),
            ("PUT", "/api/v1/segments/\(id)", #"{"kind":"snapshot"}"#, 400, "kind"),
            ("POST", "/api/v1/segments:overlap", #"{"ids":["\#(id)"]}"#, 400, "ids"),
            ("POST", "/api/v1/segments:overlap", #"{"ids":["\#(id)",7]}"#, 400, "ids[1]"),
            ("POST", "/api/v1/segments:overlap", #"{"ids":["\#(id)","seg_nosuch"]}"#, 422, "ids[1]"),
            ("POST", "/api/v1/lists", #"{"name":"l","kind":"white","customerIds":["SH1",3]}"#, 400, "customerIds[1]"),
            ("POST", "/api/v1/lists", #"{"name":"l","kind":"white"}"#, 400, "customerIds"),
            ("GET", "/api/v1/segments/\(id)/members?limit=0", nil, 400, "limit"),
            ("GET", "/api/v1/segments/\(id)/members?cursor=%%%", nil, 400, "cursor"),
            ("GET", "/api/v1/segments?limit=abc", nil, 400, "limit"),
            ("GET", "/api/v1/segments/seg_nosuch", nil, 404, nil),
            ("GET", "/api/v1/segments/..%2F..%2Fetc", nil, 404, nil),
            ("GET", "/api/v1/lists/lst_nosuch", nil, 404, nil),
            ("POST", "/api/v1/segments/seg_nosuch:refresh", nil, 404, nil),
        ]
        for (method, path, body, status, field) in cases {
            let r = try platform.call(method, path, token: shOperator, json: body)
            XCTAssertEqual(r.status, status, "\(method) \(path) \(body ?? ""): \(r.bodyText)")
            let error = (try? r.decode(JSONValue.self))?["error"]
            XCTAssertNotNil(error?["code"], "\(method) \(path): \(r.bodyText)")
            if let field { XCTAssertEqual(error?["details"]?["field"]?.stringValue, field, "\(method) \(path) \(body ?? "")") }
        }
        // A repeated create with the same Idempotency-Key answers the first segment again.
        var request = HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(platform.gatewayPort)/api/v1/segments")
        request.headers.add("authorization", "Bearer \(shOperator)")
        request.headers.add("content-type", "application/json")
        request.headers.add("idempotency-key", "create-once-1")
        request.body = Array(#"{"name":"once","rule":{"tag":"sh_vip"}}"#.utf8)
        let first = try platform.client.send(request), second = try platform.client.send(request)
        XCTAssertEqual(first.status, 201, first.bodyText)
        XCTAssertEqual(second.status, 201, second.bodyText)
        XCTAssertEqual(try first.decode(JSONValue.self)["id"], try second.decode(JSONValue.self)["id"])
    }

    func testDynamicAndSnapshotSegmentsAfterAChange() throws {
        try loadCustomers()
        let c3 = #"{"attr":"riskLevel","op":"eq","value":"C3"}"#
        func create(_ name: String, _ kind: String, _ rule: String, token: String) throws -> String {
            let r = try platform.call("POST", "/api/v1/segments", token: token, json: #"{"name":"\#(name)","kind":"\#(kind)","rule":\#(rule)}"#)
            XCTAssertEqual(r.status, 201, r.bodyText)
            XCTAssertEqual(try r.decode(JSONValue.self)["kind"]?.stringValue, kind)
            return try XCTUnwrap(try r.decode(JSONValue.self)["id"]?.stringValue)
        }
        func count(_ id: String, token: String) throws -> Int? {
            let r = try platform.call("GET", "/api/v1/segments/\(id)", token: token)
            XCTAssertEqual(r.status, 200, r.bodyText)
            return try r.decode(JSONValue.self)["count"]?.doubleValue.map { Int($0) }
        }
        let dynamic = try create("C3 live", "dynamic", c3, token: shOperator)
        let snapshot = try create("C3 frozen", "snapshot", c3, token: shOperator)
        XCTAssertEqual(try count(dynamic, token: shOperator), 1)
        XCTAssertEqual(try count(snapshot, token: shOperator), 1)

        // SH2 becomes C3: the dynamic segment follows within the feed's lag, the snapshot does not.
        let changedAt = Date()
        XCTAssertEqual(try platform.call("PUT", "/api/v1/customers/SH2", token: shOperator, json: #"{"riskLevel":"C3"}"#).status, 200)
        let followed = try platform.eventually { try count(dynamic, token: shOperator) == 2 }
        XCTAssertNotNil(followed)
        XCTAssertLessThan(Date().timeIntervalSince(changedAt), 2.0, "a change took more than 2 s to reach the index")
        XCTAssertEqual(try count(snapshot, token: shOperator), 1)
        let members = try platform.call("GET", "/api/v1/segments/\(dynamic)/members?limit=1", token: shOperator).decode(JSONValue.self)
        guard case .array(let firstPage)? = members["items"] else { return XCTFail("no items: \(members)") }
        XCTAssertEqual(firstPage.map { $0["customerId"]?.stringValue }, ["SH1"])
        let cursor = try XCTUnwrap(members["nextCursor"]?.stringValue)
        let second = try platform.call("GET", "/api/v1/segments/\(dynamic)/members?limit=1&cursor=\(cursor)", token: shOperator)
            .decode(JSONValue.self)
        XCTAssertEqual(second["nextCursor"], .null)
        let csv = try platform.call("GET", "/api/v1/segments/\(dynamic)/members?format=csv", token: shOperator)
        XCTAssertEqual(csv.status, 200)
        XCTAssertEqual(csv.bodyText, "customerId\r\nSH1\r\nSH2\r\n")
        XCTAssertEqual(try platform.call("GET", "/api/v1/segments/\(dynamic)/members?format=xml", token: shOperator).status, 400)
        let overlap = try platform.call("POST", "/api/v1/segments:overlap", token: shOperator,
                                        json: #"{"ids":["\#(dynamic)","\#(snapshot)"]}"#).decode(JSONValue.self)
        XCTAssertEqual(overlap["both"], 1)
        XCTAssertEqual(overlap["either"], 2)
        // Refreshing the snapshot freezes the members of now.
        let refreshed = try platform.call("POST", "/api/v1/segments/\(snapshot):refresh", token: shOperator)
        XCTAssertEqual(refreshed.status, 200, refreshed.bodyText)
        XCTAssertEqual(try count(snapshot, token: shOperator), 2)

        // Another branch neither sees the segments nor can refer to them; head office sees them.
        XCTAssertEqual(try platform.call("GET", "/api/v1/segments/\(dynamic)", token: bjOperator).status, 404)
        XCTAssertFalse(try platform.call("GET", "/api/v1/segments", token: bjOperator).bodyText.contains(dynamic))
        XCTAssertTrue(try platform.call("GET", "/api/v1/segments", token: hqOperator).bodyText.contains(dynamic))
        XCTAssertEqual(try platform.estimate(#"{"segment":"\#(dynamic)"}"#, token: bjOperator).status, 422)
        // hq refers to sh's segment: the members are sh's (its owner's subtree).
        XCTAssertEqual(try platform.count(#"{"segment":"\#(dynamic)"}"#, token: hqOperator), 2)
    }

    func testPortraitDistributesMembersOverAttributesAndTags() throws {
        try loadCustomers()
        let created = try platform.call("POST", "/api/v1/segments", token: shOperator,
                                        json: #"{"name":"everyone","rule":{"attr":"aum","op":"gte","value":0}}"#)
        XCTAssertEqual(created.status, 201, created.bodyText)
        let id = try XCTUnwrap(try created.decode(JSONValue.self)["id"]?.stringValue)
        let r = try platform.call("GET", "/api/v1/segments/\(id)/portrait?attrs=riskLevel,city&tags=sh_vip", token: shViewer)
        XCTAssertEqual(r.status, 200, r.bodyText)
        let portrait = try r.decode(JSONValue.self)
        XCTAssertEqual(portrait["count"], 2)
        XCTAssertEqual(portrait["attributes"], [
            ["attribute": "riskLevel", "values": [["value": "C1", "count": 1], ["value": "C3", "count": 1]], "notSet": 0],
            ["attribute": "city", "values": [], "notSet": 2],
        ])
        XCTAssertEqual(portrait["tags"], [["tag": "sh_vip", "count": 1, "values": []]])
        for (query, status) in [("attrs=phone", 422), ("attrs=nosuch", 422), ("tags=nosuch", 422), ("", 400),
                                ("attrs=" + (0..<30).map { "a\($0)" }.joined(separator: ","), 400)] {
            XCTAssertEqual(try platform.call("GET", "/api/v1/segments/\(id)/portrait?\(query)", token: shViewer).status, status, query)
        }
        XCTAssertEqual(try platform.call("GET", "/api/v1/segments/\(id)/portrait?attrs=riskLevel", token: bjOperator).status, 404)
    }

    func testSegmentsReferringToEachOtherInACycleAreRefused() throws {
        try loadCustomers()
        func create(_ rule: String) throws -> String {
            let r = try platform.call("POST", "/api/v1/segments", token: shOperator, json: #"{"name":"s","rule":\#(rule)}"#)
            XCTAssertEqual(r.status, 201, r.bodyText)
            return try XCTUnwrap(try r.decode(JSONValue.self)["id"]?.stringValue)
        }
        let a = try create(#"{"attr":"riskLevel","op":"eq","value":"C3"}"#)
        let b = try create(#"{"all":[{"segment":"\#(a)"},{"tag":"sh_vip"}]}"#)
        let c = try create(#"{"not":{"segment":"\#(b)"}}"#)
        XCTAssertEqual(try platform.count(#"{"segment":"\#(b)"}"#, token: shOperator), 1)
        XCTAssertEqual(try platform.count(#"{"segment":"\#(c)"}"#, token: shOperator), 1)
        for rule in [#"{"segment":"\#(a)"}"#, #"{"any":[{"tag":"sh_vip"},{"segment":"\#(c)"}]}"#] {
            let r = try platform.call("PUT", "/api/v1/segments/\(a)", token: shOperator, json: #"{"rule":\#(rule)}"#)
            XCTAssertEqual(r.status, 422, r.bodyText)
            XCTAssertEqual(try r.decode(JSONValue.self)["error"]?["code"], "segment_cycle")
        }
        let cycle = try platform.call("PUT", "/api/v1/segments/\(a)", token: shOperator, json: #"{"rule":{"any":[{"tag":"sh_vip"},{"segment":"\#(c)"}]}}"#)
        XCTAssertEqual(try cycle.decode(JSONValue.self)["error"]?["details"]?["path"], "$.rule.any[1].segment")
        // A rule that closes no loop is accepted, and the segments still answer.
        let renamed = try platform.call("PUT", "/api/v1/segments/\(a)", token: shOperator, json: #"{"name":"renamed","rule":{"tag":"sh_vip"}}"#)
        XCTAssertEqual(renamed.status, 200, renamed.bodyText)
        XCTAssertEqual(try platform.count(#"{"segment":"\#(c)"}"#, token: shOperator), 1)
        // Two edits that only together close a loop, at the same time: one of them is refused.
        for _ in 0..<5 {
            let x = try create(#"{"tag":"sh_vip"}"#), y = try create(#"{"tag":"sh_vip"}"#)
            let statuses = Statuses()
            // The platform is used from two threads here only to send requests, which its HTTP client allows.
            nonisolated(unsafe) let platform = self.platform!
            let shOperator = self.shOperator
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                let (id, other) = i == 0 ? (x, y) : (y, x)
                let r = try? platform.call("PUT", "/api/v1/segments/\(id)", token: shOperator, json: #"{"rule":{"segment":"\#(other)"}}"#)
                statuses.add(r?.status ?? 0)
            }
            XCTAssertEqual(statuses.all.sorted(), [200, 422])
        }
    }

    func testRulesOnPersonalAttributesNeedThePiiRight() throws {
        try loadCustomers()
        for (rule, path) in [(#"{"attr":"phone","op":"starts_with","value":"138"}"#, "$.rule.attr"),
                             (#"{"not":{"all":[{"tag":"sh_vip"},{"attr":"name","op":"contains","value":"王"}]}}"#, "$.rule.not.all[1].attr")] {
            let refused = try platform.estimate(rule, token: shOperator)
            XCTAssertEqual(refused.status, 403, refused.bodyText)
            let error = try refused.decode(JSONValue.self)["error"]
            XCTAssertEqual(error?["code"], "pii_required")
            XCTAssertEqual(error?["details"]?["path"]?.stringValue, path)
            XCTAssertEqual(try platform.call("POST", "/api/v1/segments", token: shOperator,
                                             json: #"{"name":"p","rule":\#(rule)}"#).status, 403)
        }
        let user = try platform.call("POST", "/api/v1/users", token: admin, json:
            #"{"username":"sh_pii","password":"password-sh_pii","orgId":"sh","roles":["operator","account_manager"]}"#)
        XCTAssertEqual(user.status, 201, user.bodyText)
        let withPii = try platform.login("sh_pii", "password-sh_pii")
        let allowed = try platform.estimate(#"{"attr":"phone","op":"starts_with","value":"138"}"#, token: withPii)
        XCTAssertEqual(allowed.status, 200, allowed.bodyText)
    }

    func testListsReportUnknownIdsAndTheGlobalBlackListExcludesEveryone() throws {
        try loadCustomers()
        let upload = try platform.call("POST", "/api/v1/lists", token: shOperator,
                                       json: #"{"name":"seed","kind":"white","customerIds":["SH1","BJ1","NOPE","SH1"]}"#)
        XCTAssertEqual(upload.status, 201, upload.bodyText)
        let result = try upload.decode(JSONValue.self)
        XCTAssertEqual(result["accepted"], 1)
        XCTAssertEqual(result["unknownIds"]?.strings, ["BJ1", "NOPE"])
        let list = try XCTUnwrap(result["list"]?["id"]?.stringValue)
        XCTAssertEqual(try platform.count(#"{"list":"\#(list)"}"#, token: shOperator), 1)
        XCTAssertEqual(try platform.estimate(#"{"list":"\#(list)"}"#, token: bjOperator).status, 422)
        XCTAssertEqual(try platform.call("POST", "/api/v1/lists", token: shOperator,
                                         json: #"{"name":"x","kind":"black","global":true,"customerIds":[]}"#).status, 403)
        XCTAssertEqual(try platform.call("POST", "/api/v1/lists", token: shOperator,
                                         json: #"{"name":"x","kind":"grey","customerIds":[]}"#).status, 400)

        let c3 = #"{"attr":"riskLevel","op":"eq","value":"C3"}"#
        XCTAssertEqual(try platform.count(c3, token: hqOperator), 2)
        let blacklist = try platform.call("POST", "/api/v1/lists", token: hqOperator,
                                          json: #"{"name":"do not contact","kind":"black","global":true,"customerIds":["SH1"]}"#)
        XCTAssertEqual(blacklist.status, 201, blacklist.bodyText)
        XCTAssertEqual(try platform.estimate(c3, token: hqOperator).decode(JSONValue.self)["sample"]?.strings, ["BJ1"])
        XCTAssertEqual(try platform.count(#"{"list":"\#(list)"}"#, token: shOperator), 0)
    }

    func testTheIndexReportsItsLagAndFollowsChangesWithinTwoSeconds() throws {
        try loadCustomers()
        let status = try platform.indexStatus()
        XCTAssertEqual(status["ready"], true)
        XCTAssertEqual(status["customers"], 3)
        XCTAssertGreaterThan(status["bytes"]?.doubleValue ?? 0, 0)
        let lag = try XCTUnwrap(status["lagSeconds"]?.doubleValue)
        XCTAssertLessThan(lag, 2.0)
        // Twenty changes in a row are all in the index within 2 s of the last one.
        for i in 0..<20 {
            XCTAssertEqual(try platform.call("PUT", "/api/v1/customers/N\(i)", token: bjOperator, json: #"{"riskLevel":"C5"}"#).status, 201)
        }
        let written = Date()
        XCTAssertNotNil(try platform.eventually { try platform.count(#"{"attr":"riskLevel","op":"eq","value":"C5"}"#, token: bjOperator) == 20 })
        XCTAssertLessThan(Date().timeIntervalSince(written), 2.0)
        let health = try platform.client.send(HTTPClientRequest(method: "GET", url: "http://127.0.0.1:\(platform.segmentPort)/healthz"))
        XCTAssertEqual(try health.decode(JSONValue.self)["indexReady"], true)

        // A replica started now loads everyone from the snapshot (attributes, tags, event aggregates).
        let late = try platform.startSegmentReplica()
        let hq = CallerIdentity(userId: "u", orgId: "hq", orgPath: "/hq/", roles: ["operator"], rights: ["view", "edit"])
        let rule = #"{"all":[{"tag":"sh_vip"},{"event":"app_login","count":{"op":"gte","value":2},"within":"30d"},{"attr":"aum","op":"gt","value":500000}]}"#
        XCTAssertNotNil(platform.eventually { (try? platform.count(rule, onReplica: late, as: hq)) == 1 })
        XCTAssertEqual(try platform.indexStatus(port: late)["customers"], 23)
        XCTAssertEqual(try platform.count(#"{"attr":"riskLevel","op":"eq","value":"C5"}"#, onReplica: late, as: hq), 20)
    }
}

/// Statuses collected from concurrent calls. Thread-safety: guarded by `lock`.
private final class Statuses: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []
    func add(_ status: Int) { lock.lock(); items.append(status); lock.unlock() }
    var all: [Int] { lock.lock(); defer { lock.unlock() }; return items }
}
