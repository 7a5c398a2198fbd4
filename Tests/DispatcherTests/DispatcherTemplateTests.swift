import Contracts
import Foundation
import HTTP
import XCTest

/// Providers, templates and policies through the gateway: validation naming the field, the compliance
/// review on create and edit, four-eyes approval, head-office-only settings.
final class DispatcherTemplateTests: XCTestCase {
    var platform: DispatcherPlatform!
    var bank: DispatcherBank!

    override func setUpWithError() throws {
        platform = try DispatcherPlatform()
        bank = try DispatcherBank(platform: platform)
    }

    override func tearDown() { platform?.stop() }

    func fieldOf(_ answer: JSONValue) -> String? { answer["error"]?["details"]?["field"]?.stringValue }

    func testProvidersAreValidatedAndListedWithoutTheirSecrets() throws {
        let op = bank.hqOperator
        for (body, field) in [
            (#"{"channel":"fax","name":"x","endpoint":"http://a","ratePerSecond":1}"#, "channel"),
            (#"{"channel":"sms","name":"x","endpoint":"ftp://a","ratePerSecond":1}"#, "endpoint"),
            (#"{"channel":"sms","name":"x","endpoint":"http://a","ratePerSecond":0}"#, "ratePerSecond"),
            (#"{"channel":"sms","name":"x","endpoint":"http://a"}"#, "ratePerSecond"),
            (#"{"channel":"inbox","name":"x","endpoint":"http://a","ratePerSecond":1}"#, "channel"),
            (#"{"channel":"sms","name":"x","endpoint":"http://a","ratePerSecond":1,"extra":1}"#, "extra"),
            (#"[1,2]"#, "$"),
        ] {
            let r = try platform.call("POST", "/api/v1/providers", token: op, json: body)
            XCTAssertEqual(r.status, 400, body + " → " + r.bodyText)
            XCTAssertEqual(fieldOf(try r.decode(JSONValue.self)), field, body)
        }
        XCTAssertEqual(try platform.call("POST", "/api/v1/providers", token: op, json: "{not json").status, 400)
        // The same name twice for a channel: 409. A branch cannot configure providers: 403.
        XCTAssertEqual(try platform.call("POST", "/api/v1/providers", token: op,
                                         json: #"{"channel":"sms","name":"sim-sms","endpoint":"http://a","ratePerSecond":1}"#).status, 409)
        XCTAssertEqual(try platform.call("POST", "/api/v1/providers", token: bank.shOperator,
                                         json: #"{"channel":"email","name":"e","endpoint":"http://a","ratePerSecond":1}"#).status, 403)
        let list = try platform.json("GET", "/api/v1/providers", token: bank.shOperator, expect: 200)
        XCTAssertEqual(list.items.count, 2)
        XCTAssertFalse("\(list)".contains("receiptSecret"))
        XCTAssertFalse("\(list)".contains("sim-token"))
        XCTAssertEqual(list.items.first?["hasCredentials"], .bool(true))
    }

    func testTheComplianceReviewRefusesAndNamesTheOffendingWords() throws {
        let op = bank.hqOperator
        let banned = try platform.json("POST", "/api/v1/templates", token: op, .object([
            "channel": .string("push"), "name": .string("p"), "body": .string("稳赚不赔的理财，零风险！"), "kind": .string("marketing"),
        ]), expect: 422)
        XCTAssertEqual(banned["error"]?["code"]?.stringValue, "template_noncompliant")
        XCTAssertEqual(Set((banned["error"]?["details"]?["bannedWords"]).map { v -> [String] in
            if case .array(let a) = v { return a.compactMap(\.stringValue) }; return [] } ?? []), ["稳赚", "稳赚不赔", "零风险"])
        XCTAssertTrue(banned["error"]?["message"]?.stringValue?.contains("稳赚不赔") ?? false)
        _ = try platform.json("POST", "/api/v1/templates", token: op, .object([
            "channel": .string("sms"), "name": .string("s"), "body": .string("您好，新品上线"), "kind": .string("marketing"),
        ]), expect: 422)
        _ = try platform.json("POST", "/api/v1/templates", token: op, .object([
            "channel": .string("push"), "name": .string("f"), "body": .string("R4 基金热销"), "kind": .string("marketing"), "productRiskLevel": .string("R4"),
        ]), expect: 422)
        // A bank adds its own banned claim; a template with it is refused from then on.
        _ = try platform.json("PUT", "/api/v1/policies", token: op, .object(["bannedClaims": .array([.string("包赚")])]), expect: 200)
        let own = try platform.json("POST", "/api/v1/templates", token: op, .object([
            "channel": .string("push"), "name": .string("o"), "body": .string("包赚不亏"), "kind": .string("marketing"),
        ]), expect: 422)
        XCTAssertTrue("\(own)".contains("包赚"))
        // Bad input names its field.
        let bad = try platform.json("POST", "/api/v1/templates", token: op, .object([
            "channel": .string("push"), "name": .string("b"), "body": .string("{{name"), "kind": .string("marketing"),
        ]), expect: 422)
        XCTAssertEqual(fieldOf(bad), "body")
        XCTAssertEqual(fieldOf(try platform.json("POST", "/api/v1/templates", token: op, .object([
            "channel": .string("push"), "name": .string("b"), "body": .string("x"), "kind": .string("spam"),
        ]), expect: 400)), "kind")
    }

    func testATemplateIsUsableOnlyAfterApprovalByAnotherPersonAndAnEditNeedsApprovalAgain() throws {
        try bank.customer("C1")
        let op = bank.hqOperator
        let created = try platform.json("POST", "/api/v1/templates", token: op, .object([
            "channel": .string("push"), "name": .string("welcome"), "body": .string("{{name}}，欢迎使用手机银行"), "kind": .string("marketing"),
        ]), expect: 201)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        XCTAssertEqual(created["status"]?.stringValue, "pending")
        XCTAssertEqual(created["variables"], .array([.string("name")]))
        let refused = try bank.send(["customerId": .string("C1"), "templateId": .string(id), "key": .string("k-pending")], expect: 422)
        XCTAssertEqual(refused["error"]?["code"]?.stringValue, "template_not_approved")
        // An operator cannot approve (gateway: publish right); an approver of a branch does not see hq's
        // template as its own to approve; an approver who wrote it cannot approve it.
        XCTAssertEqual(try platform.call("POST", "/api/v1/templates/\(id):approve", token: op).status, 403)
        let approved = try platform.json("POST", "/api/v1/templates/\(id):approve", token: bank.hqApprover, expect: 200)
        XCTAssertEqual(approved["approvedBy"]?.stringValue?.isEmpty, false)
        _ = try bank.send(["customerId": .string("C1"), "templateId": .string(id), "key": .string("k-approved")])
        // An edit is reviewed again and returns the template to pending.
        _ = try platform.json("PUT", "/api/v1/templates/\(id)", token: op, .object(["body": .string("保本理财")]), expect: 422)
        let edited = try platform.json("PUT", "/api/v1/templates/\(id)", token: op, .object(["body": .string("{{name}}，新功能上线")]), expect: 200)
        XCTAssertEqual(edited["status"]?.stringValue, "pending")
        XCTAssertEqual(edited["version"]?.doubleValue, 2)
        _ = try bank.send(["customerId": .string("C1"), "templateId": .string(id), "key": .string("k-edited")], expect: 422)
        // A stale version is refused.
        _ = try platform.json("PUT", "/api/v1/templates/\(id)", token: op, .object(["name": .string("x"), "version": .number(1)]), expect: 409)
        // Four eyes: someone holding both roles cannot approve their own template.
        XCTAssertEqual(try platform.call("POST", "/api/v1/users", token: bank.admin,
                                         json: #"{"username":"hq_both","password":"password-hq_both","orgId":"hq","roles":["operator","approver"]}"#).status, 201)
        let both = try platform.login("hq_both", "password-hq_both")
        let mine = try platform.json("POST", "/api/v1/templates", token: both, .object([
            "channel": .string("push"), "name": .string("mine"), "body": .string("通知"), "kind": .string("transactional"),
        ]), expect: 201)
        let selfApproval = try platform.json("POST", "/api/v1/templates/\(mine["id"]?.stringValue ?? ""):approve", token: both, expect: 422)
        XCTAssertEqual(selfApproval["error"]?["code"]?.stringValue, "template_self_approval")
        XCTAssertEqual(try platform.call("GET", "/api/v1/templates/tpl_doesnotexist", token: op).status, 404)
        XCTAssertEqual(try platform.call("GET", "/api/v1/templates/../../x", token: op).status / 100, 4)
    }

    func testPoliciesAreValidatedVersionedAndHeadOfficeOnly() throws {
        let op = bank.hqOperator
        let current = try platform.json("GET", "/api/v1/policies", token: bank.shOperator, expect: 200)
        XCTAssertEqual(current["smsSignature"]?.stringValue, "【Lattice银行】")
        XCTAssertEqual(current["quietHours"], .object([:]))
        let version = try XCTUnwrap(current["version"]?.doubleValue)
        for (body, field) in [
            (#"{"quietHours":{"sms":{"start":"25:00","end":"08:00"}}}"#, "quietHours.sms.start"),
            (#"{"quietHours":{"fax":{"start":"21:00","end":"08:00"}}}"#, "quietHours.fax"),
            (#"{"channelCaps":{"sms":{"day":5,"week":2}}}"#, "channelCaps.sms.week"),
            (#"{"overallCap":{"day":-1}}"#, "overallCap.day"),
            (#"{"smsSignature":"Lattice"}"#, "smsSignature"),
            (#"{"optOutInstructions":[]}"#, "optOutInstructions"),
            (#"{"blacklist":[1]}"#, "blacklist[0]"),
            (#"{"nonsense":true}"#, "nonsense"),
        ] {
            let r = try platform.call("PUT", "/api/v1/policies", token: op, json: body)
            XCTAssertEqual(r.status, 400, body + " → " + r.bodyText)
            XCTAssertEqual(fieldOf(try r.decode(JSONValue.self)), field, body)
        }
        XCTAssertEqual(try platform.call("PUT", "/api/v1/policies", token: bank.shOperator, json: #"{"overallCap":{"day":1}}"#).status, 403)
        let updated = try platform.json("PUT", "/api/v1/policies", token: op, .object([
            "overallCap": .object(["day": .number(9)]), "blacklist": .array([.string("B1"), .string("B2")]), "version": .number(version),
        ]), expect: 200)
        XCTAssertEqual(updated["overallCap"]?["day"]?.doubleValue, 9)
        XCTAssertEqual(updated["blacklist"], .array([.string("B1"), .string("B2")]))
        XCTAssertEqual(updated["smsSignature"]?.stringValue, "【Lattice银行】", "members not given keep their values")
        // The same version again: someone changed it meanwhile.
        _ = try platform.json("PUT", "/api/v1/policies", token: op, .object(["overallCap": .object(["day": .number(1)]), "version": .number(version)]),
                              expect: 409)
        XCTAssertEqual(try platform.json("GET", "/api/v1/policies", token: op, expect: 200)["overallCap"]?["day"]?.doubleValue, 9)
    }
}
