import Contracts
import Foundation
import HTTP
import XCTest

/// A small bank on a `DispatcherPlatform`: head office and 上海分行, an operator and an approver at
/// head office, an operator in sh; providers for sms and push at the simulator (receipts posted back
/// through the gateway); quiet hours off unless a test sets them; customers with chosen consents.
final class DispatcherBank {
    let platform: DispatcherPlatform
    let admin: String
    let hqOperator: String
    let hqApprover: String
    let shOperator: String
    var providers: [String: (id: String, secret: String)] = [:]

    /// `batchSize`: the providers' batch submission size (1: one message a request).
    init(platform: DispatcherPlatform, quietHoursOff: Bool = true, batchSize: Int = 1) throws {
        self.platform = platform
        admin = try platform.login("admin", DispatcherPlatform.adminPassword)
        XCTAssertEqual(try platform.call("POST", "/api/v1/orgs", token: admin,
                                         json: #"{"id":"sh","parentId":"hq","kind":"branch","name":"上海分行"}"#).status, 201)
        hqOperator = try platform.user(admin, "hq_op", org: "hq", role: "operator")
        hqApprover = try platform.user(admin, "hq_ap", org: "hq", role: "approver")
        shOperator = try platform.user(admin, "sh_op", org: "sh", role: "operator")
        if quietHoursOff {
            _ = try platform.json("PUT", "/api/v1/policies", token: hqOperator, .object(["quietHours": .object([:])]), expect: 200)
        }
        for channel in ["sms", "push"] {
            let p = try platform.json("POST", "/api/v1/providers", token: hqOperator, .object([
                "channel": .string(channel), "name": .string("sim-\(channel)"), "endpoint": .string(platform.simulatorURL),
                "ratePerSecond": .number(1000), "timeoutMs": .number(1000), "credentials": .string("sim-token"),
                "batchSize": .number(Double(batchSize)), "unitCost": .string(channel == "sms" ? "0.045" : "0"),
            ]), expect: 201)
            providers[channel] = (try XCTUnwrap(p["id"]?.stringValue), try XCTUnwrap(p["receiptSecret"]?.stringValue))
        }
        try pointReceipts()
    }

    /// The simulator posts each channel's receipts to that channel's provider callback, with its secret.
    func pointReceipts() throws {
        var targets: [String: JSONValue] = [:]
        for (channel, p) in providers {
            targets[channel] = .object(["url": .string("http://127.0.0.1:\(platform.gatewayPort)/api/v1/receipts/\(p.id)"), "secret": .string(p.secret)])
        }
        let config = JSONValue.object(["receiptTargets": .object(targets), "receiptDelayMs": .number(20)])
        _ = try platform.simulatorCall("PUT", "/control/config", json: String(decoding: try JSONEncoder().encode(config), as: UTF8.self))
    }

    /// A customer in `org` with consents and risk tolerance, written through the profile's public API.
    func customer(_ id: String, org: String = "sh", riskLevel: String? = "C3", consents: [String: Bool] = ["sms": true, "push": true, "inbox": true],
                  optOut: Bool = false, name: String = "张三", phone: String = "13800138000") throws {
        var body: [String: JSONValue] = ["orgId": .string(org), "name": .string(name), "phone": .string(phone),
                                         "consents": .object(consents.mapValues(JSONValue.bool)), "marketingOptOut": .bool(optOut)]
        if let riskLevel { body["riskLevel"] = .string(riskLevel) }
        let r = try platform.call("PUT", "/api/v1/customers/\(id)", token: hqOperator,
                                  json: String(decoding: try JSONEncoder().encode(JSONValue.object(body)), as: UTF8.self))
        XCTAssertTrue([200, 201].contains(r.status), r.bodyText)
    }

    /// An approved template (created by the hq operator, approved by the hq approver).
    func template(channel: String, body: String, kind: String = "marketing", risk: String? = nil) throws -> String {
        var t: [String: JSONValue] = ["channel": .string(channel), "name": .string("t-\(UUID().uuidString.prefix(8))"), "body": .string(body),
                                      "kind": .string(kind)]
        if let risk { t["productRiskLevel"] = .string(risk) }
        let created = try platform.json("POST", "/api/v1/templates", token: hqOperator, .object(t), expect: 201)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        let approved = try platform.json("POST", "/api/v1/templates/\(id):approve", token: hqApprover, expect: 200)
        XCTAssertEqual(approved["status"]?.stringValue, "approved")
        return id
    }

    static let smsBody = "【Lattice银行】{{name}}您好，您的专属理财体验金已到账，详情 {{link:https://bank.example/fund}} 回T退订"

    /// `POST /api/v1/messages` as the hq operator.
    func send(_ message: [String: JSONValue], expect status: Int = 201, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        try platform.json("POST", "/api/v1/messages", token: hqOperator, .object(message), expect: status, file: file, line: line)
    }

    func message(_ id: String) throws -> JSONValue {
        try platform.json("GET", "/api/v1/messages/\(id)", token: hqOperator, expect: 200)
    }

    /// Waits until the message reaches `status`; its last state.
    @discardableResult
    func waitFor(_ id: String, status: String, timeout: TimeInterval = 15, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        var last: JSONValue = .null
        let reached = try platform.eventually(timeout: timeout) {
            last = try message(id)
            return last["status"]?.stringValue == status
        }
        XCTAssertTrue(reached, "message \(id) never became \(status): \(last)", file: file, line: line)
        return last
    }
}
