import Contracts
import HTTP

/// One page of a list endpoint: `{"items": [...], "nextCursor": "..."|null}` (DESIGN.md §3).
///
/// `nextCursor` is always written, as `null` on the last page, so clients never have to tell a missing
/// key from the end of the list; decoding likewise requires both keys.
public struct Page<Item: Sendable>: Sendable {
    /// The items of this page, in the list's order.
    public var items: [Item]
    /// The cursor that continues after the last item; nil when this is the last page.
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case items, nextCursor }
}

extension Page: Encodable where Item: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(items, forKey: .items)
        // `encode` of an Optional writes `null`; the synthesized `encodeIfPresent` would drop the key.
        try c.encode(nextCursor, forKey: .nextCursor)
    }
}

extension Page: Decodable where Item: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        items = try c.decode([Item].self, forKey: .items)
        // `decode` (not `decodeIfPresent`): a page without the key breaks the contract.
        nextCursor = try c.decode(String?.self, forKey: .nextCursor)
    }
}

extension Page: Equatable where Item: Equatable {}

/// `?limit=&cursor=` of a list request, for keyset paging.
///
/// A list is ordered by a unique string sort key (a path, a name, an id as decimal text …). The cursor
/// is opaque to clients: the base64url (`Base64URL`) of the last item's sort key. A store reads the
/// items whose key comes after `after`, `limit + 1` of them, and hands them to `page(_:limit:key:)`.
public struct PageRequest: Sendable, Equatable {
    /// Items per page when the request names no `limit`, unless the endpoint says otherwise.
    public static let defaultLimit = 50
    /// The largest `limit` a list accepts unless the endpoint says otherwise.
    public static let defaultMaximumLimit = 200
    /// The longest sort key a cursor can carry, in UTF-8 bytes; keys must stay within it.
    public static let maximumKeyBytes = 3072
    /// The longest cursor accepted: the base64url text of `maximumKeyBytes` bytes. Checked before
    /// decoding, so a huge parameter costs nothing.
    public static let maximumCursorLength = (maximumKeyBytes * 4 + 2) / 3

    /// Items in the page (at least 1).
    public var limit: Int
    /// The sort key after which the page starts; nil for the first page.
    public var after: String?

    public init(limit: Int = PageRequest.defaultLimit, after: String? = nil) {
        self.limit = limit
        self.after = after
    }

    /// Reads `limit` (1…`maximumLimit`, default `defaultLimit`) and `cursor` from a request's query.
    /// An absent or empty `cursor` means the first page.
    ///
    /// - Parameters:
    ///   - maximumLimit: the endpoint's largest page; values below 1 count as 1.
    ///   - defaultLimit: the page size without `limit`; kept within 1…`maximumLimit`.
    /// - Throws: `APIError.badRequest` naming `limit` when it is not an integer in range, naming
    ///   `cursor` when it is not one `cursor(after:)` could have made (strict base64url of non-empty
    ///   UTF-8 without NUL, at most `maximumCursorLength` characters).
    public init(query: QueryParameters, maximumLimit: Int = PageRequest.defaultMaximumLimit,
                defaultLimit: Int = PageRequest.defaultLimit) throws {
        let maximum = max(1, maximumLimit)
        limit = min(max(1, defaultLimit), maximum)
        if let text = query["limit"] {
            guard let n = Int(text), (1...maximum).contains(n) else {
                throw APIError.badRequest("limit must be an integer from 1 to \(maximum)", field: "limit")
            }
            limit = n
        }
        if let cursor = query["cursor"], !cursor.isEmpty {
            guard let key = Self.key(fromCursor: cursor) else { throw Self.malformedCursor }
            after = key
        }
    }

    /// The 400 for a `cursor` this API did not issue. Endpoints that check the key further (e.g. that
    /// it is a row id) throw this one too, so clients see one answer for every bad cursor.
    public static let malformedCursor = APIError.badRequest("cursor is not one this API issued", field: "cursor")

    /// The cursor for the page after one whose last sort key is `key`.
    public static func cursor(after key: String) -> String { Base64URL.encode(Array(key.utf8)) }

    /// The sort key a cursor carries, or nil for anything `cursor(after:)` does not produce.
    static func key(fromCursor cursor: String) -> String? {
        guard cursor.utf8.count <= maximumCursorLength, let bytes = Base64URL.decode(cursor),
              !bytes.isEmpty, !bytes.contains(0), let key = String(validating: bytes, as: UTF8.self) else { return nil }
        return key
    }

    /// Turns up to `limit + 1` fetched items into a page: the extra one only tells that more exist,
    /// and the page's `nextCursor` then continues after the last item kept (by its `key`).
    public static func page<Item>(_ fetched: [Item], limit: Int, key: (Item) -> String) -> Page<Item> {
        let limit = max(0, limit)
        if fetched.count > limit {
            let items = Array(fetched.prefix(limit))
            return Page(items: items, nextCursor: items.last.map { cursor(after: key($0)) })
        }
        return Page(items: fetched, nextCursor: nil)
    }
}
