import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET /api/v1/segments/{id}/portrait?attrs=&tags=`: distributions of attributes and tags within a segment.
public enum PortraitRoutes {
    static func register(on router: Router, builder: PortraitBuilder) {
        router.get("/api/v1/segments/{id}/portrait") { request, context in
            let caller = try context.requireIdentity()
            return try .json(try builder.portrait(segmentId: try context.parameters.require("id"), query: request.queryParameters,
                                                  caller: caller, context: context))
        }
    }
}
