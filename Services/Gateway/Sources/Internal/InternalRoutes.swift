import Contracts
import Foundation
import HTTP
import ServiceKit

/// What other services ask the gateway itself, with the internal credential (never a user's token):
/// the org tree, which every service needs to know who owns a record it stores (`OrgDirectory`).
public enum InternalRoutes {
    /// Answers at most this many units; a bank has a few thousand.
    static let maximumUnits = 100_000

    public static func register(on router: Router, store: IdentityStore, internalSecret: String) {
        let secret = Array(internalSecret.utf8)
        router.get("/internal/v1/org-units") { request, _ in
            try InternalAuthMiddleware.requireCredential(request.headers, secret: secret)
            let units = try store.allOrgUnits(limit: maximumUnits)
            return try .json(units.map { OrgDirectory.Unit(id: $0.id, parentId: $0.parentId, path: $0.path,
                                                            kind: $0.kind.rawValue, name: $0.name) })
        }
    }
}
