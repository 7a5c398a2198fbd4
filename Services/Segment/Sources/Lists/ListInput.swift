import Contracts
import Foundation

/// A validated `POST /api/v1/lists` body `{name, kind: white|black, global?, customerIds: [...]}`.
struct ListInput: Sendable {
    var name: String
    var kind: ListKind
    var global: Bool
    var customerIds: [String]

    static let allowedKeys: Set<String> = ["name", "kind", "global", "customerIds"]
    /// An upload holds at most this many ids (about 6 MB of JSON); larger lists are several uploads.
    static let maximumIds = 100_000

    init(body: [String: JSONValue], caller: CallerIdentity) throws {
        if let unknown = body.keys.sorted().first(where: { !Self.allowedKeys.contains($0) }) {
            throw APIError.badRequest("unknown member \(unknown.prefix(64))", field: String(unknown.prefix(64)))
        }
        guard case .string(let name)? = body["name"], SegmentInput.isName(name) else {
            throw APIError.badRequest("name is required: 1 to 100 characters without control characters", field: "name")
        }
        guard case .string(let kindText)? = body["kind"], let kind = ListKind(rawValue: kindText) else {
            throw APIError.badRequest("kind must be white or black", field: "kind")
        }
        var global = false
        if let value = body["global"] {
            guard case .bool(let flag) = value else { throw APIError.badRequest("global must be true or false", field: "global") }
            global = flag
        }
        if global {
            guard kind == .black else { throw APIError.badRequest("only a black list can be global", field: "global") }
            // The bank-wide list excludes customers of every branch: only the root unit may keep it.
            guard caller.orgPath.split(separator: "/").count == 1 else {
                throw APIError.forbidden("only head office keeps the global black list")
            }
        }
        guard case .array(let items)? = body["customerIds"] else {
            throw APIError.badRequest("customerIds is required (an array of customer ids)", field: "customerIds")
        }
        guard items.count <= Self.maximumIds else {
            throw APIError.badRequest("an upload holds at most \(Self.maximumIds) ids", field: "customerIds")
        }
        var ids: [String] = []
        ids.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .string(let id) = item, (1...64).contains(id.utf8.count) else {
                throw APIError.badRequest("customerIds[\(i)] must be a customer id (1 to 64 characters)", field: "customerIds[\(i)]")
            }
            ids.append(id)
        }
        self.name = name
        self.kind = kind
        self.global = global
        var seen = Set<String>()
        customerIds = ids.filter { seen.insert($0).inserted }
    }
}
