import Contracts
import Foundation

/// The compliance review of a template on create and edit (DESIGN.md §3, ENGINEERING-NOTES "Compliance
/// facts"): no banned claim; an SMS carries the bank's signature and an opt-out instruction; an
/// investment promotion carries a risk warning. A refusal is 422 `template_noncompliant` naming every
/// problem and the offending words.
enum ComplianceReview {
    static func check(_ input: TemplateInput, policy: SendPolicy) throws {
        let text = [input.title ?? "", TemplateText.fixedText(input.body)].joined(separator: "\n")
        let folded = normalized(text)
        var problems: [JSONValue] = []
        // Full-width digits and letters and spaces are folded, so `１００％收益` and `保 本` are caught too.
        let banned = policy.bannedClaims.filter { folded.contains(normalized($0)) }
        if !banned.isEmpty {
            problems.append(.object(["rule": .string("banned_claims"), "field": .string("body"), "words": .array(banned.map(JSONValue.string))]))
        }
        if input.channel == .sms {
            if !input.body.contains(policy.smsSignature) {
                problems.append(.object(["rule": .string("sms_signature"), "field": .string("body"), "expected": .string(policy.smsSignature)]))
            }
            if !policy.optOutInstructions.contains(where: { folded.contains(normalized($0)) }) {
                problems.append(.object(["rule": .string("sms_opt_out"), "field": .string("body"),
                                         "expected": .array(policy.optOutInstructions.map(JSONValue.string))]))
            }
        }
        if input.investment && !policy.riskWarnings.contains(where: { folded.contains(normalized($0)) }) {
            problems.append(.object(["rule": .string("risk_warning"), "field": .string("body"),
                                     "expected": .array(policy.riskWarnings.map(JSONValue.string))]))
        }
        guard problems.isEmpty else {
            var message = "the template fails the compliance review"
            if !banned.isEmpty { message += ": banned claims " + banned.joined(separator: ", ") }
            throw APIError.unprocessable(message, code: "template_noncompliant",
                                         details: .object(["field": .string("body"), "problems": .array(problems),
                                                           "bannedWords": .array(banned.map(JSONValue.string))]))
        }
    }

    /// Upper-cased, full-width ASCII folded to half-width, white space removed.
    static func normalized(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            if scalar.properties.isWhitespace || scalar.value == 0x3000 { continue }
            if (0xFF01...0xFF5E).contains(scalar.value), let half = Unicode.Scalar(scalar.value - 0xFEE0) {
                out.append(contentsOf: String(half).uppercased().unicodeScalars)
            } else {
                out.append(contentsOf: String(scalar).uppercased().unicodeScalars)
            }
        }
        return String(out)
    }
}
