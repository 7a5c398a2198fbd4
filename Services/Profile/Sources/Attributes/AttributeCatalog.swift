import Contracts
import Foundation
import Postgres
import ServiceKit

/// One attribute customers can carry: built in (a column) or defined by the bank (the catalog).
public struct AttributeDefinition: Sendable, Codable, Equatable {
    public var code: String
    public var name: String
    public var type: AttributeType
    /// The allowed values of an `enum` attribute.
    public var values: [String]?
    public var description: String?
    public var builtIn: Bool
    /// Who defined it (nil for built-ins).
    public var orgId: String?
    public var createdAt: Date?

    static let columns = "code, name, type, enum_values, description, org_id, created_at"

    init(row: PostgresRow) throws {
        code = try row.decode("code")
        name = try row.decode("name")
        let typeText: String = try row.decode("type")
        type = AttributeType(rawValue: typeText) ?? .string
        values = try row.decode("enum_values", as: [String]?.self)
        description = try row.decode("description", as: String?.self)
        builtIn = false
        orgId = try row.decode("org_id")
        createdAt = try row.decode("created_at")
    }

    init(builtIn field: CustomerField) {
        code = field.rawValue
        name = field.label.zh
        type = field.type
        values = field.enumValues
        description = field.label.en
        builtIn = true
        orgId = nil
        createdAt = nil
    }
}

/// `POST /api/v1/attributes` body.
public struct CreateAttributeInput: Sendable, Codable, Equatable {
    public var code: String
    public var name: String
    public var type: String
    public var values: [String]?
    public var description: String?
}

/// The typed attribute catalog: the built-in attributes plus the bank's own, bank-wide (a customer
/// attribute means the same in every branch). Every value written to a customer is checked against it.
///
/// Definitions are cached for `cacheTTL` so the hot path (event and customer writes) does not query
/// them; a code missing from the cache reloads it once, so a definition added on another replica is
/// seen at once.
///
/// Thread-safety: `cached` and `loadedAt` are guarded by `lock`.
public final class AttributeCatalog: @unchecked Sendable {
    let database: PostgresPool
    let cacheTTL: TimeInterval
    private let lock = NSLock()
    private var cached: [String: AttributeDefinition] = [:]
    private var loadedAt: Date?

    /// Custom definitions at most (keeps every customer document and the catalog small).
    static let maximumDefinitions = 500

    public init(database: PostgresPool, cacheTTL: TimeInterval = 10) {
        self.database = database
        self.cacheTTL = cacheTTL
    }

    /// The custom definition of `code`, reloading once when it is not known.
    func definition(_ code: String) throws -> AttributeDefinition? {
        if let found = try customDefinitions(reload: false)[code] { return found }
        return try customDefinitions(reload: true)[code]
    }

    func customDefinitions(reload: Bool) throws -> [String: AttributeDefinition] {
        lock.lock()
        let fresh = loadedAt.map { Date().timeIntervalSince($0) < cacheTTL } ?? false
        if fresh && !reload { defer { lock.unlock() }; return cached }
        lock.unlock()
        let rows = try database.query("SELECT \(AttributeDefinition.columns) FROM attribute_definitions ORDER BY code")
        let loaded = Dictionary(try rows.map { try AttributeDefinition(row: $0) }.map { ($0.code, $0) },
                                uniquingKeysWith: { first, _ in first })
        lock.lock()
        cached = loaded
        loadedAt = Date()
        lock.unlock()
        return loaded
    }

    /// Built-ins first, then the bank's definitions by code.
    public func list() throws -> [AttributeDefinition] {
        CustomerField.allCases.map(AttributeDefinition.init(builtIn:))
            + (try customDefinitions(reload: true)).values.sorted { $0.code < $1.code }
    }

    public func create(_ input: CreateAttributeInput, caller: CallerIdentity) throws -> AttributeDefinition {
        let code = input.code
        guard code.utf8.count <= 64, code.first.map({ $0 >= "a" && $0 <= "z" }) == true,
              code.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }) else {
            throw APIError.badRequest("code must be a letter a-z followed by up to 63 letters, digits or _", field: "code")
        }
        guard CustomerField(rawValue: code) == nil, !CustomerUpdate.reservedKeys.contains(code) else {
            throw APIError.conflict("\(code) is a built-in attribute", code: "attribute_exists")
        }
        let name = input.name.trimmingCharacters(in: .whitespaces)
        guard (1...100).contains(name.count) else { throw APIError.badRequest("name must be 1 to 100 characters", field: "name") }
        guard let type = AttributeType(rawValue: input.type) else {
            throw APIError.badRequest("type must be one of \(AttributeType.allCases.map(\.rawValue).joined(separator: ", "))", field: "type")
        }
        var values: [String]?
        if type == .enum {
            guard let given = input.values, (1...200).contains(given.count), Set(given).count == given.count,
                  given.allSatisfy({ (1...100).contains($0.count) }) else {
                throw APIError.badRequest("an enum needs 1 to 200 distinct values of 1 to 100 characters", field: "values")
            }
            values = given
        } else if input.values != nil {
            throw APIError.badRequest("values are only for type enum", field: "values")
        }
        if let d = input.description, d.count > 1000 {
            throw APIError.badRequest("description must be at most 1000 characters", field: "description")
        }
        guard try customDefinitions(reload: true).count < Self.maximumDefinitions else {
            throw APIError.unprocessable("the catalog holds at most \(Self.maximumDefinitions) attributes", code: "catalog_full")
        }
        do {
            let rows = try database.query("""
                INSERT INTO attribute_definitions (code, name, type, enum_values, description, org_id, org_path, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING \(AttributeDefinition.columns)
                """, code, name, type.rawValue, values, input.description, caller.orgId, caller.orgPath, caller.userId)
            _ = try customDefinitions(reload: true)
            return try AttributeDefinition(row: rows[0])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw APIError.conflict("attribute \(code) exists", code: "attribute_exists")
        }
    }
}
