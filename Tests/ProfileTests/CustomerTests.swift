import Contracts
import Foundation
import HTTP
@testable import Profile
import ServiceKit
import TestSupport
import XCTest

/// Customers through the profile service's real router: upsert with merge semantics, validation
/// naming the field, consents with evidence, phone masking, search, and the org scope.
final class CustomerTests: XCTestCase {
    var harness: ProfileHarness!

    override func setUpWithError() throws { harness = try ProfileHarness() }
    override func tearDown() { harness = nil }

    func put(_ id: String, _ json: String, as caller: CallerIdentity = ProfileHarness.hqAdmin) throws -> TestResponse {
        try harness.call(.PUT, "/api/v1/customers/\(id)", as: caller, json: json)
    }

    func testUpsertCreatesThenMergesAndClears() throws {
        let created = try put("C1", #"{"orgId":"sh","name":"王芳","phone":"13812345678","aum":500000.01,"riskLevel":"C3","birthDate":"1990-02-28"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(created.json["orgPath"], "/hq/sh/")
        XCTAssertEqual(created.json["aum"], 500000.01)
        XCTAssertEqual(created.json["version"], 1)

        let changed = try put("C1", #"{"city":"上海","name":null}"#)
        XCTAssertEqual(changed.status, 200, changed.text)
        XCTAssertEqual(changed.json["city"], "上海")
        XCTAssertNil(changed.json["name"])                   // null clears (and a cleared field is left out)
        XCTAssertEqual(changed.json["riskLevel"], "C3")      // absent keeps
        XCTAssertEqual(changed.json["birthDate"], "1990-02-28")
        XCTAssertEqual(changed.json["version"], 2)
        // Money is exact: stored as numeric, not a binary float.
        let stored = try harness.pool.query("SELECT aum::text AS a FROM customers WHERE id = 'C1'")[0].decode("a", as: String.self)
        XCTAssertEqual(stored, "500000.01")
    }

    func testDecimalsAreReadAsCanonicalTextWithinTheirBounds() {
        let canonical: [(String, String, Int)] = [
            ("500000.01", "500000.01", 2), ("007.50", "7.5", 1), ("-0.0", "0", 0), (".5", "0.5", 1), ("5.", "5", 0),
            ("1.500", "1.5", 1), ("-3.25", "-3.25", 2), ("123456789012345678.123456", "123456789012345678.123456", 6),
        ]
        for (input, text, fraction) in canonical {
            XCTAssertEqual(DecimalText(input)?.text, text, input)
            XCTAssertEqual(DecimalText(input)?.fractionDigits, fraction, input)
        }
        XCTAssertEqual(DecimalText("-3.25")?.isNegative, true)
        XCTAssertEqual(DecimalText("-0")?.isNegative, false)
        for refused in ["", "-", ".", "-.", "1e5", "1.2.3", " 1", "1,5", "+1", "1234567890123456789", "0.1234567", "１２"] {
            XCTAssertNil(DecimalText(refused), refused)
        }
        XCTAssertEqual("  a b\t".trimmingSpaces(), "a b")
        XCTAssertEqual("\u{3000}客户\u{00A0}".trimmingSpaces(), "客户")
        XCTAssertEqual(" \t ".trimmingSpaces(), "")
        XCTAssertEqual("plain".trimmingSpaces(), "plain")
    }

    func testValidationNamesTheField() throws {
        let cases: [(String, String, String)] = [
            (#"{"aum":"lots"}"#, "aum", "attribute_invalid"),
            (#"{"aum":-1}"#, "aum", "attribute_invalid"),
            (#"{"aum":1.234}"#, "aum", "attribute_invalid"),
            (#"{"phone":"12ab"}"#, "phone", "attribute_invalid"),
            (#"{"riskLevel":"C9"}"#, "riskLevel", "attribute_invalid"),
            (#"{"birthDate":"2023-02-30"}"#, "birthDate", "attribute_invalid"),
            (#"{"registeredAt":"yesterday"}"#, "registeredAt", "attribute_invalid"),
            (#"{"nickname":"x"}"#, "nickname", "attribute_unknown"),
            (#"{"attributes":{"nickname":"x"}}"#, "attributes.nickname", "attribute_unknown"),
            (#"{"consents":{"fax":true}}"#, "consents.fax", "consent_invalid"),
            (#"{"consents":{"sms":{"granted":"yes"}}}"#, "consents.sms.granted", "consent_invalid"),
            (#"{"orgId":null}"#, "orgId", "attribute_invalid"),
            (#"{"orgId":"nowhere"}"#, "orgId", "org_out_of_scope"),
        ]
        for (body, field, code) in cases {
            let r = try put("C2", body)
            XCTAssertEqual(r.status, 422, "\(body): \(r.text)")
            XCTAssertEqual(r.json["error"]?["code"], .string(code), body)
            XCTAssertEqual(r.json["error"]?["details"]?["field"], .string(field), body)
        }
        XCTAssertEqual(try put("C2", "{not json").status, 400)
        XCTAssertEqual(try put("bad id!", "{}").status, 400)
        // Nothing was half-written by the refused requests.
        XCTAssertEqual(try harness.pool.query("SELECT count(*) AS n FROM customers")[0].decode("n", as: Int.self), 0)
    }

    func testCustomAttributesAreTypedByTheCatalog() throws {
        let defined = try harness.call(.POST, "/api/v1/attributes", as: ProfileHarness.hqAdmin,
                                       json: #"{"code":"vipLevel","name":"贵宾等级","type":"enum","values":["金卡","白金"]}"#)
        XCTAssertEqual(defined.status, 201, defined.text)
        XCTAssertEqual(try harness.call(.POST, "/api/v1/attributes", as: ProfileHarness.hqAdmin,
                                        json: #"{"code":"vipLevel","name":"x","type":"string"}"#).status, 409)
        XCTAssertEqual(try harness.call(.POST, "/api/v1/attributes", as: ProfileHarness.hqAdmin,
                                        json: #"{"code":"aum","name":"x","type":"string"}"#).status, 409)
        XCTAssertEqual(try harness.call(.POST, "/api/v1/attributes", as: ProfileHarness.hqAdmin,
                                        json: #"{"code":"x","name":"x","type":"money"}"#).json["error"]?["details"]?["field"], "type")
        XCTAssertEqual(try harness.call(.POST, "/api/v1/attributes", as: ProfileHarness.hqAdmin,
                                        json: #"{"code":"loyalty","name":"积分等级","type":"int"}"#).status, 201)

        let ok = try put("C3", #"{"orgId":"sh","vipLevel":"金卡","attributes":{"loyalty":"7"}}"#)
        XCTAssertEqual(ok.status, 201, ok.text)
        XCTAssertEqual(ok.json["attributes"]?["vipLevel"], "金卡")
        XCTAssertEqual(ok.json["attributes"]?["loyalty"], 7)
        let bad = try put("C3", #"{"vipLevel":"铜卡"}"#)
        XCTAssertEqual(bad.status, 422)
        XCTAssertEqual(bad.json["error"]?["details"]?["field"], "vipLevel")
        let removed = try put("C3", #"{"attributes":{"loyalty":null}}"#)
        XCTAssertEqual(removed.json["attributes"]?["loyalty"], nil)
        XCTAssertEqual(removed.json["attributes"]?["vipLevel"], "金卡")

        let list = try harness.call(.GET, "/api/v1/attributes", as: ProfileHarness.shViewer)
        guard case .array(let items)? = list.json["items"] else { return XCTFail(list.text) }
        XCTAssertEqual(items.count, CustomerField.allCases.count + 2)
    }

    func testConsentsKeepEvidenceAndTheOptOut() throws {
        XCTAssertEqual(try put("C4", #"{"orgId":"sh","consents":{"sms":true,"push":{"granted":true,"source":"app"}},"consentSource":"counter"}"#).status, 201)
        XCTAssertEqual(try put("C4", #"{"consents":{"sms":true}}"#).status, 200)       // the same answer: no new evidence
        let out = try put("C4", #"{"marketingOptOut":true,"consents":{"sms":false}}"#)
        XCTAssertEqual(out.json["marketingOptOut"], true)
        XCTAssertEqual(out.json["consents"]?["sms"]?["granted"], false)
        XCTAssertEqual(out.json["consents"]?["push"]?["source"], "app")
        let evidence = try harness.pool.query("SELECT channel, granted, source, recorded_by FROM consent_evidence ORDER BY id")
        XCTAssertEqual(try evidence.map { "\(try $0.decode("channel", as: String.self))=\(try $0.decode("granted", as: Bool.self))" },
                       ["push=true", "sms=true", "sms=false", "marketing=false"])
        XCTAssertEqual(try evidence[1].decode("source", as: String.self), "counter")
        XCTAssertEqual(try evidence[0].decode("recorded_by", as: String.self), "u_hq")
        XCTAssertThrowsError(try harness.pool.execute("DELETE FROM consent_evidence"))   // append-only
    }

    func testPhoneIsMaskedWithoutThePIIRight() throws {
        XCTAssertEqual(try put("C5", #"{"orgId":"sh","phone":"13812345678"}"#).status, 201)
        XCTAssertEqual(try harness.call(.GET, "/api/v1/customers/C5", as: ProfileHarness.hqAdmin).json["phone"], "13812345678")
        XCTAssertEqual(try harness.call(.GET, "/api/v1/customers/C5", as: ProfileHarness.shViewer).json["phone"], "138****5678")
        let list = try harness.call(.GET, "/api/v1/customers?phone=5678", as: ProfileHarness.shOperator)
        XCTAssertEqual(list.json["items"]?.arrayFirst?["phone"], "138****5678")
        XCTAssertEqual(PhoneMask.mask("+8613812345678"), "+86*******5678")
    }

    func testSearchAndTheOrgScope() throws {
        XCTAssertEqual(try put("S1", #"{"orgId":"sh","name":"王芳","phone":"13800000001"}"#).status, 201)
        XCTAssertEqual(try put("S2", #"{"orgId":"sh_pd","name":"王强","phone":"13800000002"}"#).status, 201)
        XCTAssertEqual(try put("B1", #"{"orgId":"bj","name":"王磊","phone":"13800000003"}"#).status, 201)

        func ids(_ query: String, _ caller: CallerIdentity) throws -> [String] {
            let r = try harness.call(.GET, "/api/v1/customers\(query)", as: caller)
            XCTAssertEqual(r.status, 200, r.text)
            guard case .array(let items)? = r.json["items"] else { return [] }
            return items.compactMap { $0["id"]?.stringValue }
        }
        XCTAssertEqual(try ids("?name=王", ProfileHarness.hqAdmin), ["B1", "S1", "S2"])
        XCTAssertEqual(try ids("?name=王", ProfileHarness.shOperator), ["S1", "S2"])
        XCTAssertEqual(try ids("?name=王", ProfileHarness.pdOperator), ["S2"])
        XCTAssertEqual(try ids("?query=0003", ProfileHarness.hqAdmin), ["B1"])
        XCTAssertEqual(try ids("?query=S1", ProfileHarness.hqAdmin), ["S1"])
        XCTAssertEqual(try ids("?orgId=sh_pd", ProfileHarness.hqAdmin), ["S2"])
        XCTAssertEqual(try ids("?name=%25", ProfileHarness.hqAdmin), [])      // LIKE wildcards match literally
        XCTAssertEqual(try ids("?limit=2", ProfileHarness.hqAdmin), ["B1", "S1"])
        let next = try harness.call(.GET, "/api/v1/customers?limit=2", as: ProfileHarness.hqAdmin).json["nextCursor"]?.stringValue
        XCTAssertEqual(try ids("?limit=2&cursor=\(try XCTUnwrap(next))", ProfileHarness.hqAdmin), ["S2"])
        XCTAssertEqual(try harness.call(.GET, "/api/v1/customers?orgId=bj", as: ProfileHarness.shOperator).status, 422)
        XCTAssertEqual(try harness.call(.GET, "/api/v1/customers?phone=12", as: ProfileHarness.shOperator).status, 400)

        // Branch isolation: read, change and move are all refused without revealing data.
        let read = try harness.call(.GET, "/api/v1/customers/B1", as: ProfileHarness.shOperator)
        XCTAssertEqual(read.status, 404)
        XCTAssertFalse(read.text.contains("王磊"))
        XCTAssertEqual(try put("B1", #"{"name":"x"}"#, as: ProfileHarness.shOperator).status, 404)
        XCTAssertEqual(try put("S9", #"{"orgId":"bj"}"#, as: ProfileHarness.shOperator).status, 422)
        XCTAssertEqual(try harness.call(.GET, "/api/v1/customers/B1", as: ProfileHarness.hqAdmin).json["name"], "王磊")
        // A customer created without orgId belongs to the caller's unit.
        XCTAssertEqual(try put("S3", #"{"name":"李娜"}"#, as: ProfileHarness.pdOperator).json["orgId"], "sh_pd")
    }

    func testTheViewListsServicesItCouldNotReach() throws {
        XCTAssertEqual(try put("V1", #"{"orgId":"sh"}"#).status, 201)
        let started = Date()
        let view = try harness.call(.GET, "/api/v1/customers/V1", as: ProfileHarness.shOperator)
        XCTAssertEqual(view.status, 200, view.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        XCTAssertEqual(view.json["unavailable"], ["canvas", "dispatcher", "rewards"])
        XCTAssertEqual(view.json["journeys"], .null)
        XCTAssertEqual(view.json["recentEvents"], [])
        XCTAssertEqual(view.json["id"], "V1")
    }

    /// One service answers, one is too slow, one is down: the view carries the part that came and names
    /// the two it lacks. The stand-ins answer the internal contract of services not built yet; the
    /// profile service calls them over real HTTP.
    func testTheViewGathersWhatAnswersAndNamesWhatDidNot() throws {
        let router = Router()
        router.get("/internal/v1/customers/{id}/journeys") { request, context in
            // The caller's identity and the request id reach the other service.
            XCTAssertEqual(request.headers[InternalHeader.orgPath], "/hq/sh/")
            let id = try context.parameters.require("id")
            return Response(status: 200, headers: ["content-type": "application/json"],
                            body: .bytes(Array(#"[{"canvasId":"cv_1","customerId":"\#(id)","status":"active"}]"#.utf8)))
        }
        router.get("/internal/v1/customers/{id}/rewards") { _, _ in
            Thread.sleep(forTimeInterval: 3)   // past the view's deadline
            return Response(status: 200, headers: ["content-type": "application/json"], body: .bytes(Array("[]".utf8)))
        }
        var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        config.eventLoops = 1
        config.workers = 4
        let standIn = HTTPServer(configuration: config, router: router, log: { _ in })
        try standIn.start()
        defer { standIn.shutdown() }
        harness = nil
        harness = try ProfileHarness(environment: ["LATTICE_SERVICE_CANVAS": "http://127.0.0.1:\(standIn.port)",
                                                   "LATTICE_SERVICE_REWARDS": "http://127.0.0.1:\(standIn.port)"])
        XCTAssertEqual(try put("V2", #"{"orgId":"sh"}"#).status, 201)
        let started = Date()
        let view = try harness.call(.GET, "/api/v1/customers/V2", as: ProfileHarness.shOperator)
        XCTAssertEqual(view.status, 200, view.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2.5)
        XCTAssertEqual(view.json["journeys"], [["canvasId": "cv_1", "customerId": "V2", "status": "active"]])
        XCTAssertEqual(view.json["rewards"], .null)
        XCTAssertEqual(view.json["messages"], .null)
        XCTAssertEqual(view.json["unavailable"], ["dispatcher", "rewards"])
    }

    func testRequestsWithoutTheInternalCredentialAreRefused() throws {
        let r = harness.client.execute(.GET, "/api/v1/customers", headers: HTTPHeaders())
        XCTAssertEqual(r.status, 401)
    }
}

extension JSONValue {
    var arrayFirst: JSONValue? { if case .array(let a) = self { return a.first }; return nil }
}

/// Creates of the profile service replay their first answer for a repeated Idempotency-Key.
final class ProfileIdempotencyTests: XCTestCase {
    func testARepeatedCreateReplaysAndAReusedKeyIsRefused() throws {
        let harness = try ProfileHarness()
        func post(_ path: String, _ json: String, key: String) throws -> TestResponse {
            var headers = ProfileHarness.headers(for: ProfileHarness.hqAdmin)
            headers.set("content-type", "application/json")
            headers.set("idempotency-key", key)
            return harness.client.execute(.POST, path, headers: headers, body: Array(json.utf8))
        }
        let body = #"{"code":"segmentNote","name":"备注","type":"string"}"#
        let first = try post("/api/v1/attributes", body, key: "k-1")
        XCTAssertEqual(first.status, 201, first.text)
        let again = try post("/api/v1/attributes", body, key: "k-1")
        XCTAssertEqual(again.status, 201, again.text)
        XCTAssertEqual(again.headers.first("idempotent-replay"), "true")
        XCTAssertEqual(again.json["code"], "segmentNote")
        XCTAssertEqual(try post("/api/v1/attributes", #"{"code":"other","name":"x","type":"string"}"#, key: "k-1").status, 422)
        XCTAssertEqual(try post("/api/v1/attributes", body, key: "k-2").status, 409)   // a new key: a real second create
        let tag = #"{"code":"vip","name":"贵宾","kind":"manual"}"#
        XCTAssertEqual(try post("/api/v1/tags", tag, key: "t-1").status, 201)
        XCTAssertEqual(try post("/api/v1/tags", tag, key: "t-1").headers.first("idempotent-replay"), "true")
    }
}
