import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// `POST /internal/v1/customers:contact-facts` `{ids: [...], attributes?: [...]}` (internal credential
/// only): what the dispatcher's policy chain and templates need of a batch of customers in one call —
/// consent per channel, the marketing opt-out, risk tolerance, org, and the attributes (unmasked: a
/// message needs the phone number), only those named in `attributes` when given (a batch of sends needs
/// its templates' variables, and the rest would be encoded and decoded for nothing). Ids that do not
/// exist come back with `exists: false`.
public enum ContactFactsRoutes {
    /// Ids per call; the dispatcher asks in batches of this size.
    static let maximumIds = 1_000
    static let options = RouteOptions(maxBodyBytes: 128 << 10)

    struct Query: Decodable {
        var ids: [String]
        var attributes: [String]?
    }

    typealias Facts = CustomerContactFacts

    public static func register(on router: Router, database: PostgresPool) {
        router.post("/internal/v1/customers:contact-facts", options: options) { request, _ in
            let query = try request.decode(Query.self)
            guard query.ids.count <= maximumIds else { throw APIError.badRequest("at most \(maximumIds) ids per call", field: "ids") }
            guard (query.attributes?.count ?? 0) <= 500 else { throw APIError.badRequest("at most 500 attribute names", field: "attributes") }
            return try .json(["items": try facts(query.ids, attributes: query.attributes.map(Set.init), database: database)])
        }
    }

    static func facts(_ ids: [String], attributes wanted: Set<String>? = nil, database: PostgresPool) throws -> [Facts] {
        guard !ids.isEmpty else { return [] }
        var found: [String: Facts] = [:]
        for row in try database.query("SELECT \(Customer.columns) FROM customers c WHERE c.id = ANY($1::text[])", ids) {
            let c = try Customer(row: row)
            found[c.id] = Facts(customerId: c.id, exists: true, orgId: c.orgId, orgPath: c.orgPath, marketingOptOut: c.marketingOptOut,
                                consents: c.consents.mapValues(\.granted), riskLevel: c.riskLevel,
                                attributes: wanted.map { names in CustomerFactsDocument.attributes(of: c).filter { names.contains($0.key) } }
                                    ?? CustomerFactsDocument.attributes(of: c))
        }
        return ids.map {
            found[$0] ?? Facts(customerId: $0, exists: false, orgId: nil, orgPath: nil, marketingOptOut: false, consents: [:],
                               riskLevel: nil, attributes: [:])
        }
    }
}
