import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The ordered feed of changed customers for the segment service, and the snapshot to start from.
///
/// Order is (transaction id, sequence). A page holds only rows of transactions older than every
/// transaction still running (`pg_snapshot_xmin`), so a transaction that commits late can never slip
/// in behind a cursor: no change is skipped, whatever the concurrency of writers. A customer changed
/// several times appears several times; each item carries its state at read time.
public struct ChangeFeed: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    /// A position in the feed: everything after (tx, seq).
    public struct Cursor: Sendable, Equatable, CustomStringConvertible {
        public var tx: UInt64
        public var seq: Int64

        public static let start = Cursor(tx: 0, seq: 0)

        public init(tx: UInt64, seq: Int64) {
            self.tx = tx
            self.seq = seq
        }

        public init?(_ text: String) {
            let parts = text.split(separator: "-")
            guard parts.count == 2, let tx = UInt64(parts[0]), let seq = Int64(parts[1]) else { return nil }
            self.init(tx: tx, seq: seq)
        }

        public var description: String { "\(tx)-\(seq)" }
    }

    public struct Page: Sendable, Codable {
        public var items: [CustomerFactsDocument]
        /// Where to continue; equal to the request's cursor when nothing new is final yet.
        public var nextCursor: String
        /// True when the page was not full: the reader has everything final so far.
        public var caughtUp: Bool

        /// The page as JSON text, written directly: with `JSONEncoder` a page of a few hundred documents
        /// cost more than reading them from the database.
        public var jsonBytes: [UInt8] {
            var bytes = CustomerFactsDocument.itemsJSON(items, closed: false)
            JSONText.appendKey("nextCursor", to: &bytes)
            JSONString.append(nextCursor, to: &bytes)
            JSONText.appendKey("caughtUp", to: &bytes)
            JSONValue.bool(caughtUp).write(into: &bytes)
            bytes.append(UInt8(ascii: "}"))
            return bytes
        }
    }

    public func changes(after cursor: Cursor, limit: Int) throws -> Page {
        try database.transaction(isolation: .repeatableRead) { conn in
            let ids = try Self.changedCustomers(after: cursor, limit: limit, on: conn)
            return Page(items: try CustomerFactsDocument.load(ids.customerIds, on: conn), nextCursor: ids.next.description,
                        caughtUp: ids.rows < limit)
        }
    }

    /// The customers changed after `cursor` (at most `limit` feed rows), distinct and in the order first
    /// seen, with the cursor after the last row read and how many rows were read. The one query of the
    /// feed's order and visibility rule: other followers of the feed (the rule-tag worker) read it here.
    static func changedCustomers(after cursor: Cursor, limit: Int,
                                 on conn: PostgresConnection) throws -> (customerIds: [String], next: Cursor, rows: Int) {
        // Ordered by the xid8 column itself (an output alias `tx` of the text would sort "1000" before
        // "999" and skip changes), which is also the primary key's order: an index range scan.
        let rows = try conn.query("""
            SELECT c.tx::text AS tx_text, c.seq, c.customer_id FROM customer_changes c
             WHERE c.tx < pg_snapshot_xmin(pg_current_snapshot()) AND (c.tx, c.seq) > ($1::text::xid8, $2::bigint)
             ORDER BY c.tx, c.seq LIMIT $3
            """, String(cursor.tx), cursor.seq, limit)
        var next = cursor
        var ids: [String] = []
        for row in rows {
            next = Cursor(tx: UInt64(try row.decode("tx_text", as: String.self)) ?? next.tx, seq: try row.decode("seq"))
            ids.append(try row.decode("customer_id"))
        }
        // One entry per customer of the page, in the order first seen.
        var seen = Set<String>()
        return (ids.filter { seen.insert($0).inserted }, next, rows.count)
    }

    /// Streams every customer's document as NDJSON, preceded by `{"cursor": …}`: following the feed from
    /// that cursor afterwards misses nothing that the snapshot did not contain.
    public func snapshot(batchSize: Int = 1_000, into writer: any ResponseBodyWriter) throws {
        try database.transaction(isolation: .repeatableRead) { conn in
            // Every transaction below xmin is in this snapshot; any change of a later one is replayed.
            let xmin = try conn.query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS x")[0].decode("x", as: String.self)
            let start = Cursor(tx: (UInt64(xmin) ?? 1) &- 1, seq: Int64.max)
            try writer.write(JSONValue.object(["cursor": .string(start.description)]).jsonBytes + [0x0A])
            var after = ""
            while true {
                let ids = try conn.query("SELECT id FROM customers WHERE id > $1 ORDER BY id LIMIT $2", after, batchSize)
                    .map { try $0.decode("id", as: String.self) }
                guard let last = ids.last else { break }
                var chunk: [UInt8] = []
                for document in try CustomerFactsDocument.load(ids, on: conn) {
                    document.write(into: &chunk)
                    chunk.append(0x0A)
                }
                try writer.write(chunk)
                after = last
            }
        }
    }
}

