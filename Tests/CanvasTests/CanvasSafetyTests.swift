import Contracts
import Foundation
@testable import Canvas
import ServiceKit
import XCTest

/// Without processes: the goal's `amountProperty` and the converted amount it yields (in the form
/// analytics accepts as money), and the webhook node's guard against calls into the bank (SSRF) —
/// save-time URL checks, address ranges, the allow-list, and what happens when DNS fails.
final class CanvasSafetyTests: XCTestCase {
    func fault(_ json: JSONValue, file: StaticString = #filePath, line: UInt = #line) -> APIError? {
        CanvasDocumentTests.fault(json, file: file, line: line)
    }

    static func goalCanvas(_ goal: String) throws -> JSONValue {
        try CanvasDocumentTests.canvas(nodes: #"[{"id": "n1", "type": "wait", "duration": "1d", "next": null}]"#, extra: #", "goal": \#(goal)"#)
    }

    // MARK: converted amount

    func testGoalAmountPropertyIsValidatedOnSave() throws {
        let d = try CanvasDocument(json: try Self.goalCanvas(#"{"event": "deposit", "within": "7d", "amountProperty": "amount"}"#))
        XCTAssertEqual(d.goal?.amountProperty, "amount")
        XCTAssertNil(try CanvasDocument(json: try Self.goalCanvas(#"{"event": "deposit", "within": "7d"}"#)).goal?.amountProperty)
        XCTAssertNil(try CanvasDocument(json: try Self.goalCanvas(#"{"event": "deposit", "within": "7d", "amountProperty": null}"#)).goal?.amountProperty)
        for bad in [#""""#, #""deposit amount""#, #""1st""#, #""a.b""#, "42", "true", #"["amount"]"#, "\"" + String(repeating: "a", count: 65) + "\""] {
            let e = try XCTUnwrap(fault(try Self.goalCanvas(#"{"event": "deposit", "within": "7d", "amountProperty": \#(bad)}"#)), bad)
            XCTAssertEqual(e.status, 422, bad)
            XCTAssertEqual(e.code, "canvas_invalid", bad)
            XCTAssertEqual(e.body["error"]?["details"]?["field"]?.stringValue, "goal.amountProperty", bad)
        }
    }

    /// Analytics' money check (`FactDecoder.isMoney`, two decimals, at most 12 integer digits).
    func assertMoney(_ text: String?, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(text, expected, file: file, line: line)
        XCTAssertNotNil(text?.range(of: #"^[0-9]{1,12}\.[0-9]{2}$"#, options: .regularExpression), "not money: \(text ?? "nil")",
                        file: file, line: line)
    }

    func testConvertedAmountIsMoneyOrNothing() {
        assertMoney(ConvertedAmount.format(.number(1200.5)), "1200.50")
        assertMoney(ConvertedAmount.format(.number(0.1 + 0.2)), "0.30")
        assertMoney(ConvertedAmount.format(.number(19.999)), "20.00")
        assertMoney(ConvertedAmount.format(.number(0.005)), "0.01")
        assertMoney(ConvertedAmount.format(.number(0)), "0.00")
        assertMoney(ConvertedAmount.format(.string("88")), "88.00")
        assertMoney(ConvertedAmount.format(.string("50000.125")), "50000.13")
        assertMoney(ConvertedAmount.format(.number(999_999_999_999.99)), "999999999999.99")
        for bad: JSONValue in [.string("12abc"), .string(""), .string("1e5"), .string("-3"), .string(" 12"), .string("1,000"), .string("."),
                               .number(-0.01), .number(1e12), .number(.infinity), .bool(true), .null, .array([.number(1)]),
                               .object(["value": .number(1)])] {
            XCTAssertNil(ConvertedAmount.format(bad), "\(bad)")
        }
        XCTAssertEqual(ConvertedAmount.read(["amount": .number(5)], property: "amount"), "5.00")
        XCTAssertNil(ConvertedAmount.read(["amount": .number(5)], property: nil), "no amountProperty: no amount")
        XCTAssertNil(ConvertedAmount.read(["value": .number(5)], property: "amount"), "the property is missing")
    }

    // MARK: webhook URLs on save

    func testWebhookURLsThatAreNotHTTPAre422NamingTheNode() throws {
        for url in ["ftp://files.bank.example/x", "file:///etc/passwd", "gopher://127.0.0.1:6379/_x", "dict://host:11211/stat", "http:///nohost",
                    "javascript:alert(1)", "not a url at all"] {
            let doc = try CanvasDocumentTests.canvas(nodes: #"[{"id": "n1", "type": "webhook", "url": "\#(url)", "next": null}]"#)
            let e = try XCTUnwrap(fault(doc), url)
            XCTAssertEqual(e.status, 422, url)
            XCTAssertEqual(e.body["error"]?["details"]?["nodeId"]?.stringValue, "n1", url)
            XCTAssertEqual(e.body["error"]?["details"]?["field"]?.stringValue, "$.nodes[0].url", url)
        }
        XCTAssertNoThrow(try CanvasDocument(json: try CanvasDocumentTests.canvas(
            nodes: #"[{"id": "n1", "type": "webhook", "url": "HTTPS://crm.bank.example/hook", "next": null}]"#)))
    }

    // MARK: addresses

    func testInternalAddressRanges() throws {
        let inside: [(String, String)] = [
            ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"),
            ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("febf::1", "link-local"),
            ("10.0.0.1", "private"), ("10.255.255.255", "private"), ("172.16.0.1", "private"), ("172.31.255.254", "private"),
            ("192.168.1.1", "private"), ("fc00::1", "private"), ("fd12:3456::1", "private"),
            ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("0.1.2.3", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.1.2.3", "private"), ("::ffff:169.254.169.254", "link-local"),
            ("::10.0.0.1", "private"), ("64:ff9b::a9fe:a9fe", "link-local"),
            ("100.64.0.1", "shared address space"), ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("255.255.255.255", "reserved"),
        ]
        for (text, range) in inside {
            let a = try XCTUnwrap(IPAddress(text), text)
            XCTAssertEqual(a.internalRange, range, text)
        }
        for text in ["8.8.8.8", "172.15.255.255", "172.32.0.1", "192.169.0.1", "169.253.1.1", "100.128.0.1", "11.0.0.1",
                     "2001:4860:4860::8888", "fec0::1", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            XCTAssertNil(try XCTUnwrap(IPAddress(text), text).internalRange, text)
        }
        XCTAssertNil(IPAddress("localhost"))
        XCTAssertEqual(IPAddress("::ffff:127.0.0.1")?.description, "::ffff:127.0.0.1")
        XCTAssertEqual(IPAddress("10.0.0.1")?.description, "10.0.0.1")
    }

    // MARK: the guard at call time

    /// A guard whose DNS is a table; a host not in it does not exist.
    func guardWith(allow: [String] = [], dns: [String: WebhookGuard.Resolution]) -> WebhookGuard {
        WebhookGuard(allowedHosts: allow) { dns[$0] ?? .unknownHost }
    }

    func refused(_ verdict: WebhookGuard.Verdict) -> String? {
        if case .refused(let why) = verdict { return why }
        return nil
    }

    func testGuardRefusesHostsResolvingInsideUnlessAllowed() throws {
        let dns: [String: WebhookGuard.Resolution] = [
            "crm.partner.example": .addresses([IPAddress("203.0.113.10")!]),
            "metadata.evil.example": .addresses([IPAddress("169.254.169.254")!]),
            // One public and one private answer: libcurl could take either, so the name is refused.
            "split.evil.example": .addresses([IPAddress("203.0.113.11")!, IPAddress("10.0.0.8")!]),
            "crm.bank.internal": .addresses([IPAddress("10.2.3.4")!]),
            "empty.example": .addresses([]),
            "flaky.example": .temporaryFailure("Temporary failure in name resolution"),
        ]
        let g = guardWith(allow: ["CRM.bank.internal.", "127.0.0.1"], dns: dns)
        XCTAssertEqual(g.check("https://crm.partner.example/hook"), .allowed(pinned: ["203.0.113.10"]), "connects to what was checked")
        XCTAssertEqual(g.check("http://crm.bank.internal:8443/hook"), .allowed(pinned: []), "on the allow-list (case and trailing dot ignored)")
        XCTAssertEqual(g.check("http://127.0.0.1:9000/send"), .allowed(pinned: []), "an allowed literal")
        let metadata = try XCTUnwrap(refused(g.check("http://metadata.evil.example/latest/meta-data/")))
        XCTAssertTrue(metadata.contains("169.254.169.254") && metadata.contains("link-local"), metadata)
        XCTAssertTrue(try XCTUnwrap(refused(g.check("https://split.evil.example/"))).contains("10.0.0.8"))
        XCTAssertNotNil(refused(g.check("http://nowhere.example/")), "a name that does not exist")
        XCTAssertNotNil(refused(g.check("http://empty.example/")))
        XCTAssertNotNil(refused(g.check("ftp://crm.partner.example/")), "not http(s), even if a stored document said so")
        guard case .retryLater = g.check("https://flaky.example/hook") else { return XCTFail("a DNS hiccup is retried, not a refusal") }
        // Allowing one host allows that host only.
        XCTAssertNotNil(refused(guardWith(allow: ["crm.bank.internal"], dns: dns).check("http://metadata.evil.example/")))
    }

    func testGuardResolvesLiteralsAndNamesWithTheSystemResolver() throws {
        let g = WebhookGuard(allowedHosts: [])
        for url in ["http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x", "http://127.1/x", "http://2130706433/x",
                    "http://0x7f000001/x", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:10.0.0.1]/x", "http://10.1.2.3/x",
                    "http://0.0.0.0:8080/x", "http://LOCALHOST./x"] {
            XCTAssertNotNil(refused(g.check(url)), url)
        }
        XCTAssertEqual(g.check("http://203.0.113.7/x"), .allowed(pinned: ["203.0.113.7"]), "a public literal needs no DNS")
        // The allow-list read through the service's settings, like every other setting.
        let settings = try CanvasSettings(config: ConfigReader(environment: [
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LATTICE_INTERNAL_SECRET": "safety-test-secret-0123456789",
            "LATTICE_CANVAS_WEBHOOK_ALLOW": " 127.0.0.1 , crm.bank.internal",
        ]))
        XCTAssertEqual(settings.webhookAllowedHosts, ["127.0.0.1", "crm.bank.internal"])
        XCTAssertEqual(WebhookGuard(allowedHosts: settings.webhookAllowedHosts).check("http://127.0.0.1:9/x"), .allowed(pinned: []))
        let none = try CanvasSettings(config: ConfigReader(environment: [
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LATTICE_INTERNAL_SECRET": "safety-test-secret-0123456789",
        ]))
        XCTAssertEqual(none.webhookAllowedHosts, [])
    }
}
