import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// `GET /api/v1/audit`: the audit trail, filtered and paged, within the caller's org scope.
///
/// Query parameters (all optional): `user` (id or username), `resource` (a path or a path prefix),
/// `action` (`POST /api/v1/users`), `from` and `to` (RFC 3339; `from` inclusive, `to` exclusive),
/// `limit` (1…500, default 50), `cursor` (a previous page's `nextCursor`). Answers
/// `{"items": [...], "nextCursor": "..."|null}`, newest first.
///
/// The gateway's auth middleware has already required the `manage` right; this handler checks it
/// again so the route is safe on any router. A head-office caller sees every row; any other caller
/// sees the rows of its own unit and the units below it, never rows without an org unit.
public enum AuditRoutes {
    public static let path = "/api/v1/audit"

    public static func register(on router: Router, log: AuditLog) {
        router.get(path) { request, context in
            let caller = try context.requireIdentity()
            guard caller.has(right: "manage") else {
                throw APIError(status: 403, code: "forbidden", message: "this needs the manage right",
                               details: .object(["right": .string("manage")]))
            }
            let query = try parse(request.queryParameters, scope: AuditScope.of(caller))
            let page: Page<AuditRecord>
            do {
                page = try log.search(query)
            } catch let error as PostgresError where error.isUnavailable {
                throw APIError.unavailable("the audit log is unavailable, retry later", code: "database_unavailable")
            }
            return try .json(page)
        }
    }

    /// The query for these parameters, or a 400 naming the parameter at fault.
    public static func parse(_ parameters: QueryParameters, scope: AuditScope) throws -> AuditQuery {
        var query = AuditQuery(scope: scope)
        query.user = try text(parameters, "user", maxBytes: AuditLog.Limit.name)
        query.resource = try text(parameters, "resource", maxBytes: AuditLog.Limit.resource)
        query.action = try text(parameters, "action", maxBytes: AuditLog.Limit.action)
        query.from = try time(parameters, "from")
        query.to = try time(parameters, "to")
        if let from = query.from, let to = query.to, from > to {
            throw APIError.badRequest("from must not be later than to", field: "to")
        }
        let page = try PageRequest(query: parameters, maximumLimit: AuditQuery.maximumLimit,
                                   defaultLimit: AuditQuery.defaultLimit)
        query.limit = page.limit
        if let key = page.after {
            // Well-formed, but the audit's keys are row ids: anything else was not issued here.
            guard let id = AuditQuery.rowId(pageKey: key) else { throw PageRequest.malformedCursor }
            query.after = id
        }
        return query
    }

    /// A non-empty text filter, nil when absent or empty.
    private static func text(_ parameters: QueryParameters, _ name: String, maxBytes: Int) throws -> String? {
        guard let value = parameters[name], !value.isEmpty else { return nil }
        guard value.utf8.count <= maxBytes else {
            throw APIError.badRequest("\(name) is longer than \(maxBytes) bytes", field: name)
        }
        guard !value.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw APIError.badRequest("\(name) contains a NUL character", field: name)
        }
        return value
    }

    /// An RFC 3339 time. A `+` of a numeric offset that arrived unencoded reads as a space in a query
    /// string (`…T08:00:00 08:00`); it is taken back as `+`, since a space is never valid there.
    private static func time(_ parameters: QueryParameters, _ name: String) throws -> Date? {
        guard let value = parameters[name], !value.isEmpty else { return nil }
        if let date = JSONCoding.parseDate(value) ?? JSONCoding.parseDate(value.replacingOccurrences(of: " ", with: "+")) {
            return date
        }
        throw APIError.badRequest("\(name) must be an RFC 3339 time such as 2025-03-01T08:00:00Z", field: name)
    }
}
