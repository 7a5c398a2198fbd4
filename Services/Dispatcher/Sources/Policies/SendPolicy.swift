import Contracts
import Foundation

/// The bank's send policies (`GET|PUT /api/v1/policies`): quiet hours per channel, frequency caps across
/// all campaigns and per campaign, and the compliance word lists templates are reviewed against.
public struct SendPolicy: Sendable, Codable, Equatable {
    /// A window of local time (bank time zone) in which a channel does not send; `start > end` wraps
    /// midnight (21:00–08:00).
    public struct QuietHours: Sendable, Codable, Equatable {
        public var start: String
        public var end: String
    }

    /// At most `day` sends per bank-local day and `week` per the last seven local days; nil: no cap.
    public struct Cap: Sendable, Codable, Equatable {
        public var day: Int?
        public var week: Int?
    }

    public var quietHours: [String: QuietHours]
    /// Whether quiet hours also defer transactional notices (default false: a service notice is due now).
    public var quietHoursApplyToTransactional: Bool
    /// Caps per customer and channel across all campaigns.
    public var channelCaps: [String: Cap]
    /// Caps per customer over every channel.
    public var overallCap: Cap
    /// Caps per customer and campaign (canvas), any channel.
    public var campaignCap: Cap
    /// Claims a financial promotion must not make (广告法 Art. 25; 关于进一步规范金融营销宣传行为的通知).
    public var bannedClaims: [String]
    /// The bank's signature every SMS carries, e.g. `【某某银行】`.
    public var smsSignature: String
    /// One of these must appear in an SMS (an easy way to refuse, MIIT Order 31).
    public var optOutInstructions: [String]
    /// One of these must appear in an investment promotion.
    public var riskWarnings: [String]
    /// Replies to an SMS that opt the customer out of marketing.
    public var optOutReplies: [String]

    public static let defaults = SendPolicy(
        quietHours: ["sms": QuietHours(start: "21:00", end: "08:00"), "call": QuietHours(start: "21:00", end: "08:00")],
        quietHoursApplyToTransactional: false,
        channelCaps: ["sms": Cap(day: 2, week: 5), "call": Cap(day: 1, week: 2)],
        overallCap: Cap(day: 5, week: 15),
        campaignCap: Cap(day: 1, week: 3),
        bannedClaims: ["保本", "保收益", "保息", "稳赚", "无风险", "零风险", "稳赚不赔", "100%收益", "百分百收益", "稳赢", "只赚不赔",
                       "保证收益", "刚性兑付", "高收益无风险", "本金无忧", "零风险高收益"],
        smsSignature: "【Lattice银行】",
        optOutInstructions: ["回T退订", "回TD退订", "退订回T", "退订回TD", "回复T退订", "回复TD退订"],
        riskWarnings: ["投资有风险", "理财非存款", "产品有风险", "市场有风险", "基金有风险"],
        optOutReplies: ["T", "TD", "N", "退订"])

    /// Parses and checks a `PUT /api/v1/policies` document: absent members keep `base`'s values.
    static func parse(_ body: JSONValue, over base: SendPolicy) throws -> SendPolicy {
        let f = try BodyFields(body, allowed: ["quietHours", "quietHoursApplyToTransactional", "channelCaps", "overallCap", "campaignCap",
                                               "bannedClaims", "smsSignature", "optOutInstructions", "riskWarnings", "optOutReplies",
                                               "blacklist", "version"], field: "")
        var p = base
        if let value = f.object["quietHours"] {
            guard case .object(let channels) = value else { throw APIError.badRequest("quietHours must be an object of channel → {start, end}", field: "quietHours") }
            var out: [String: QuietHours] = [:]
            for (channel, window) in channels {
                let field = "quietHours.\(channel.prefix(32))"
                guard Channel(rawValue: channel) != nil else { throw APIError.badRequest("\(field) is not a channel", field: field) }
                let w = try BodyFields(window, allowed: ["start", "end"], field: field)
                let start = try w.string("start", length: 5...5), end = try w.string("end", length: 5...5)
                guard LocalTime(start) != nil else { throw APIError.badRequest("\(field).start must be HH:MM", field: field + ".start") }
                guard LocalTime(end) != nil else { throw APIError.badRequest("\(field).end must be HH:MM", field: field + ".end") }
                guard start != end else { throw APIError.badRequest("\(field) must not start and end at the same time", field: field) }
                out[channel] = QuietHours(start: start, end: end)
            }
            p.quietHours = out
        }
        if let flag = try f.bool("quietHoursApplyToTransactional") { p.quietHoursApplyToTransactional = flag }
        if let value = f.object["channelCaps"] {
            guard case .object(let channels) = value else { throw APIError.badRequest("channelCaps must be an object of channel → {day, week}", field: "channelCaps") }
            var out: [String: Cap] = [:]
            for (channel, cap) in channels {
                let field = "channelCaps.\(channel.prefix(32))"
                guard Channel(rawValue: channel) != nil else { throw APIError.badRequest("\(field) is not a channel", field: field) }
                out[channel] = try parseCap(cap, field: field)
            }
            p.channelCaps = out
        }
        if let cap = f.object["overallCap"] { p.overallCap = try parseCap(cap, field: "overallCap") }
        if let cap = f.object["campaignCap"] { p.campaignCap = try parseCap(cap, field: "campaignCap") }
        if let words = try f.stringArray("bannedClaims", maxItems: 500, length: 1...50) { p.bannedClaims = words }
        if let signature = try f.optionalString("smsSignature", length: 3...40) {
            guard signature.hasPrefix("【"), signature.hasSuffix("】") else {
                throw APIError.badRequest("smsSignature must be written 【bank name】", field: "smsSignature")
            }
            p.smsSignature = signature
        }
        if let words = try f.stringArray("optOutInstructions", maxItems: 50, length: 2...30) {
            guard !words.isEmpty else { throw APIError.badRequest("optOutInstructions must name at least one instruction", field: "optOutInstructions") }
            p.optOutInstructions = words
        }
        if let words = try f.stringArray("riskWarnings", maxItems: 50, length: 2...60) {
            guard !words.isEmpty else { throw APIError.badRequest("riskWarnings must name at least one warning", field: "riskWarnings") }
            p.riskWarnings = words
        }
        if let words = try f.stringArray("optOutReplies", maxItems: 50, length: 1...20) { p.optOutReplies = words }
        return p
    }

    static func parseCap(_ value: JSONValue, field: String) throws -> Cap {
        let f = try BodyFields(value, allowed: ["day", "week"], field: field)
        let cap = Cap(day: try f.int("day", in: 0...1_000), week: try f.int("week", in: 0...10_000))
        if let day = cap.day, let week = cap.week, week < day {
            throw APIError.badRequest("\(field).week must not be below \(field).day", field: field + ".week")
        }
        return cap
    }
}

/// A time of day `HH:MM` as minutes after midnight.
struct LocalTime: Sendable, Equatable {
    var minutes: Int

    init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let h = Int(parts[0]), let m = Int(parts[1]), (0...23).contains(h), (0...59).contains(m) else { return nil }
        minutes = h * 60 + m
    }
}
