import Contracts
import Foundation
import HTTP

/// The bank's org units as services need them: unit id → materialized path (`/hq/sh/pd/`), read from
/// the gateway, which owns the tree (`GET /internal/v1/org-units`).
///
/// A record a service stores carries its owner's path so that "in the caller's subtree" is a prefix
/// test in SQL. The directory answers from memory; an unknown id triggers one refresh (at most one per
/// `minimumRefreshInterval`, so a flood of bad ids cannot hammer the gateway), and the whole table is
/// refreshed after `maximumAge`. Units are never deleted, so a cached path never becomes wrong.
///
/// Thread-safety: `units` and `fetchedAt` are guarded by `lock`; a refresh runs outside the lock and
/// concurrent misses may each fetch once (harmless, bounded by `minimumRefreshInterval`).
public final class OrgDirectory: @unchecked Sendable {
    /// One org unit, as the gateway's internal endpoint lists it.
    public struct Unit: Codable, Sendable, Equatable {
        public var id: String
        public var parentId: String?
        public var path: String
        public var kind: String
        public var name: String
        public init(id: String, parentId: String?, path: String, kind: String, name: String) {
            self.id = id
            self.parentId = parentId
            self.path = path
            self.kind = kind
            self.name = name
        }
    }

    private let source: @Sendable () throws -> [Unit]
    private let maximumAge: TimeInterval
    private let minimumRefreshInterval: TimeInterval
    private let lock = NSLock()
    private var units: [String: Unit] = [:]
    private var fetchedAt: Date?
    private var lastAttempt: Date?

    /// A directory fed by the gateway at `gatewayURL` through `client` (which carries the internal credential).
    public convenience init(gatewayURL: String, client: HTTPClient, maximumAge: TimeInterval = 60,
                            minimumRefreshInterval: TimeInterval = 1) {
        let url = gatewayURL.hasSuffix("/") ? String(gatewayURL.dropLast()) : gatewayURL
        self.init(maximumAge: maximumAge, minimumRefreshInterval: minimumRefreshInterval) {
            try client.get(url + "/internal/v1/org-units", as: [Unit].self, timeoutMs: 3_000)
        }
    }

    /// A directory fed by `source` (tests give a fixed list).
    public init(maximumAge: TimeInterval = 60, minimumRefreshInterval: TimeInterval = 1,
                source: @escaping @Sendable () throws -> [Unit]) {
        self.source = source
        self.maximumAge = maximumAge
        self.minimumRefreshInterval = minimumRefreshInterval
    }

    /// The unit, or nil when the gateway does not know it.
    ///
    /// Throws 503 `org_directory_unavailable` when the tree was never loaded and the gateway cannot be
    /// reached: a service must not guess ownership.
    public func unit(_ id: String) throws -> Unit? {
        let now = Date()
        lock.lock()
        let cached = units[id]
        let stale = fetchedAt.map { now.timeIntervalSince($0) > maximumAge } ?? true
        let mayRefresh = lastAttempt.map { now.timeIntervalSince($0) >= minimumRefreshInterval } ?? true
        let everLoaded = fetchedAt != nil
        if (cached == nil || stale) && mayRefresh { lastAttempt = now }
        lock.unlock()
        if let cached, !stale { return cached }
        guard mayRefresh else {
            if !everLoaded { throw Self.unavailable }
            return cached
        }
        do {
            let fresh = try source()
            lock.lock()
            units = Dictionary(fresh.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
            fetchedAt = Date()
            let found = units[id]
            lock.unlock()
            return found
        } catch {
            // Keep serving what we know; only a service that never loaded the tree must refuse.
            if everLoaded { return cached }
            throw Self.unavailable
        }
    }

    /// The unit's path, or 422 naming `field` when the id is unknown or outside `caller`'s subtree.
    public func path(of orgId: String, for caller: CallerIdentity, field: String = "orgId") throws -> String {
        guard let unit = try unit(orgId), caller.covers(orgPath: unit.path) else {
            throw APIError(status: 422, code: "org_out_of_scope",
                           message: "org unit \(orgId.prefix(64)) does not exist or is outside your org unit",
                           details: .object(["field": .string(field)]))
        }
        return unit.path
    }

    static let unavailable = APIError.unavailable("the org directory (gateway) is unreachable", code: "org_directory_unavailable",
                                                  retryAfter: 2)
}
