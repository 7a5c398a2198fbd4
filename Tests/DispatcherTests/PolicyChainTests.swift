import Contracts
@testable import Dispatcher
import Foundation
import XCTest

/// The policy chain in memory: its order, each rule, quiet hours in the bank's time zone, and its cost.
final class PolicyChainTests: XCTestCase {
    let shanghai = TimeZone(identifier: "Asia/Shanghai")!
    var chain: PolicyChain { PolicyChain(policy: .defaults, calendar: BankCalendar(timeZone: shanghai)) }

    /// 2026-12-02 12:00 in Shanghai (04:00 UTC): outside quiet hours.
    let noon = Date(timeIntervalSince1970: 1_796_184_000)

    func contact(consents: [String: Bool] = ["sms": true, "push": true], optOut: Bool = false, risk: String? = "C3") -> CustomerContact {
        CustomerContact(customerId: "c1", exists: true, orgId: "sh", orgPath: "/hq/sh/", marketingOptOut: optOut, consents: consents,
                        riskLevel: risk, attributes: [:])
    }

    func decide(_ channel: Channel = .sms, kind: TemplateKind = .marketing, risk: ProductRiskLevel? = nil, campaign: String? = nil,
                contact: CustomerContact?, blacklisted: Bool = false, counts: CustomerCounts = CustomerCounts(), at: Date? = nil) -> PolicyDecision {
        chain.decide(channel: channel, kind: kind, productRisk: risk, campaign: campaign, contact: contact, blacklisted: blacklisted,
                     counts: counts, now: at ?? noon)
    }

    func testTheChainsOrderAndEachRule() {
        XCTAssertEqual(decide(contact: contact()), .send)
        XCTAssertEqual(decide(contact: nil), .suppressed(reason: "unknown_customer"))
        // The black list comes first, even before a missing consent.
        XCTAssertEqual(decide(contact: contact(consents: [:]), blacklisted: true), .suppressed(reason: "blacklisted"))
        XCTAssertEqual(decide(contact: contact(optOut: true)), .suppressed(reason: "marketing_opt_out"))
        XCTAssertEqual(decide(contact: contact(consents: ["push": true])), .suppressed(reason: "no_consent:sms"))
        XCTAssertEqual(decide(contact: contact(consents: ["sms": false])), .suppressed(reason: "consent_withdrawn:sms"))
        // Suitability: R3 to C3 is fine, R4 to C3 is not, a rated product to an unassessed customer is not.
        XCTAssertEqual(decide(risk: .R3, contact: contact()), .send)
        XCTAssertEqual(decide(risk: .R4, contact: contact()), .suppressed(reason: "unsuitable:R4>C3"))
        XCTAssertEqual(decide(risk: .R1, contact: contact(risk: nil)), .suppressed(reason: "suitability_unassessed"))
        // Consent before suitability.
        XCTAssertEqual(decide(risk: .R5, contact: contact(optOut: true, risk: "C1")), .suppressed(reason: "marketing_opt_out"))
    }

    func testTransactionalNoticesSkipCapsButNeverConsent() {
        var full = CustomerCounts()
        for _ in 0..<50 { full.add("sms"); full.add(PolicyChain.allChannels) }
        XCTAssertEqual(decide(contact: contact(), counts: full), .suppressed(reason: "frequency_cap:sms:day"))
        XCTAssertEqual(decide(kind: .transactional, contact: contact(), counts: full), .send)
        XCTAssertEqual(decide(kind: .transactional, contact: contact(consents: ["sms": false])), .suppressed(reason: "consent_withdrawn:sms"))
        // No recorded answer: a service notice may go, a promotion may not.
        XCTAssertEqual(decide(kind: .transactional, contact: contact(consents: [:])), .send)
        XCTAssertEqual(decide(kind: .transactional, contact: contact(optOut: true)), .send)
        XCTAssertEqual(decide(kind: .transactional, contact: contact(), blacklisted: true), .send)
    }

