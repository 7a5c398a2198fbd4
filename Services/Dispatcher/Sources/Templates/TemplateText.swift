import Contracts
import Foundation

/// The `{{…}}` placeholders of a template body: `{{name}}` (a customer attribute or a send variable)
/// and `{{link:https://…}}` (a tracked short link).
enum TemplateText {
    enum Piece: Equatable {
        case text(Substring)
        case variable(String)
        case link(String)
    }

    /// Variable names: letters, digits, `_`, `.`; at most 64 characters.
    static func isName(_ s: Substring) -> Bool {
        (1...64).contains(s.utf8.count) && s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 46 }
    }

    /// The body cut into text, variables and links; 422 `template_invalid` naming the fault.
    static func parse(_ body: String) throws -> [Piece] {
        var pieces: [Piece] = []
        var rest = body[...]
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { pieces.append(.text(rest[rest.startIndex..<open.lowerBound])) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw APIError.unprocessable("a {{ is not closed by }}", code: "template_invalid", details: .object(["field": .string("body")]))
            }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if inner.hasPrefix("link:") {
                let url = String(inner.dropFirst(5))
                guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "https" || scheme == "http",
                      parsed.host != nil, url.utf8.count <= 2000 else {
                    throw APIError.unprocessable("{{link:…}} needs an absolute http(s) URL", code: "template_invalid",
                                                 details: .object(["field": .string("body"), "placeholder": .string(String(inner.prefix(80)))]))
                }
                pieces.append(.link(url))
            } else {
                guard isName(inner[...]) else {
                    throw APIError.unprocessable("{{\(inner.prefix(64))}} is not a variable name (letters, digits, _ and .)", code: "template_invalid",
                                                 details: .object(["field": .string("body"), "placeholder": .string(String(inner.prefix(64)))]))
                }
                pieces.append(.variable(inner))
            }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.text(rest)) }
        return pieces
    }

    /// The distinct variable names in order of first use.
    static func variables(in body: String) throws -> [String] {
        var seen = Set<String>(), out: [String] = []
        for case .variable(let name) in try parse(body) where seen.insert(name).inserted { out.append(name) }
        return out
    }

    /// The body with placeholders removed, for the compliance review of the fixed text.
    static func fixedText(_ body: String) -> String {
        guard let pieces = try? parse(body) else { return body }
        return pieces.map { if case .text(let t) = $0 { return String(t) } else { return " " } }.joined()
    }
}
