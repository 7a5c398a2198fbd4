@testable import Analytics
import Contracts
import Foundation
import Postgres
import TestSupport
import XCTest

/// The dashboard of an org unit counts its subtree and nothing of another branch (review finding 4).
///
/// What "its" means is the fact's `orgPath`: the unit that owns the activity — the canvas's, the
/// reward's, the sending caller's (`MarketingFact`) — the same scope as every other report, so that a
/// branch's big screen and its funnels and channel report agree. A head-office canvas's sends to a
/// branch's customers are head office's (its canvas, its budget), not the branch's.
final class DashboardScopeTests: XCTestCase {
    let data = AnalyticsTestDatabase()
    let store = FactStore(timeZone: "Asia/Shanghai")
    /// 2026-12-03 10:00 in Shanghai.
    let now = Date(timeIntervalSince1970: 1_796_263_200)

    override func tearDown() { data.dropAll() }

    /// `entered` journeys, `sent` SMS and `converted` conversions (100.00 each) of `canvas`, owned by `org`.
    func activity(_ canvas: String, org: String, customersOf customerOrg: String? = nil, entered: Int, sent: Int, converted: Int,
                  at: Date) -> [Fact] {
        var facts: [Fact] = []
        func add(_ type: MarketingFactType, _ i: Int, channel: String? = nil, amount: String? = nil) {
            let f = MarketingFact(customerId: "\(canvas)-\(i)", orgPath: org, customerOrgPath: customerOrg ?? org, canvasId: canvas, nodeId: "n1",
                                  arm: type == .journeyEntered ? "A" : nil, channel: channel, amount: amount)
            facts.append(Fact(eventId: UUID(), type: type, occurredAt: at.addingTimeInterval(Double(facts.count)), fact: f))
        }
        for i in 0..<entered { add(.journeyEntered, i) }
        for i in 0..<sent { add(.messageSent, i, channel: "sms") }
        for i in 0..<converted { add(.journeyConverted, i, amount: "100.00") }
        return facts
    }

    func testHeadOfficeSeesTheSumOfTheBranchesAndEachBranchOnlyItsOwn() throws {
        let db = try data.make()
        var facts = activity("cvs_sh", org: "/hq/sh/", entered: 3, sent: 5, converted: 2, at: now)
            + activity("cvs_pd", org: "/hq/sh/pd/", entered: 2, sent: 1, converted: 1, at: now)      // a Shanghai sub-branch
            + activity("cvs_bj", org: "/hq/bj/", entered: 4, sent: 7, converted: 3, at: now)
            // A branch whose id merely starts like Shanghai's, and yesterday's Shanghai activity: neither is Shanghai's today.
            + activity("cvs_sh2", org: "/hq/sh2/", entered: 1, sent: 1, converted: 1, at: now)
            + activity("cvs_sh", org: "/hq/sh/", entered: 9, sent: 9, converted: 9, at: now.addingTimeInterval(-86_400))
        for (org, customer) in [("/hq/sh/", "p1"), ("/hq/bj/", "p2"), ("/hq/bj/", "p3")] {
            var e = Fact(eventId: UUID(), type: FactDecoder.behaviourEventType, occurredAt: now, customerId: customer, orgPath: org)
            e.eventName = "app_login"
            facts.append(e)
        }
        try db.transaction { try store.ingest(facts, on: $0, now: now) }
        let reports = ReportStore(database: db, days: BankDays(timeZone: TimeZone(identifier: "Asia/Shanghai")!))
        let hq = try reports.dashboard(orgPath: "/hq/", now: now)
        let sh = try reports.dashboard(orgPath: "/hq/sh/", now: now)
        let bj = try reports.dashboard(orgPath: "/hq/bj/", now: now)
        let sh2 = try reports.dashboard(orgPath: "/hq/sh2/", now: now)

        XCTAssertEqual(sh.day, "2026-12-03")
        XCTAssertEqual([sh.totals.entered, sh.totals.sends, sh.totals.conversions], [5, 6, 3])
        XCTAssertEqual(sh.totals.convertedAmount, "300.00")
        XCTAssertEqual(sh.topCanvases.map(\.canvasId).sorted(), ["cvs_pd", "cvs_sh"])
        XCTAssertEqual(sh.units.map(\.orgPath), ["/hq/sh/", "/hq/sh/pd/"])
        XCTAssertEqual(sh.channels.map(\.sent), [6])
        XCTAssertEqual(sh.behaviourEvents, 1)

        XCTAssertEqual([bj.totals.entered, bj.totals.sends, bj.totals.conversions], [4, 7, 3])
        XCTAssertEqual(bj.topCanvases.map(\.canvasId), ["cvs_bj"])
        XCTAssertEqual(bj.units.map(\.orgPath), ["/hq/bj/"])
        XCTAssertEqual(bj.behaviourEvents, 2)
        XCTAssertEqual(sh2.topCanvases.map(\.canvasId), ["cvs_sh2"])

        // Head office: the branches' sum, to the figure.
        let branches = [sh, bj, sh2]
        XCTAssertEqual(hq.totals.entered, branches.reduce(0) { $0 + $1.totals.entered })
        XCTAssertEqual(hq.totals.sends, branches.reduce(0) { $0 + $1.totals.sends })
        XCTAssertEqual(hq.totals.conversions, branches.reduce(0) { $0 + $1.totals.conversions })
        XCTAssertEqual(hq.totals.convertedAmount, "700.00")
        XCTAssertEqual(hq.behaviourEvents, 3)
        XCTAssertEqual(hq.units.map(\.orgPath).sorted(), ["/hq/bj/", "/hq/sh/", "/hq/sh/pd/", "/hq/sh2/"])
        XCTAssertEqual(hq.topCanvases.map(\.canvasId).sorted(), ["cvs_bj", "cvs_pd", "cvs_sh", "cvs_sh2"])

        // A Shanghai sub-branch sees itself only.
        let pd = try reports.dashboard(orgPath: "/hq/sh/pd/", now: now)
        XCTAssertEqual([pd.totals.entered, pd.totals.sends, pd.totals.conversions], [2, 1, 1])
    }

    /// A head-office canvas reaching a branch's customers counts on head office's screen, not on the
    /// branch's: the owner of the activity scopes it, as in the canvas's funnel.
    func testAHeadOfficeCanvasCountsForHeadOfficeNotForTheCustomersBranch() throws {
        let db = try data.make()
        let facts = activity("cvs_hq", org: "/hq/", customersOf: "/hq/sh/", entered: 2, sent: 2, converted: 1, at: now)
            + activity("cvs_sh", org: "/hq/sh/", entered: 1, sent: 1, converted: 0, at: now)
        try db.transaction { try store.ingest(facts, on: $0, now: now) }
        let reports = ReportStore(database: db, days: BankDays(timeZone: TimeZone(identifier: "Asia/Shanghai")!))
        let sh = try reports.dashboard(orgPath: "/hq/sh/", now: now)
        XCTAssertEqual([sh.totals.entered, sh.totals.sends], [1, 1])
        XCTAssertEqual(sh.topCanvases.map(\.canvasId), ["cvs_sh"])
        XCTAssertEqual(try reports.funnel(canvasId: "cvs_hq", orgPath: "/hq/sh/").entered, 0, "the same scope as the funnel")
        let hq = try reports.dashboard(orgPath: "/hq/", now: now)
        XCTAssertEqual([hq.totals.entered, hq.totals.sends, hq.totals.conversions], [3, 3, 1])
    }
}
