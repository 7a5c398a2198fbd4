import Contracts
import Foundation
import HTTP
import ServiceKit

/// Internal routes of the change feed (service-to-service, with the internal credential):
/// `GET /internal/v1/changes?after=&limit=`, `GET /internal/v1/customers:snapshot` (NDJSON) and
/// `POST /internal/v1/customers:facts` `{ids}`.
public enum ChangeFeedRoutes {
    public static func register(on router: Router, feed: ChangeFeed) {
        router.get("/internal/v1/changes") { request, _ in
            let cursor: ChangeFeed.Cursor
            if let text = request.queryParameters["after"], !text.isEmpty {
                guard let parsed = ChangeFeed.Cursor(text) else {
                    throw APIError.badRequest("after is not a cursor this feed issued", field: "after")
                }
                cursor = parsed
            } else {
                cursor = .start
            }
            let limit = try PageRequest(query: request.queryParameters, maximumLimit: 5_000).limit
            return .json(encoded: try feed.changes(after: cursor, limit: limit).jsonBytes)
        }
        // The canvas's splits and audience filters: the current documents of up to 1,000 given customers
        // (`exists: false` for unknown ids), the same shape as the feed's.
        router.post("/internal/v1/customers:facts", options: RouteOptions(maxBodyBytes: 128 << 10)) { request, _ in
            struct Query: Decodable { var ids: [String] }
            let ids = try request.decode(Query.self).ids
            guard ids.count <= 1_000 else { throw APIError.badRequest("at most 1000 ids per call", field: "ids") }
            let documents = try feed.database.transaction(isolation: .repeatableRead) { conn in
                try CustomerFactsDocument.load(ids, on: conn)
            }
            return .json(encoded: CustomerFactsDocument.itemsJSON(documents))
        }
        router.get("/internal/v1/customers:snapshot") { _, _ in
            var headers = HTTPHeaders()
            headers.set("content-type", "application/x-ndjson")
            return Response(status: 200, headers: headers, body: .stream { writer in
                try feed.snapshot(into: writer)
            })
        }
    }

}
