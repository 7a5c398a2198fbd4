import Foundation

/// One stored audit row as `GET /api/v1/audit` returns it: the recorded `AuditEntry` and the row's id,
/// as one flat JSON object. Fields of the entry read directly (`record.actorId`).
///
/// Absent values are written as JSON `null` (not left out), so every item has the same keys.
@dynamicMemberLookup
public struct AuditRecord: Sendable, Equatable, Codable {
    /// The row's id, as a string (ids are strings in the public API).
    public var id: String
    public var entry: AuditEntry

    public init(id: String, entry: AuditEntry) {
        self.id = id
        self.entry = entry
    }

    public subscript<T>(dynamicMember field: KeyPath<AuditEntry, T>) -> T { entry[keyPath: field] }

    enum CodingKeys: String, CodingKey {
        case id, at, actorId, actorName, orgId, orgPath, action, resource, outcome, requestId, remoteAddress
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        entry = AuditEntry(at: try c.decode(Date.self, forKey: .at),
                           actorId: try c.decodeIfPresent(String.self, forKey: .actorId),
                           actorName: try c.decodeIfPresent(String.self, forKey: .actorName),
                           orgId: try c.decodeIfPresent(String.self, forKey: .orgId),
                           orgPath: try c.decodeIfPresent(String.self, forKey: .orgPath),
                           action: try c.decode(String.self, forKey: .action),
                           resource: try c.decode(String.self, forKey: .resource),
                           outcome: try c.decode(Int.self, forKey: .outcome),
                           requestId: try c.decode(String.self, forKey: .requestId),
                           remoteAddress: try c.decodeIfPresent(String.self, forKey: .remoteAddress))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(entry.at, forKey: .at)
        // `encode` of an Optional writes null; `encodeIfPresent` would drop the key.
        try c.encode(entry.actorId, forKey: .actorId)
        try c.encode(entry.actorName, forKey: .actorName)
        try c.encode(entry.orgId, forKey: .orgId)
        try c.encode(entry.orgPath, forKey: .orgPath)
        try c.encode(entry.action, forKey: .action)
        try c.encode(entry.resource, forKey: .resource)
        try c.encode(entry.outcome, forKey: .outcome)
        try c.encode(entry.requestId, forKey: .requestId)
        try c.encode(entry.remoteAddress, forKey: .remoteAddress)
    }
}
