import Contracts
import Foundation
import HTTP
import ServiceKit

/// The names the profile service knows, asked on the caller's behalf (its identity is forwarded, so
/// the tags are those the caller may see): `GET /api/v1/attributes` (built-in and custom attributes)
/// and `GET /api/v1/tags` (paged).
///
/// Answers are kept for `ttl` (attributes for everyone, tags per org path, which alone decides what a
/// caller sees), because an operator composing a rule estimates after every change. A caller that
/// finds a name missing asks again with `fresh` before refusing it, so a name just created is never
/// refused for the cache's sake.
struct ProfileCatalog: Sendable {
    let client: HTTPClient
    let baseURL: String
    let cache = NameCache()
    static let ttl: TimeInterval = 5

    /// Members of the customer document that are not in the attribute catalog but rules may read.
    static let documentAttributes: Set<String> = ["marketingOptOut"]
    /// Tag pages read at most (200 tags each).
    static let maximumTagPages = 500

    private struct Code: Decodable, Sendable { var code: String }
    private struct Items: Decodable, Sendable { var items: [Code] }

    func attributeCodes(context: RequestContext, fresh: Bool = false) throws -> Set<String> {
        if !fresh, let cached = cache.get("attributes") { return cached }
        let list = try ask { () throws(HTTPClientError) in
            try client.get(baseURL + "/api/v1/attributes", as: Items.self, context: .init(forwarding: context))
        }
        let codes = Set(list.items.map(\.code)).union(Self.documentAttributes)
        cache.put("attributes", codes, ttl: Self.ttl)
        return codes
    }

    func tagCodes(context: RequestContext, fresh: Bool = false) throws -> Set<String> {
        let key = "tags:" + (context.identity?.orgPath ?? "")
        if !fresh, let cached = cache.get(key) { return cached }
        var codes = Set<String>()
        var cursor: String?
        for _ in 0..<Self.maximumTagPages {
            var url = baseURL + "/api/v1/tags?limit=200"
            if let cursor { url += "&cursor=" + cursor }
            let page = try ask { () throws(HTTPClientError) in
                try client.get(url, as: Page<Code>.self, context: .init(forwarding: context))
            }
            codes.formUnion(page.items.map(\.code))
            guard let next = page.nextCursor else { break }
            cursor = next
        }
        cache.put(key, codes, ttl: Self.ttl)
        return codes
    }

    /// Runs a call to the profile; a failure to get an answer is this service's 503, not the caller's fault.
    private func ask<T>(_ call: () throws(HTTPClientError) -> T) throws -> T {
        do {
            return try call()
        } catch {
            if let upstream = error.apiError, upstream.status == 401 || upstream.status == 403 { throw upstream }
            throw APIError.unavailable("the profile service did not answer for its catalog: \(error)", code: "profile_unavailable")
        }
    }
}

/// Sets of names with an expiry. Thread-safety: `entries` is guarded by `lock`.
final class NameCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: (names: Set<String>, expires: Date)] = [:]
    /// Keys kept at most (one per org unit asking, plus the attributes).
    static let maximumEntries = 1_000

    func get(_ key: String) -> Set<String>? {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = entries[key], entry.expires > Date() else { return nil }
        return entry.names
    }

    func put(_ key: String, _ names: Set<String>, ttl: TimeInterval) {
        lock.lock()
        defer { lock.unlock() }
        if entries.count >= Self.maximumEntries { entries.removeAll() }
        entries[key] = (names, Date().addingTimeInterval(ttl))
    }
}
