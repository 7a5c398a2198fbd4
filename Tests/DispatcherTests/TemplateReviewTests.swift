import Contracts
@testable import Dispatcher
import Foundation
import XCTest

/// The compliance review and the rendering of templates, in memory.
final class TemplateReviewTests: XCTestCase {
    func input(_ channel: String, _ body: String, kind: String = "marketing", risk: String? = nil) throws -> TemplateInput {
        var o: [String: JSONValue] = ["channel": .string(channel), "name": .string("n"), "body": .string(body), "kind": .string(kind)]
        if let risk { o["productRiskLevel"] = .string(risk) }
        return try TemplateInput(body: .object(o))
    }

    func refusal(_ input: TemplateInput) -> APIError? {
        do { try ComplianceReview.check(input, policy: .defaults); return nil } catch let e as APIError { return e } catch { return nil }
    }

    func testBannedClaimsAreRefusedNamingTheWords() throws {
        let e = try XCTUnwrap(refusal(try input("push", "本产品保本保收益，稳赚不赔！")))
        XCTAssertEqual(e.status, 422)
        XCTAssertEqual(e.code, "template_noncompliant")
        let words = e.details?["bannedWords"].map { v -> [String] in if case .array(let a) = v { return a.compactMap(\.stringValue) }; return [] } ?? []
        XCTAssertEqual(Set(words), ["保本", "保收益", "稳赚", "稳赚不赔"])
        // Full-width characters and spaces do not hide a claim.
        XCTAssertNotNil(refusal(try input("push", "年化１００％收益")))
        XCTAssertNotNil(refusal(try input("push", "零 风 险")))
        XCTAssertNil(refusal(try input("push", "{{name}}您好，新品上线")))
    }

    func testSMSNeedsTheSignatureAndAnOptOutAndInvestmentsARiskWarning() throws {
        let noSignature = try XCTUnwrap(refusal(try input("sms", "您好，新品上线，回T退订")))
        XCTAssertTrue("\(noSignature.details ?? .null)".contains("sms_signature"))
        let noOptOut = try XCTUnwrap(refusal(try input("sms", "【Lattice银行】您好，新品上线")))
        XCTAssertTrue("\(noOptOut.details ?? .null)".contains("sms_opt_out"))
        XCTAssertNil(refusal(try input("sms", "【Lattice银行】您好，新品上线，回T退订")))
        let noWarning = try XCTUnwrap(refusal(try input("push", "稳健型基金热销中", risk: "R2")))
        XCTAssertTrue("\(noWarning.details ?? .null)".contains("risk_warning"))
        XCTAssertNil(refusal(try input("push", "稳健型基金热销中。投资有风险，入市需谨慎", risk: "R2")))
        // A variable cannot smuggle the opt-out in: only the fixed text counts.
        XCTAssertNotNil(refusal(try input("sms", "【Lattice银行】您好 {{optout}}")))
    }

    func testRenderingEscapesValuesForTheChannel() throws {
        let contact = CustomerContact(customerId: "c1", exists: true, orgId: "sh", orgPath: "/hq/sh/", marketingOptOut: false, consents: [:],
                                      riskLevel: "C3", attributes: ["name": .string("<b>李四</b>【假银行】\u{0007}")])
        let renderer = TemplateRenderer(publicURL: "https://bank.example")
        func template(_ channel: Channel, _ body: String) -> (Channel, String) { (channel, body) }
        func render(_ t: (Channel, String), variables: [String: String], contact: CustomerContact, field: String) throws -> TemplateRenderer.Rendered {
            try renderer.render(channel: t.0, title: nil, body: t.1, variables: variables, contact: contact, field: field)
        }
        let sms = try render(template(.sms, "【Lattice银行】{{name}}您好 {{link:https://bank.example/a}} 回T退订"), variables: [:],
                                      contact: contact, field: "variables")
        XCTAssertTrue(sms.body.hasPrefix("【Lattice银行】<b>李四</b>[假银行]您好 https://bank.example/t/"), sms.body)
        XCTAssertEqual(sms.links.count, 1)
        let email = try render(template(.email, "<p>{{name}}</p>"), variables: [:], contact: contact, field: "variables")
        XCTAssertEqual(email.body, "<p>&lt;b&gt;李四&lt;/b&gt;【假银行】</p>")
        XCTAssertThrowsError(try render(template(.push, "{{coupon}}"), variables: [:], contact: contact, field: "variables")) {
            XCTAssertEqual(($0 as? APIError)?.code, "template_variable_missing")
        }
        XCTAssertEqual(try render(template(.push, "券码 {{coupon}}"), variables: ["coupon": "X1"], contact: contact, field: "v").body, "券码 X1")
        XCTAssertThrowsError(try TemplateText.parse("{{name"))
        XCTAssertThrowsError(try TemplateText.parse("{{link:javascript:alert(1)}}"))
    }
}
