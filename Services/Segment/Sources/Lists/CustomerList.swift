import Contracts
import Foundation
import Postgres

/// What a list is for: rules name white lists to include (`{"list": id}`) and black lists to exclude
/// (`{"not": {"list": id}}`); a global black list is excluded from every audience without being named.
public enum ListKind: String, Sendable, Codable, CaseIterable {
    case white, black
}

/// A white or black list as the API shows it.
public struct CustomerList: Sendable, Encodable, Equatable {
    public var id: String
    public var name: String
    public var kind: ListKind
    /// A head-office black list that every audience of the bank excludes.
    public var global: Bool
    public var orgId: String
    public var orgPath: String
    public var createdBy: String
    /// Customers on the list (known customers only: unknown ids are reported, not stored).
    public var size: Int64
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    /// Selected from `customer_lists l`.
    static let columns = """
        l.id, l.name, l.kind, l.is_global, l.org_id, l.org_path, l.created_by, l.size, l.created_at, l.updated_at, l.version
        """

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        let kindText: String = try row.decode("kind")
        guard let kind = ListKind(rawValue: kindText) else {
            throw APIError.internalError("list \(id) has an unknown kind in the database")
        }
        self.kind = kind
        global = try row.decode("is_global")
        orgId = try row.decode("org_id")
        orgPath = try row.decode("org_path")
        createdBy = try row.decode("created_by")
        size = try row.decode("size")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        version = try row.decode("version")
    }
}

/// The answer to an upload: the list, and the ids that are not customers of the caller's subtree.
public struct ListUploadResult: Sendable, Encodable {
    public var list: CustomerList
    public var accepted: Int
    /// How many ids were not customers of the caller's subtree (the first `unknownIds` are listed).
    public var unknownCount: Int
    public var unknownIds: [String]
}
