import Contracts
import Foundation
import ServiceKit

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
    public static let defaultLimit = PageRequest.defaultLimit

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
    /// Continue after this row id: the sort key of a previous page's `nextCursor` (see `rowId(pageKey:)`).
    public var after: Int64?

    public init(scope: AuditScope, user: String? = nil, resource: String? = nil, action: String? = nil,
                from: Date? = nil, to: Date? = nil, limit: Int = AuditQuery.defaultLimit, after: Int64? = nil) {
        self.scope = scope
        self.user = user
        self.resource = resource
        self.action = action
        self.from = from
        self.to = to
        self.limit = limit
        self.after = after
    }

    /// The row id of a page key, or nil unless the key is one the audit issues: a row id (positive)
    /// in canonical decimal, so every position has exactly one cursor.
    public static func rowId(pageKey key: String) -> Int64? {
        guard let first = key.utf8.first, first != UInt8(ascii: "0"), key.utf8.count <= 19,
              key.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let id = Int64(key), id > 0 else { return nil }
        return id
    }
}
