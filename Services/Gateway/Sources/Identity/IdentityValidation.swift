import Contracts
import Foundation

/// Checks of the identity domain's input fields. Every failure is a 422 `field_invalid` whose
/// `details.field` names the field, so a console can point at it.
enum IdentityValidation {
    static let minimumPasswordLength = 10
    /// bcrypt reads at most 72 bytes; longer passwords would be silently truncated, so they are refused.
    static let maximumPasswordBytes = 72

    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(status: 422, code: "field_invalid", message: "\(field): \(message)",
                 details: .object(["field": .string(field)]))
    }

    /// 3–64 of `a-z 0-9 . _ @ -`, starting with a letter or digit (lower case: usernames are compared as typed).
    static func username(_ value: String, field: String = "username") throws -> String {
        guard isUsername(value) else {
            throw invalid(field, "3 to 64 characters of a-z, 0-9, '.', '_', '@', '-', starting with a letter or digit")
        }
        return value
    }

    static func isUsername(_ value: String) -> Bool {
        let u = Array(value.utf8)
        guard (3...64).contains(u.count), isLowerAlnum(u[0]) else { return false }
        return u.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
            || $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "-") }
    }

    static func password(_ value: String, field: String = "password") throws -> String {
        guard value.count >= minimumPasswordLength else {
            throw invalid(field, "at least \(minimumPasswordLength) characters")
        }
        guard value.utf8.count <= maximumPasswordBytes else {
            throw invalid(field, "at most \(maximumPasswordBytes) bytes (UTF-8)")
        }
        guard !hasControlCharacters(value) else { throw invalid(field, "must not contain control characters") }
        return value
    }

    /// True when `value` can be handed to the password hash (PostgreSQL text cannot hold NUL).
    static func isHashable(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 1024 && !value.utf8.contains(0)
    }

    /// One or more of `AccessPolicy.roles`, duplicates removed, in the policy's order.
    static func roles(_ values: [String], field: String = "roles") throws -> [String] {
        guard !values.isEmpty else { throw invalid(field, "at least one role") }
        for (i, r) in values.enumerated() where !AccessPolicy.roles.contains(r) {
            throw invalid("\(field)[\(i)]", "unknown role; one of \(AccessPolicy.roles.joined(separator: ", "))")
        }
        return AccessPolicy.roles.filter(values.contains)
    }

    /// Zero or more of `AccessPolicy.rights`, duplicates removed, in the policy's order.
    static func rights(_ values: [String], field: String = "rights", allowEmpty: Bool = true) throws -> [String] {
        guard allowEmpty || !values.isEmpty else { throw invalid(field, "at least one right") }
        for (i, r) in values.enumerated() where !AccessPolicy.rights.contains(r) {
            throw invalid("\(field)[\(i)]", "unknown right; one of \(AccessPolicy.rights.joined(separator: ", "))")
        }
        return AccessPolicy.rights.filter(values.contains)
    }

    /// 1–32 of `a-z 0-9 _ -`, starting with a letter or digit: ids become org paths (`/hq/sh/`).
    static func orgId(_ value: String, field: String = "orgId") throws -> String {
        guard isOrgId(value) else {
            throw invalid(field, "1 to 32 characters of a-z, 0-9, '_', '-', starting with a letter or digit")
        }
        return value
    }

    static func isOrgId(_ value: String) -> Bool {
        let u = Array(value.utf8)
        guard (1...32).contains(u.count), isLowerAlnum(u[0]) else { return false }
        return u.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// A display name: trimmed, 1–100 characters, no control characters.
    static func name(_ value: String, field: String = "name") throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(trimmed.count) else { throw invalid(field, "1 to 100 characters") }
        guard !hasControlCharacters(trimmed) else { throw invalid(field, "must not contain control characters") }
        return trimmed
    }

    /// A record id in a path (`/users/{id}`): anything else cannot exist, so it answers 404 at once.
    static func isRecordId(_ value: String) -> Bool {
        let u = value.utf8
        return (1...64).contains(u.count) && u.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// `Idempotency-Key`: 1–128 visible ASCII characters.
    static func hasControlCharacters(_ value: String) -> Bool {
        value.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }
}
