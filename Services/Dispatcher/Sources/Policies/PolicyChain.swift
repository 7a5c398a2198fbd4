import Contracts
import Foundation

/// What the policy chain decided for one message.
enum PolicyDecision: Equatable {
    case send
    /// Quiet hours: sent at `until`, not dropped.
    case deferred(until: Date)
    /// Not sent; `reason` is stored with the message (`blacklisted`, `no_consent:sms`, …).
    case suppressed(reason: String)

    var isSuppressed: Bool { if case .suppressed = self { return true }; return false }
}

/// Sends already counted for one customer: scope (`sms`, `*`, `campaign:<id>`) → sends today and over the
/// last seven local days.
struct CustomerCounts {
    var today: [String: Int] = [:]
    var week: [String: Int] = [:]

    mutating func add(_ scope: String) {
        today[scope, default: 0] += 1
        week[scope, default: 0] += 1
    }
}

/// The policy chain of DESIGN.md §3, in its order: global black list, channel consent and marketing
/// opt-out, suitability, frequency caps across all campaigns, per-campaign caps, quiet hours. Pure and
/// in memory: the caller fetched the facts and counts of the whole batch beforehand.
struct PolicyChain {
    let policy: SendPolicy
    let calendar: BankCalendar

    /// The overall scope of frequency counters.
    static let allChannels = "*"
    static func campaignScope(_ id: String) -> String { "campaign:" + id }

    /// Decides one message; on `.send` or `.deferred` of a marketing message the caller counts it with
    /// `scopes(for:)` before deciding the next message of the same customer.
    func decide(channel: Channel, kind: TemplateKind, productRisk: ProductRiskLevel?, campaign: String?,
                contact: CustomerContact?, blacklisted: Bool, counts: CustomerCounts, now: Date) -> PolicyDecision {
        guard let contact, contact.exists else { return .suppressed(reason: "unknown_customer") }
        // 1. The global black list excludes a customer from all marketing.
        if kind == .marketing && blacklisted { return .suppressed(reason: "blacklisted") }
        // 2. Consent: a marketing message needs the channel's consent given and no marketing opt-out; a
        //    transactional notice is never sent on a channel the customer refused.
        let consent = contact.consents[channel.rawValue]
        switch kind {
        case .marketing:
            if contact.marketingOptOut || contact.consents["marketing"] == false { return .suppressed(reason: "marketing_opt_out") }
            if consent != true { return .suppressed(reason: consent == false ? "consent_withdrawn:\(channel.rawValue)" : "no_consent:\(channel.rawValue)") }
        case .transactional:
            if consent == false { return .suppressed(reason: "consent_withdrawn:\(channel.rawValue)") }
        }
        // 3. Suitability: a product rated above the customer's tolerance is not promoted (C1 ↔ R1 … C5 ↔ R5).
        if let risk = productRisk {
            guard let tolerance = contact.toleranceRank else { return .suppressed(reason: "suitability_unassessed") }
            if risk.rank > tolerance { return .suppressed(reason: "unsuitable:\(risk.rawValue)>C\(tolerance)") }
        }
        if kind == .marketing {
            // 4. Frequency caps across all campaigns: per channel, then over every channel.
            if let reason = Self.capReason(policy.channelCaps[channel.rawValue], scope: channel.rawValue, counts: counts, label: "frequency_cap:\(channel.rawValue)") {
                return .suppressed(reason: reason)
            }
            if let reason = Self.capReason(policy.overallCap, scope: Self.allChannels, counts: counts, label: "frequency_cap:all") {
                return .suppressed(reason: reason)
            }
            // 5. Per-campaign caps.
            if let campaign, let reason = Self.capReason(policy.campaignCap, scope: Self.campaignScope(campaign), counts: counts, label: "campaign_cap") {
                return .suppressed(reason: reason)
            }
        }
        // 6. Quiet hours: deferred to the next allowed time.
        if kind == .marketing || policy.quietHoursApplyToTransactional, let window = policy.quietHours[channel.rawValue],
           let until = calendar.endOfQuiet(window, at: now) {
            return .deferred(until: until)
        }
        return .send
    }

    /// The counter scopes a marketing message counts in.
    static func scopes(channel: Channel, campaign: String?) -> [String] {
        var s = [channel.rawValue, allChannels]
        if let campaign { s.append(campaignScope(campaign)) }
        return s
    }

    static func capReason(_ cap: SendPolicy.Cap?, scope: String, counts: CustomerCounts, label: String) -> String? {
        guard let cap else { return nil }
        if let day = cap.day, counts.today[scope, default: 0] >= day { return label + ":day" }
        if let week = cap.week, counts.week[scope, default: 0] >= week { return label + ":week" }
        return nil
    }
}
