import Contracts
import Foundation
import HTTP

/// The profile service's change feed as the segment service reads it (`Services/Profile/Sources/Changes`):
///
/// - `GET /internal/v1/customers:snapshot`: NDJSON, a first line `{"cursor": "tx-seq"}` and then one
///   `CustomerFactsDocument` per line; following the feed from that cursor misses nothing.
/// - `GET /internal/v1/changes?after=&limit=`: `{items: [CustomerFactsDocument], nextCursor, caughtUp}`.
///
/// Calls carry the internal credential (the service's client) and no caller: the index holds every customer.
struct ProfileFeedClient: Sendable {
    let client: HTTPClient
    let baseURL: String
    /// A snapshot of millions of customers takes minutes; a page of changes seconds at most.
    static let snapshotTimeoutMs = 3_600_000
    static let pageTimeoutMs = 30_000

    struct ChangesPage: Sendable {
        var items: [CustomerFactsDocument]
        var nextCursor: String
        var caughtUp: Bool

        /// Read with the direct parser and `CustomerFactsDocument(json:)`: with `JSONDecoder` the page
        /// cost the follower more than applying it.
        init(json: JSONValue) throws {
            guard case .array(let items)? = json["items"], case .string(let next)? = json["nextCursor"],
                  case .bool(let caughtUp)? = json["caughtUp"] else {
                throw FeedError("a page of changes lacks items, nextCursor or caughtUp")
            }
            self.items = try items.map { try CustomerFactsDocument(json: $0) }
            self.nextCursor = next
            self.caughtUp = caughtUp
        }
    }

    /// Streams the snapshot into `apply`, one document at a time, and returns the cursor to follow from.
    func snapshot(_ apply: @escaping (CustomerFactsDocument) -> Void) throws -> String {
        let reader = NDJSONSnapshotReader(apply: apply)
        let request = HTTPClientRequest(method: "GET", url: baseURL + "/internal/v1/customers:snapshot",
                                        headers: ["accept": "application/x-ndjson"], timeoutMs: Self.snapshotTimeoutMs)
        try client.stream(request, onHead: { status, _ in
            guard status == 200 else { throw FeedError("the snapshot answered \(status)") }
        }, onBody: { chunk in try reader.consume(chunk) })
        try reader.finish()
        guard let cursor = reader.cursor else { throw FeedError("the snapshot had no cursor line") }
        return cursor
    }

    /// One page of changes after `cursor`.
    func changes(after cursor: String, limit: Int) throws -> ChangesPage {
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "after", value: cursor), URLQueryItem(name: "limit", value: String(limit))]
        let query = components.percentEncodedQuery ?? ""
        return try ChangesPage(json: client.get(baseURL + "/internal/v1/changes?" + query, as: JSONValue.self,
                                                timeoutMs: Self.pageTimeoutMs))
    }
}

/// A failure to read the feed; the follower logs it and tries again.
struct FeedError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Splits the snapshot's NDJSON into lines as chunks arrive (a line may span chunks) and decodes them.
///
/// Thread-safety: used by the one thread running the transfer.
final class NDJSONSnapshotReader: @unchecked Sendable {
    private let apply: (CustomerFactsDocument) -> Void
    private var pending: [UInt8] = []
    private(set) var cursor: String?
    private let decoder = JSONCoding.decoder()
    /// A document is a few KB; anything this long is not one of ours.
    static let maximumLineBytes = 16 << 20

    init(apply: @escaping (CustomerFactsDocument) -> Void) { self.apply = apply }

    func consume(_ chunk: [UInt8]) throws {
        var start = 0
        for i in chunk.indices where chunk[i] == 0x0A {
            if pending.isEmpty {
                try line(chunk[start..<i])
            } else {
                pending += chunk[start..<i]
                try line(pending[...])
                pending.removeAll(keepingCapacity: true)
            }
            start = i + 1
        }
        pending += chunk[start...]
        guard pending.count <= Self.maximumLineBytes else { throw FeedError("a snapshot line exceeds \(Self.maximumLineBytes) bytes") }
    }

    func finish() throws {
        if !pending.isEmpty { try line(pending[...]) }
        pending = []
    }

    private struct CursorLine: Decodable { var cursor: String }

    private func line(_ bytes: ArraySlice<UInt8>) throws {
        guard !bytes.isEmpty else { return }
        guard cursor != nil else {
            cursor = try decoder.decode(CursorLine.self, from: Data(bytes)).cursor
            return
        }
        apply(try CustomerFactsDocument(jsonBytes: Array(bytes)))
    }
}
