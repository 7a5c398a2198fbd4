import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// `GET|PUT /api/v1/lifecycle`: the lifecycle stages and their rules.
///
/// Everyone may read them; only head office (a unit without a parent) may change them, since the stages
/// are bank-wide. A change is validated like a tag rule and triggers a full re-evaluation (sweep).
public enum LifecycleRoutes {
    public static func register(on router: Router, database: PostgresPool, catalog: AttributeCatalog, orgs: OrgDirectory) {
        router.get("/api/v1/lifecycle") { _, context in
            _ = try context.requireIdentity()
            return try .json(try database.withConnection { try LifecycleConfiguration.load(on: $0) }.document)
        }
        router.put("/api/v1/lifecycle", options: RouteOptions(maxBodyBytes: 256 << 10)) { request, context in
            let caller = try context.requireIdentity()
            guard let unit = try orgs.unit(caller.orgId), unit.parentId == nil, unit.path == caller.orgPath else {
                throw APIError(status: 403, code: "head_office_only", message: "only head office changes the lifecycle stages")
            }
            let body = try request.decode([String: JSONValue].self)
            let saved = try database.transaction { conn in
                let check = try TagRuleCheck.load(owner: TagDefinition.lifecycleCode, caller: caller, catalog: catalog, on: conn)
                let stages = try LifecycleConfiguration.parse(body, check: check)
                try LifecycleConfiguration.save(stages, by: caller.userId, on: conn)
                return try LifecycleConfiguration.load(on: conn)
            }
            return try .json(saved.document)
        }
    }
}
