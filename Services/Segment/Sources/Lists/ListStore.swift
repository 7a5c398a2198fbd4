import Contracts
import Foundation
import Postgres
import ServiceKit

/// White and black lists and their members, through the caller's org scope (a caller sees the lists of
/// its subtree), and the global black lists every audience excludes.
public struct ListStore: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let notFound = APIError.notFound("no such list", code: "list_not_found")
    static let memberBatch = 10_000

    static func newId() -> String { RecordId.make("lst_") }

    static func isId(_ id: String) -> Bool {
        id.hasPrefix("lst_") && (5...64).contains(id.utf8.count)
            && id.utf8.dropFirst(4).allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
    }

    public func list(id: String, caller: CallerIdentity) throws -> CustomerList {
        guard Self.isId(id) else { throw Self.notFound }
        let rows = try database.query("SELECT \(CustomerList.columns) FROM customer_lists l WHERE l.id = $1 AND starts_with(l.org_path, $2)",
                                      id, caller.orgPath)
        guard let row = rows.first else { throw Self.notFound }
        return try CustomerList(row: row)
    }

    /// The caller's visible lists in id order.
    public func lists(caller: CallerIdentity, page: PageRequest) throws -> Page<CustomerList> {
        let rows = try database.query("""
            SELECT \(CustomerList.columns) FROM customer_lists l
             WHERE starts_with(l.org_path, $1) AND ($2::text IS NULL OR l.id > $2)
             ORDER BY l.id LIMIT $3
            """, caller.orgPath, page.after, page.limit + 1)
        return PageRequest.page(try rows.map { try CustomerList(row: $0) }, limit: page.limit, key: \.id)
    }

    /// Of `ids`, those the caller sees.
    func visibleIds(_ ids: [String], caller: CallerIdentity) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return Set(try database.query("SELECT id FROM customer_lists WHERE id = ANY($1::text[]) AND starts_with(org_path, $2)",
                                      ids, caller.orgPath).map { try $0.decode("id", as: String.self) })
    }

    /// Id and version of the lists of `ids`, and of every global black list.
    func versions(of ids: [String]) throws -> (named: [String: Int64], global: [String: Int64]) {
        var named: [String: Int64] = [:], global: [String: Int64] = [:]
        for row in try database.query("SELECT id, version, is_global FROM customer_lists WHERE id = ANY($1::text[]) OR is_global", ids) {
            let id: String = try row.decode("id"), version: Int64 = try row.decode("version")
            if ids.contains(id) { named[id] = version }
            if try row.decode("is_global", as: Bool.self) { global[id] = version }
        }
        return (named, global)
    }

    /// Stores a list owned by the caller's unit with its (known) members.
    func create(_ input: ListInput, members: [String], caller: CallerIdentity) throws -> CustomerList {
        try database.transaction { conn in
            let rows = try conn.query("""
                INSERT INTO customer_lists AS l (id, name, kind, is_global, org_id, org_path, created_by, size)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING \(CustomerList.columns)
                """, Self.newId(), input.name, input.kind.rawValue, input.global, caller.orgId, caller.orgPath, caller.userId,
                Int64(members.count))
            let list = try CustomerList(row: rows[0])
            var start = 0
            while start < members.count {
                let batch = Array(members[start..<min(start + Self.memberBatch, members.count)])
                try conn.execute("""
                    INSERT INTO customer_list_members (list_id, customer_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING
                    """, list.id, batch)
                start += Self.memberBatch
            }
            return list
        }
    }

    func members(of id: String) throws -> [String] {
        try database.query("SELECT customer_id FROM customer_list_members WHERE list_id = $1", id)
            .map { try $0.decode("customer_id", as: String.self) }
    }
}
