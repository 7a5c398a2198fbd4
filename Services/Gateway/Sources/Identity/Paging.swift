import Contracts
import Foundation
import HTTP

/// A page of a list endpoint: `{"items": [...], "nextCursor": "..."|null}`.
public struct Page<Item: Sendable & Encodable>: Sendable, Encodable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(items, forKey: .items)
        // Always present: `null` on the last page.
        try c.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case items, nextCursor }
}

/// `?limit=&cursor=` of a list request. The cursor is opaque to clients: the base64url of the last
/// item's sort key.
public struct PageRequest: Sendable, Equatable {
    public static let defaultLimit = 50
    public static let maximumLimit = 200

    public var limit: Int
    /// The sort key after which the page starts; nil for the first page.
    public var after: String?

    public init(limit: Int = PageRequest.defaultLimit, after: String? = nil) {
        self.limit = limit
        self.after = after
    }

    /// Reads `limit` (1…200, default 50) and `cursor`; a malformed one is a 400 naming it.
    public init(query: QueryParameters) throws {
        limit = Self.defaultLimit
        if let text = query["limit"] {
            guard let n = Int(text), (1...Self.maximumLimit).contains(n) else {
                throw APIError.badRequest("limit must be an integer from 1 to \(Self.maximumLimit)", field: "limit")
            }
            limit = n
        }
        if let cursor = query["cursor"], !cursor.isEmpty {
            guard let bytes = IdentitySecrets.decodeBase64URL(cursor),
                  let key = String(validating: bytes, as: UTF8.self), !key.isEmpty, !key.utf8.contains(0) else {
                throw APIError.badRequest("cursor is not one this API issued", field: "cursor")
            }
            after = key
        }
    }

    /// The cursor for the page after one whose last sort key is `key`.
    static func cursor(after key: String) -> String { IdentitySecrets.base64URL(Array(key.utf8)) }

    /// Turns `limit + 1` fetched items into a page (the extra one only tells that more exist).
    static func page<Item>(_ fetched: [Item], limit: Int, key: (Item) -> String) -> Page<Item> {
        if fetched.count > limit {
            let items = Array(fetched.prefix(limit))
            return Page(items: items, nextCursor: items.last.map { cursor(after: key($0)) })
        }
        return Page(items: fetched, nextCursor: nil)
    }
}
