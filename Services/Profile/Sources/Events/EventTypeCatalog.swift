import Contracts
import Foundation
import Postgres
import ServiceKit

/// The event-type catalog: which event names are known and how their properties are typed.
///
/// Ingestion consults it for every event, so types are cached for `cacheTTL`; a name missing from the
/// cache reloads it (at most once per `minimumReloadInterval`, so a flood of unknown names cannot turn
/// every batch into a catalog query), which makes a type created on another replica visible at once.
///
/// Thread-safety: `cached`, `loadedAt` and `lastReload` are guarded by `lock`; loads run outside it.
public final class EventTypeCatalog: @unchecked Sendable {
    let database: PostgresPool
    let cacheTTL: TimeInterval
    let minimumReloadInterval: TimeInterval
    private let lock = NSLock()
    private var cached: [String: EventType] = [:]
    private var loadedAt: Date?
    private var lastReload: Date?

    /// Types the catalog holds at most (bounds every cached copy).
    static let maximumTypes = 1_000
    /// Properties one type declares at most.
    static let maximumProperties = 100

    public init(database: PostgresPool, cacheTTL: TimeInterval = 10, minimumReloadInterval: TimeInterval = 1) {
        self.database = database
        self.cacheTTL = cacheTTL
        self.minimumReloadInterval = minimumReloadInterval
    }

    /// The catalog for a batch whose events carry `names`: the cached one when fresh and knowing every
    /// name, otherwise reloaded (missing names reload at most once per `minimumReloadInterval`).
    func types(covering names: Set<String>) throws -> [String: EventType] {
        let now = Date()
        lock.lock()
        let fresh = loadedAt.map { now.timeIntervalSince($0) < cacheTTL } ?? false
        let snapshot = cached
        let missing = names.contains { snapshot[$0] == nil }
        let mayReload = lastReload.map { now.timeIntervalSince($0) >= minimumReloadInterval } ?? true
        let reload = !fresh || (missing && mayReload)
        if reload { lastReload = now }
        lock.unlock()
        return reload ? try load() : snapshot
    }

    private func load() throws -> [String: EventType] {
        let rows = try database.query("SELECT \(EventType.columns) FROM event_types ORDER BY name")
        let loaded = Dictionary(try rows.map { try EventType(row: $0) }.map { ($0.name, $0) },
                                uniquingKeysWith: { first, _ in first })
        lock.lock()
        cached = loaded
        loadedAt = Date()
        lock.unlock()
        return loaded
    }

    /// Every type by name (built-ins included), read from the database.
    public func list() throws -> [EventType] {
        try load().values.sorted { $0.name < $1.name }
    }

    /// Adds a type; 400 naming the field for bad input, 409 `event_type_exists` for a taken name.
    public func create(_ input: CreateEventTypeInput, caller: CallerIdentity) throws -> EventType {
        guard EventType.isName(input.name) else {
            throw APIError.badRequest("name must be a letter a-z followed by up to 63 of a-z, 0-9, _", field: "name")
        }
        let displayName = input.displayName.trimmingCharacters(in: .whitespaces)
        guard (1...100).contains(displayName.count) else {
            throw APIError.badRequest("displayName must be 1 to 100 characters", field: "displayName")
        }
        if let d = input.description, d.count > 1000 {
            throw APIError.badRequest("description must be at most 1000 characters", field: "description")
        }
        let given = input.properties ?? [:]
        guard given.count <= Self.maximumProperties else {
            throw APIError.badRequest("at most \(Self.maximumProperties) properties", field: "properties")
        }
        var properties: [String: EventPropertyType] = [:]
        for (name, property) in given.sorted(by: { $0.key < $1.key }) {
            let field = "properties.\(name)"
            guard EventType.isPropertyName(name) else {
                throw APIError.badRequest("property names are a letter followed by up to 63 letters, digits or _", field: field)
            }
            guard let type = AttributeType(rawValue: property.type) else {
                throw APIError.badRequest("type must be one of \(AttributeType.allCases.map(\.rawValue).joined(separator: ", "))",
                                          field: field + ".type")
            }
            if type == .enum {
                guard let values = property.values, (1...200).contains(values.count), Set(values).count == values.count,
                      values.allSatisfy({ (1...100).contains($0.count) }) else {
                    throw APIError.badRequest("an enum needs 1 to 200 distinct values of 1 to 100 characters", field: field + ".values")
                }
            } else if property.values != nil {
                throw APIError.badRequest("values are only for type enum", field: field + ".values")
            }
            properties[name] = EventPropertyType(type: type, values: type == .enum ? property.values : nil)
        }
        let propertiesJSON: String
        do {
            propertiesJSON = String(decoding: try JSONCoding.encoder().encode(properties), as: UTF8.self)
        } catch {
            throw APIError.internalError("event type properties cannot be encoded")
        }
        guard try load().count < Self.maximumTypes else {
            throw APIError.unprocessable("the catalog holds at most \(Self.maximumTypes) event types", code: "catalog_full")
        }
        do {
            let rows = try database.query("""
                INSERT INTO event_types (name, display_name, description, properties, org_id, org_path, created_by)
                VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) RETURNING \(EventType.columns)
                """, input.name, displayName, input.description, propertiesJSON, caller.orgId, caller.orgPath, caller.userId)
            _ = try load()
            return try EventType(row: rows[0])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw APIError.conflict("event type \(input.name) exists", code: "event_type_exists")
        }
    }
}
