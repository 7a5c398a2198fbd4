/// Who is calling, as established by the gateway and forwarded to services in internal headers.
///
/// Services trust these headers only on a request that also carries a valid internal credential.
public struct CallerIdentity: Sendable, Hashable, Codable {
    public var userId: String
    public var orgId: String
    /// Materialized path of the caller's org unit, e.g. `/hq/sh/pd/`; a resource is in scope when its
    /// org path starts with this one.
    public var orgPath: String
    public var roles: [String]
    public var rights: [String]

    public init(userId: String, orgId: String, orgPath: String, roles: [String], rights: [String]) {
        self.userId = userId
        self.orgId = orgId
        self.orgPath = orgPath
        self.roles = roles
        self.rights = rights
    }

    public func has(right: String) -> Bool { rights.contains(right) }

    /// True when a resource owned by the unit at `path` is in the caller's subtree.
    public func covers(orgPath path: String) -> Bool { path.hasPrefix(orgPath) }
}

/// Names of the headers that carry identity and context between services. The gateway strips any
/// client-supplied copies before forwarding.
public enum InternalHeader {
    public static let credential = "x-lattice-internal"
    public static let requestId = "x-request-id"
    public static let userId = "x-lattice-user"
    public static let orgId = "x-lattice-org"
    public static let orgPath = "x-lattice-org-path"
    public static let roles = "x-lattice-roles"
    public static let rights = "x-lattice-rights"
}
