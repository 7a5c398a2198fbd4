import Contracts
import Foundation
import Postgres
import ServiceKit

/// Follow-up tasks of the `task` node for account managers (DESIGN.md §1): created once per journey
/// step, listed for the caller's subtree, completed by their assignee or anyone with edit rights there.
public struct TaskStore: Sendable {
    let database: PostgresPool

    public struct FollowUp: Sendable, Encodable {
        public var id: String
        public var canvasId: String
        public var nodeId: String
        public var customerId: String
        public var assignee: String?
        public var text: String
        public var status: String
        public var createdAt: Date
        public var completedAt: Date?
    }

    static let columns = "t.id, t.canvas_id, t.node, t.customer_id, t.assignee, t.text, t.status, t.created_at, t.completed_at"

    static func insert(ids: [String], canvas: [String], node: [String], journey: [Int64], step: [Int], customer: [String], orgPath: [String],
                       text: [String], assignee: [String?], on conn: PostgresConnection) throws {
        try conn.execute("""
            INSERT INTO tasks (id, canvas_id, node, journey_id, step, customer_id, org_path, text, assignee)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[])
            ON CONFLICT (journey_id, node, step) DO NOTHING
            """, ids, canvas, node, journey, step, customer, orgPath, text, assignee)
    }

    /// A caller without edit rights (an account manager) sees and completes only the tasks assigned to it.
    static func onlyOwn(_ caller: CallerIdentity) -> String? { caller.has(right: "edit") ? nil : caller.userId }

    static func task(_ r: PostgresRow) throws -> FollowUp {
        FollowUp(id: try r.decode("id"), canvasId: try r.decode("canvas_id"), nodeId: try r.decode("node"), customerId: try r.decode("customer_id"),
                 assignee: try r.decode("assignee"), text: try r.decode("text"), status: try r.decode("status"),
                 createdAt: try r.decode("created_at"), completedAt: try r.decode("completed_at"))
    }

    func list(caller: CallerIdentity, status: String?, page: PageRequest) throws -> Page<FollowUp> {
        if let status, !["open", "done"].contains(status) { throw APIError.badRequest("status must be open or done", field: "status") }
        let rows = try database.query("""
            SELECT \(Self.columns) FROM tasks t WHERE starts_with(t.org_path, $1) AND ($2::text IS NULL OR t.id > $2)
               AND ($4::text IS NULL OR t.status = $4) AND ($5::text IS NULL OR t.assignee = $5) ORDER BY t.id LIMIT $3
            """, caller.orgPath, page.after, page.limit + 1, status, Self.onlyOwn(caller))
        return PageRequest.page(try rows.map(Self.task), limit: page.limit, key: \.id)
    }

    func complete(id: String, caller: CallerIdentity) throws -> FollowUp {
        let rows = try database.query("""
            UPDATE tasks t SET status = 'done', completed_at = coalesce(t.completed_at, now())
             WHERE t.id = $1 AND starts_with(t.org_path, $2) AND ($3::text IS NULL OR t.assignee = $3) RETURNING \(Self.columns)
            """, id, caller.orgPath, Self.onlyOwn(caller))
        guard let r = rows.first else { throw APIError.notFound("no such task", code: "task_not_found") }
        return try Self.task(r)
    }
}
