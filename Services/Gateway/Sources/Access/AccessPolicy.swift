import HTTP

/// The rights a role grants, and the right each public request needs (the gateway's route-level check;
/// services check org scope on every record themselves).
public enum AccessPolicy {
    public enum Requirement: Sendable, Equatable {
        /// No token needed (login, the OpenAPI document, provider callbacks, tracked links).
        case anonymous
        /// Any signed-in caller.
        case authenticated
        /// A caller holding this right.
        case right(String)
    }

    public static let roles = ["admin", "operator", "approver", "analyst", "viewer", "account_manager"]
    public static let rights = ["view", "edit", "publish", "manage", "pii"]

    /// Rights derived from roles. `pii` (unmasked phone numbers and the like) is also grantable per user.
    public static func rights(forRoles roles: [String]) -> [String] {
        var rights = Set<String>()
        for role in roles {
            switch role {
            case "admin": rights.formUnion(["view", "manage"])
            case "operator": rights.formUnion(["view", "edit"])
            case "approver": rights.formUnion(["view", "publish"])
            case "analyst": rights.formUnion(["view"])
            case "viewer": rights.formUnion(["view"])
            case "account_manager": rights.formUnion(["view", "pii"])
            default: break
            }
        }
        return rights.sorted()
    }

    /// Actions that publish or stop something live: approvers only.
    static let publishingActions: Set<String> = ["approve", "reject", "publish", "pause", "resume", "stop"]

    /// What a request to a public path needs.
    public static func requirement(method: HTTPMethod, path: String) -> Requirement {
        if path == "/api/v1/auth/login" || path == "/api/v1/openapi.json" || path == "/healthz" || path == "/readyz" {
            return .anonymous
        }
        if path.hasPrefix("/t/") || path.hasPrefix("/api/v1/receipts/") { return .anonymous }
        // Service-to-service routes check the internal credential themselves (InternalRoutes).
        if path.hasPrefix("/internal/") { return .anonymous }
        if path == "/api/v1/auth/logout" || path == "/api/v1/me" { return .authenticated }
        let reads = method == .GET || method == .HEAD
        let resource = Self.resource(of: path)
        switch resource {
        case "users", "api-keys", "audit":
            return .right("manage")
        case "orgs":
            return reads ? .right("view") : .right("manage")
        case "tasks":
            // Account managers (view rights) complete their own follow-up tasks; the canvas service
            // checks that the task is theirs or that the caller may edit in its unit.
            if reads { return .right("view") }
            return Self.action(of: path) == "complete" ? .right("view") : .right("edit")
        default:
            if reads { return .right("view") }
            if let action = Self.action(of: path), publishingActions.contains(action) { return .right("publish") }
            return .right("edit")
        }
    }

    /// `customers` for `/api/v1/customers/42` and `/api/v1/customers:import`.
    public static func resource(of path: String) -> String {
        let prefix = "/api/v1/"
        guard path.hasPrefix(prefix) else { return "" }
        let rest = path.dropFirst(prefix.count)
        let segment = rest.prefix { $0 != "/" }
        return String(segment.prefix { $0 != ":" })
    }

    /// `approve` for `/api/v1/canvases/c1:approve`.
    public static func action(of path: String) -> String? {
        guard let last = path.split(separator: "/").last, let colon = last.lastIndex(of: ":") else { return nil }
        let action = last[last.index(after: colon)...]
        return action.isEmpty ? nil : String(action)
    }
}
