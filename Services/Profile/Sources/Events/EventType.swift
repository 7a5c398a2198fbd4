import Contracts
import Foundation
import Postgres

/// The declared type of one property of an event type.
public struct EventPropertyType: Sendable, Codable, Equatable {
    public var type: AttributeType
    /// The allowed values of an `enum` property.
    public var values: [String]?

    public init(type: AttributeType, values: [String]? = nil) {
        self.type = type
        self.values = values
    }
}

/// One entry of the event-type catalog: a name events may carry and the types of its properties.
public struct EventType: Sendable, Codable, Equatable {
    public var name: String
    public var displayName: String
    public var description: String?
    public var properties: [String: EventPropertyType]
    /// Used by the platform itself (seeded by the migration); not owned by an org unit.
    public var builtIn: Bool
    public var orgId: String?
    public var createdBy: String?
    public var createdAt: Date

    static let columns = "name, display_name, description, properties::text AS properties, built_in, org_id, created_by, created_at"

    init(row: PostgresRow) throws {
        name = try row.decode("name")
        displayName = try row.decode("display_name")
        description = try row.decode("description")
        let json: String = try row.decode("properties")
        properties = (try? JSONCoding.decoder().decode([String: EventPropertyType].self, from: Data(json.utf8))) ?? [:]
        builtIn = try row.decode("built_in")
        orgId = try row.decode("org_id")
        createdBy = try row.decode("created_by")
        createdAt = try row.decode("created_at")
    }

    /// Event names: what rules, canvases and the catalog refer to, so lower snake case and bounded.
    public static func isName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= 64, first >= 97, first <= 122 else { return false }
        return bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    /// Property names: letters, digits and `_`, starting with a letter (they appear in rule paths).
    public static func isPropertyName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= 64,
              (first >= 97 && first <= 122) || (first >= 65 && first <= 90) else { return false }
        return bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }
}

/// `POST /api/v1/event-types` body.
public struct CreateEventTypeInput: Sendable, Codable, Equatable {
    public var name: String
    public var displayName: String
    public var description: String?
    /// Property name → `{"type": "decimal"}` or `{"type": "enum", "values": [...]}`; the type is text
    /// here so that an unknown type is reported as a field error naming the property.
    public var properties: [String: Property]?

    public struct Property: Sendable, Codable, Equatable {
        public var type: String
        public var values: [String]?
    }
}
