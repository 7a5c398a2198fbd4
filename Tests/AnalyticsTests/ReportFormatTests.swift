@testable import Analytics
import Contracts
import HTTP
import XCTest

/// CSV rendering, query parameters and bank-local days.
final class ReportFormatTests: XCTestCase {
    let caller = CallerIdentity(userId: "u1", orgId: "sh", orgPath: "/hq/sh/", roles: ["analyst"], rights: ["view"])
    let days = BankDays(timeZone: TimeZone(identifier: "Asia/Shanghai")!)

    func testCSVQuotesDefusesAndLabels() {
        let table = ReportTable(columns: [("a", "节点"), ("b", "说明, 备注")], rows: [
            [.text("plain"), .text("with, comma")],
            [.text("say \"hi\""), .text("line\nbreak")],
            [.text("=HYPERLINK(\"x\")"), .text(nil)],
            [.integer(-3), .number(0.125)],
            [.decimal("12.50"), .number(nil)],
        ])
        XCTAssertEqual(table.csv, "\u{FEFF}节点,\"说明, 备注\"\r\n" + "plain,\"with, comma\"\r\n" + "\"say \"\"hi\"\"\",\"line\nbreak\"\r\n"
                       + "\"'=HYPERLINK(\"\"x\"\")\",\r\n" + "-3,0.125\r\n" + "12.50,\r\n")
        let response = table.response(fileName: "funnel-c1")
        XCTAssertEqual(response.headers.first("content-type"), "text/csv; charset=utf-8")
        XCTAssertEqual(response.headers.first("content-disposition"), "attachment; filename=\"funnel-c1.csv\"")
    }

    func testQueryDefaultsAndFaults() throws {
        let q = try ReportQuery(query: QueryParameters(""), caller: caller, calendar: days, allowed: ReportRoutes.ranged)
        XCTAssertEqual(q.format, .json)
        XCTAssertEqual(q.orgPath, "/hq/sh/")
        XCTAssertEqual(q.to, days.today())
        XCTAssertEqual(BankDays.daysBetween(q.from, q.to), 29)
        let narrowed = try ReportQuery(query: QueryParameters("format=csv&orgPath=/hq/sh/pd/&from=2026-02-01&to=2026-03-01"),
                                       caller: caller, calendar: days, allowed: ReportRoutes.ranged)
        XCTAssertEqual(narrowed.format, .csv)
        XCTAssertEqual(narrowed.orgPath, "/hq/sh/pd/")
        XCTAssertEqual(BankDays.daysBetween(narrowed.from, narrowed.to), 28)

        func fault(_ query: String, allowed: Set<String> = ReportRoutes.ranged) -> (Int, String?) {
            do {
                _ = try ReportQuery(query: QueryParameters(query), caller: caller, calendar: days, allowed: allowed)
                return (200, nil)
            } catch let e as APIError {
                return (e.status, e.body["error"]?["details"]?["field"]?.stringValue)
            } catch { return (500, nil) }
        }
        XCTAssertEqual(fault("format=xml").0, 400)
        XCTAssertEqual(fault("format=xml").1, "format")
        XCTAssertEqual(fault("from=2026-02-30").1, "from")
        XCTAssertEqual(fault("to=yesterday").1, "to")
        XCTAssertEqual(fault("from=2026-03-02&to=2026-03-01").1, "from")
        XCTAssertEqual(fault("from=2024-01-01&to=2026-01-01").1, "from")
        XCTAssertEqual(fault("orgPath=/hq/bj/").0, 403)
        XCTAssertEqual(fault("orgPath=hq").1, "orgPath")
        XCTAssertEqual(fault("limit=3").1, "limit")
        XCTAssertEqual(fault("from=2026-01-01", allowed: ReportRoutes.common).1, "from")
        XCTAssertThrowsError(try ReportQuery.canvasId("bad id"))
        XCTAssertThrowsError(try ReportQuery.canvasId(String(repeating: "a", count: 65)))
        XCTAssertEqual(try ReportQuery.canvasId("cvs_01:a-b.c"), "cvs_01:a-b.c")
    }

    func testBankDays() {
        XCTAssertEqual(BankDays.add(days: 1, to: "2024-02-28"), "2024-02-29")
        XCTAssertEqual(BankDays.add(days: -1, to: "2026-01-01"), "2025-12-31")
        XCTAssertTrue(BankDays.isDay("2024-02-29"))
        XCTAssertFalse(BankDays.isDay("2025-02-29"))
        XCTAssertFalse(BankDays.isDay("2025-13-01"))
        // 2026-12-02 17:00 UTC is already 12-03 in Shanghai.
        XCTAssertEqual(days.day(of: Date(timeIntervalSince1970: 1_796_230_800)), "2026-12-03")
    }

    func testMoneyAndRatios() {
        XCTAssertEqual(Ratio.money(Ratio.decimal("12.5")), "12.50")
        XCTAssertEqual(Ratio.money(Ratio.decimal("10") / 3), "3.33")
        XCTAssertEqual(Ratio.money(0), "0.00")
        XCTAssertNil(Ratio.of(3, 0))
        XCTAssertTrue(FactDecoder.isMoney("-0.5"))
        XCTAssertFalse(FactDecoder.isMoney("1.234"))
        XCTAssertFalse(FactDecoder.isMoney("1e3"))
        XCTAssertFalse(FactDecoder.isMoney(""))
    }

    func testFactsAtTheEdgesAreRefusedNotFatal() throws {
        XCTAssertFalse(FactDecoder.isMoney("1234567890123"), "13 integer digits could overflow the rollups' sums")
        XCTAssertTrue(FactDecoder.isMoney("123456789012.50"))
        var f = Fact(eventId: UUID(), type: MarketingFactType.pointsEarned.rawValue, occurredAt: Date(), customerId: "c1", orgPath: "/hq/")
        for points in [Int.min, Int.max, -1_000_000_000_001] {
            f.points = points
            XCTAssertThrowsError(try FactDecoder.validate(f)) { XCTAssertEqual(($0 as? APIError)?.details?["field"]?.stringValue, "payload.points") }
        }
        f.points = -1_000_000_000_000
        XCTAssertNoThrow(try FactDecoder.validate(f))
        XCTAssertTrue(FactDecoder.containsNUL(.object(["a": .array([.string("x\u{0}y")])])))
        XCTAssertFalse(FactDecoder.containsNUL(.object(["a": .string("\\u0000 is text")])))
    }
}
