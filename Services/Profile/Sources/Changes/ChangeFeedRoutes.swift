import Contracts
import Foundation
import HTTP
import ServiceKit

/// Internal routes of the change feed (service-to-service, with the internal credential):
/// `GET /internal/v1/changes?after=&limit=` and `GET /internal/v1/customers:snapshot` (NDJSON).
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
            return try .json(try feed.changes(after: cursor, limit: limit))
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
