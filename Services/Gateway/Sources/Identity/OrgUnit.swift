import Foundation
import Postgres

/// A unit of the bank's organisation tree (DESIGN.md §3): `{id, parentId, path, kind, name}`.
public struct OrgUnit: Sendable, Equatable, Codable {
    /// Where a unit sits in the tree.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case headOffice = "head_office"
        case branch
        case subBranch = "sub_branch"

        /// The kind a parent of this kind must have; nil for the root.
        public var requiredParentKind: Kind? {
            switch self {
            case .headOffice: return nil
            case .branch: return .headOffice
            case .subBranch: return .branch
            }
        }
    }

    public var id: String
    public var parentId: String?
    /// Materialized from the ids of the unit and its ancestors: `/hq/sh/pd/`.
    public var path: String
    public var kind: Kind
    public var name: String
    public var createdAt: Date

    public init(id: String, parentId: String?, path: String, kind: Kind, name: String, createdAt: Date) {
        self.id = id
        self.parentId = parentId
        self.path = path
        self.kind = kind
        self.name = name
        self.createdAt = createdAt
    }

    init(row: PostgresRow) throws {
        let kindText: String = try row.decode("kind")
        guard let kind = Kind(rawValue: kindText) else {
            throw PostgresError.invalidState("org unit has unknown kind \(kindText)")
        }
        self.init(id: try row.decode("id"), parentId: try row.decode("parent_id"), path: try row.decode("path"),
                  kind: kind, name: try row.decode("name"), createdAt: try row.decode("created_at"))
    }

    static let columns = "id, parent_id, path, kind, name, created_at"
}
