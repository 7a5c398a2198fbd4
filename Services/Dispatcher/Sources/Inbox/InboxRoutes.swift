import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// The in-app inbox the bank's app reads: `GET /api/v1/inbox/{customerId}` (newest first) and
/// `POST /api/v1/inbox/{customerId}/{messageId}:read`.
public enum InboxRoutes {
    struct Item: Encodable {
        var messageId: String
        var title: String?
        var body: String
        var createdAt: Date
        var readAt: Date?

        init(row: PostgresRow) throws {
            messageId = try row.decode("message_id")
            title = try row.decode("title")
            body = try row.decode("body")
            createdAt = try row.decode("created_at")
            readAt = try row.decode("read_at")
        }
    }

    public static func register(on router: Router, database: PostgresPool) {
        router.get("/api/v1/inbox/{customerId}") { request, context in
            let caller = try context.requireIdentity()
            let customerId = try context.parameters.require("customerId")
            let page = try PageRequest(query: request.queryParameters)
            let unreadOnly = request.queryParameters["unread"] == "true"
            let rows = try database.query("""
                SELECT i.message_id, i.title, i.body, i.created_at, i.read_at FROM inbox_items i JOIN messages m ON m.id = i.message_id
                 WHERE i.customer_id = $1 AND starts_with(m.org_path, $2) AND ($3::text IS NULL OR i.message_id < $3)
                   AND (NOT $5 OR i.read_at IS NULL)
                 ORDER BY i.message_id DESC LIMIT $4
                """, customerId, caller.orgPath, page.after, page.limit + 1, unreadOnly)
            return try .json(PageRequest.page(try rows.map(Item.init(row:)), limit: page.limit, key: \.messageId))
        }
        router.post("/api/v1/inbox/{customerId}/{messageId}:read") { _, context in
            let caller = try context.requireIdentity()
            let rows = try database.query("""
                UPDATE inbox_items i SET read_at = coalesce(i.read_at, now()) FROM messages m
                 WHERE i.message_id = $2 AND i.customer_id = $1 AND m.id = i.message_id AND starts_with(m.org_path, $3)
                RETURNING i.message_id, i.title, i.body, i.created_at, i.read_at
                """, try context.parameters.require("customerId"), try context.parameters.require("messageId"), caller.orgPath)
            guard let row = rows.first else { throw APIError.notFound("no such inbox message", code: "inbox_message_not_found") }
            return try .json(try Item(row: row))
        }
    }
}
