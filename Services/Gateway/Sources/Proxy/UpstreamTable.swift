import Foundation

/// Which service owns which public resource (DESIGN.md §3), and where each service listens.
public struct UpstreamTable: Sendable {
    /// Resource (first path segment after `/api/v1/`) → service name.
    public static let resources: [String: String] = [
        "customers": "profile", "imports": "profile", "events": "profile", "event-types": "profile",
        "tags": "profile", "attributes": "profile", "lifecycle": "profile",
        "segments": "segment", "lists": "segment",
        "canvases": "canvas", "tasks": "canvas",
        "providers": "dispatcher", "templates": "dispatcher", "messages": "dispatcher", "policies": "dispatcher",
        "receipts": "dispatcher", "inbox": "dispatcher",
        "rewards": "rewards", "grants": "rewards", "points": "rewards", "lotteries": "rewards",
        "analytics": "analytics",
    ]

    /// Paths owned by another service than their resource suggests (most specific first).
    public static let exceptions: [(method: String, pattern: String, service: String)] = [
        ("GET", "/api/v1/customers/{customerId}/rewards", "rewards"),
    ]

    public let services: [String: URL]

    public init(services: [String: URL]) { self.services = services }

    public func baseURL(of service: String) -> String? {
        guard let url = services[service] else { return nil }
        var s = url.absoluteString
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
