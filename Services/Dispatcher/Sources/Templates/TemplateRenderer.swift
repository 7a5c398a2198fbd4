import Contracts
import Foundation

/// Fills a template for one customer: `{{name}}` from the send's variables, else the customer's
/// attributes; `{{link:url}}` becomes a tracked short link. Values are escaped for the channel, so a
/// customer's data can neither break an email's HTML nor fake an SMS signature.
struct TemplateRenderer {
    let publicURL: String

    struct Rendered {
        var title: String?
        var body: String
        /// Tracked links created for this message: code → target URL.
        var links: [(code: String, url: String)]
    }

    /// 422 `template_variable_missing` naming the variable when neither the send nor the customer has it.
    func render(_ template: Template, variables: [String: String], contact: CustomerContact, field: String) throws -> Rendered {
        try render(channel: template.channel, title: template.title, body: template.body, variables: variables, contact: contact, field: field)
    }

    func render(channel: Channel, title: String?, body: String, variables: [String: String], contact: CustomerContact,
                field: String) throws -> Rendered {
        var links: [(code: String, url: String)] = []
        func fill(_ text: String) throws -> String {
            var out = ""
            for piece in try TemplateText.parse(text) {
                switch piece {
                case .text(let t): out += t
                case .link(let url):
                    let code = Self.newCode()
                    links.append((code, url))
                    out += publicURL + "/t/" + code
                case .variable(let name):
                    guard let value = variables[name] ?? Self.text(contact.attributes[name]) else {
                        throw APIError.unprocessable("the template needs {{\(name)}}: give it in variables or as a customer attribute",
                                                     code: "template_variable_missing",
                                                     details: .object(["field": .string(field), "variable": .string(name)]))
                    }
                    out += Self.escape(value, for: channel)
                }
            }
            return out
        }
        return Rendered(title: try title.map(fill), body: try fill(body), links: links)
    }

    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let s)?: return s
        case .number(let n)?: return n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b)?: return b ? "是" : "否"
        default: return nil
        }
    }

    /// The value as it may appear in a message of `channel`: never control characters; for SMS and
    /// calls no 【】 (only the bank's own signature may use them) and at most 100 characters; for email,
    /// HTML-escaped.
    static func escape(_ value: String, for channel: Channel) -> String {
        var clean = String(String.UnicodeScalarView(value.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f && !(0x80...0x9f).contains($0.value) }))
        switch channel {
        case .sms, .call:
            clean = clean.replacingOccurrences(of: "【", with: "[").replacingOccurrences(of: "】", with: "]")
            if clean.count > 100 { clean = String(clean.prefix(100)) }
            return clean
        case .email:
            var out = ""
            for ch in clean {
                switch ch {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&quot;"
                case "'": out += "&#39;"
                default: out.append(ch)
                }
            }
            return out
        case .push, .inbox, .wechat, .wecom:
            return clean.count > 500 ? String(clean.prefix(500)) : clean
        }
    }

    /// 16 random letters and digits.
    static func newCode() -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var g = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &g)] })
    }
}