    func testFrequencyCapsPerChannelOverallAndPerCampaign() {
        var counts = CustomerCounts()
        counts.add("sms"); counts.add("sms")  // the default sms cap is 2 a day
        XCTAssertEqual(decide(contact: contact(), counts: counts), .suppressed(reason: "frequency_cap:sms:day"))
        XCTAssertEqual(decide(.push, contact: contact(), counts: counts), .send)
        var week = CustomerCounts()
        week.week["sms"] = 5
        XCTAssertEqual(decide(contact: contact(), counts: week), .suppressed(reason: "frequency_cap:sms:week"))
        var overall = CustomerCounts()
        overall.today[PolicyChain.allChannels] = 5
        XCTAssertEqual(decide(.push, contact: contact(), counts: overall), .suppressed(reason: "frequency_cap:all:day"))
        var campaign = CustomerCounts()
        campaign.add(PolicyChain.campaignScope("cv1"))
        XCTAssertEqual(decide(.push, campaign: "cv1", contact: contact(), counts: campaign), .suppressed(reason: "campaign_cap:day"))
        XCTAssertEqual(decide(.push, campaign: "cv2", contact: contact(), counts: campaign), .send)
    }

    func testQuietHoursDeferToTheNextAllowedTimeInTheBanksZone() throws {
        // 23:30 Shanghai (15:30 UTC): deferred to 08:00 Shanghai next day (00:00 UTC).
        let lateEvening = Date(timeIntervalSince1970: 1_796_225_400)
        XCTAssertEqual(decide(contact: contact(), at: lateEvening), .deferred(until: Date(timeIntervalSince1970: 1_796_256_000)))
        // 06:00 Shanghai: deferred to 08:00 the same day.
        let early = Date(timeIntervalSince1970: 1_796_248_800)
        XCTAssertEqual(decide(contact: contact(), at: early), .deferred(until: Date(timeIntervalSince1970: 1_796_256_000)))
        // 08:00 exactly is allowed; push has no quiet hours; transactional notices are not deferred by default.
        XCTAssertEqual(decide(contact: contact(), at: Date(timeIntervalSince1970: 1_796_256_000)), .send)
        XCTAssertEqual(decide(.push, contact: contact(), at: lateEvening), .send)
        XCTAssertEqual(decide(kind: .transactional, contact: contact(), at: lateEvening), .send)
        // Quiet hours come last: a suppressed message is not deferred.
        XCTAssertEqual(decide(contact: contact(optOut: true), at: lateEvening), .suppressed(reason: "marketing_opt_out"))
        // A window that does not wrap.
        let calendar = BankCalendar(timeZone: shanghai)
        XCTAssertEqual(calendar.endOfQuiet(.init(start: "12:00", end: "13:00"), at: noon), Date(timeIntervalSince1970: 1_796_187_600))
        XCTAssertNil(calendar.endOfQuiet(.init(start: "13:00", end: "14:00"), at: noon))
        XCTAssertEqual(calendar.day(of: lateEvening), "2026-12-02")
        XCTAssertEqual(calendar.day(of: early), "2026-12-03")
    }

    /// The chain's own cost, facts in hand: the target is 50 µs a message.
    func testTheChainCostsFarLessThanFiftyMicrosecondsAMessage() {
        let c = contact()
        var counts = CustomerCounts()
        counts.add("sms")
        let chain = self.chain
        let n = 200_000
        let start = DispatchTime.now().uptimeNanoseconds
        var sent = 0
        for i in 0..<n {
            if chain.decide(channel: i % 2 == 0 ? .sms : .push, kind: .marketing, productRisk: .R2, campaign: "cv1", contact: c,
                            blacklisted: false, counts: counts, now: noon) == .send { sent += 1 }
        }
        let perMessage = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n) / 1000
        XCTAssertEqual(sent, n)
        XCTAssertLessThan(perMessage, 50, "the policy chain took \(perMessage) µs a message")
        print("BENCH dispatch_policy_chain_us \(String(format: "%.2f", perMessage)) us/msg")
    }
}
