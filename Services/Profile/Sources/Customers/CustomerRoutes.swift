import Contracts
import Foundation
import HTTP
import ServiceKit

/// `PUT|GET /api/v1/customers/{customerId}`, `GET /api/v1/customers`.
///
/// The gateway has checked the route's right; these handlers enforce the org scope.
public enum CustomerRoutes {
    static let options = RouteOptions(maxBodyBytes: 256 << 10)

    public static func register(on router: Router, store: CustomerStore, view: CustomerViewAssembler) {
        router.put("/api/v1/customers/{customerId}", options: options) { request, context in
            let caller = try context.requireIdentity()
            let body = try request.decode([String: JSONValue].self)
            let (customer, created) = try store.upsert(id: try context.parameters.require("customerId"), body: body,
                                                       caller: caller, requestId: context.requestId)
            return try .json(customer, status: created ? 201 : 200)
        }
        router.get("/api/v1/customers/{customerId}") { _, context in
            let caller = try context.requireIdentity()
            let customer = try store.customer(id: try context.parameters.require("customerId"), caller: caller)
            return try .json(try view.view(of: customer, caller: caller, requestId: context.requestId))
        }
        router.get("/api/v1/customers") { request, context in
            let caller = try context.requireIdentity()
            return try .json(try store.search(try CustomerFilter(query: request.queryParameters), caller: caller,
                                              page: try PageRequest(query: request.queryParameters)))
        }
    }
}
