import Contracts
import Foundation

/// Which audit rows a caller may see.
public enum AuditScope: Sendable, Equatable {
    /// Every row, including those without an org unit (anonymous attempts): head office.
    case all
    /// Rows whose org path is this unit's path or lies below it; rows without an org are excluded.
    case subtree(orgPath: String)

    /// The scope of a caller: head office (a root unit, path `/hq/` or `/`) sees all, any other unit
    /// its own subtree.
    public static func of(_ caller: CallerIdentity) -> AuditScope {
        let segments = caller.orgPath.split(separator: "/", omittingEmptySubsequences: true)
        return segments.count <= 1 ? .all : .subtree(orgPath: caller.orgPath)
    }
}

/// A filtered, paged read of the audit log. Every filter is optional; they combine with AND.
public struct AuditQuery: Sendable, Equatable {
    /// Largest page; `limit` is validated against it by the route.
    public static let maximumLimit = 500
    public static let defaultLimit = 50

    public var scope: AuditScope
    /// A user id or a username (matches either column).
    public var user: String?
    /// A path, or a prefix of paths ending at a segment boundary: `/api/v1/users` matches
    /// `/api/v1/users`, `/api/v1/users/u_1` and `/api/v1/users/u_1:lock`, not `/api/v1/users2`.
    public var resource: String?
    /// Exact action, e.g. `POST /api/v1/users`.
    public var action: String?
    /// Entries at or after this instant.
    public var from: Date?
    /// Entries strictly before this instant.
    public var to: Date?
    public var limit: Int
    /// Continue after this position (from a previous page's `nextCursor`).
    public var after: AuditCursor?

    public init(scope: AuditScope, user: String? = nil, resource: String? = nil, action: String? = nil,
                from: Date? = nil, to: Date? = nil, limit: Int = AuditQuery.defaultLimit, after: AuditCursor? = nil) {
        self.scope = scope
        self.user = user
        self.resource = resource
        self.action = action
        self.from = from
        self.to = to
        self.limit = limit
        self.after = after
    }
}

/// A position in the newest-first listing: the id of the last row of a page. Opaque to clients:
/// base64url of `v1:<id>`, so the format can change without breaking the API's promise.
public struct AuditCursor: Sendable, Equatable {
    public var lastId: Int64

    public init(lastId: Int64) { self.lastId = lastId }

    /// The token sent to clients.
    public var token: String {
        Data("v1:\(lastId)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Parses a token made by `token`; nil for anything else.
    public init?(token: String) {
        guard !token.isEmpty, token.utf8.count <= 64,
              token.utf8.allSatisfy({ Self.isBase64URL($0) }) else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
              text.hasPrefix("v1:"), let id = Int64(text.dropFirst(3)), id > 0,
              text.dropFirst(3).allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        lastId = id
    }

    private static func isBase64URL(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}
