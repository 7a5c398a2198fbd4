import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// Reading messages through the caller's org scope.
public struct MessageStore: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let notFound = APIError.notFound("no such message", code: "message_not_found")

    func message(id: String, caller: CallerIdentity) throws -> Message {
        guard RecordId.isValid(id, prefix: "msg_") else { throw Self.notFound }
        guard let row = try database.query("SELECT \(Message.columns) FROM messages m WHERE m.id = $1 AND starts_with(m.org_path, $2)",
                                           id, caller.orgPath).first else { throw Self.notFound }
        return try Message(row: row)
    }

    /// Lookups of the send and delivery paths (no caller scope: they check it themselves).
    enum Lookup {
        case ids([String])
        case keys([String])
    }

    /// The messages named by `lookup`, by id or by key as asked.
    func messages(_ lookup: Lookup) throws -> [String: Message] {
        let (column, values): (String, [String]) = switch lookup {
        case .ids(let ids): ("id", ids)
        case .keys(let keys): ("idempotency_key", keys)
        }
        guard !values.isEmpty else { return [:] }
        var out: [String: Message] = [:]
        for row in try database.query("SELECT \(Message.columns) FROM messages m WHERE m.\(column) = ANY($1::text[])", values) {
            let m = try Message(row: row)
            if case .ids = lookup { out[m.id] = m } else { out[m.key] = m }
        }
        return out
    }

    /// A customer's 20 latest messages, newest first.
    func latest(customerId: String, caller: CallerIdentity) throws -> [Message] {
        try database.query("""
            SELECT \(Message.columns) FROM messages m WHERE m.customer_id = $1 AND starts_with(m.org_path, $2) ORDER BY m.id DESC LIMIT 20
            """, customerId, caller.orgPath).map { try Message(row: $0) }
    }

    /// `GET /api/v1/messages?customerId=&canvasId=&status=`: at least a customer or a canvas, in id order.
    func messages(query: QueryParameters, caller: CallerIdentity) throws -> Page<Message> {
        let page = try PageRequest(query: query)
        let customerId = query["customerId"].flatMap { $0.isEmpty ? nil : $0 }
        let canvasId = query["canvasId"].flatMap { $0.isEmpty ? nil : $0 }
        guard customerId != nil || canvasId != nil else {
            throw APIError.badRequest("give customerId or canvasId", field: "customerId")
        }
        for (name, value) in [("customerId", customerId), ("canvasId", canvasId)] where (value?.utf8.count ?? 0) > 64 {
            throw APIError.badRequest("\(name) is at most 64 characters", field: name)
        }
        var status: String?
        if let s = query["status"], !s.isEmpty {
            guard MessageStatus(rawValue: s) != nil else {
                throw APIError.badRequest("status must be one of \(MessageStatus.allCases.map(\.rawValue).joined(separator: " "))", field: "status")
            }
            status = s
        }
        let rows = try database.query("""
            SELECT \(Message.columns) FROM messages m
             WHERE starts_with(m.org_path, $1) AND ($2::text IS NULL OR m.customer_id = $2) AND ($3::text IS NULL OR m.canvas_id = $3)
               AND ($4::text IS NULL OR m.status = $4) AND ($5::text IS NULL OR m.id > $5)
             ORDER BY m.id LIMIT $6
            """, caller.orgPath, customerId, canvasId, status, page.after, page.limit + 1)
        return PageRequest.page(try rows.map { try Message(row: $0) }, limit: page.limit, key: \.id)
    }
}
