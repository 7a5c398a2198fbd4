import Foundation

/// One stored audit row as `GET /api/v1/audit` returns it.
///
/// Absent values are written as JSON `null` (not left out), so every item has the same keys.
public struct AuditRecord: Sendable, Equatable, Codable {
    /// The row's id, as a string (ids are strings in the public API).
    public var id: String
    public var at: Date
    public var actorId: String?
    public var actorName: String?
    public var orgId: String?
    public var orgPath: String?
    public var action: String
    public var resource: String
    public var outcome: Int
    public var requestId: String
    public var remoteAddress: String?

    public init(id: String, at: Date, actorId: String?, actorName: String?, orgId: String?, orgPath: String?,
                action: String, resource: String, outcome: Int, requestId: String, remoteAddress: String?) {
        self.id = id
        self.at = at
        self.actorId = actorId
        self.actorName = actorName
        self.orgId = orgId
        self.orgPath = orgPath
        self.action = action
        self.resource = resource
        self.outcome = outcome
        self.requestId = requestId
        self.remoteAddress = remoteAddress
    }

    enum CodingKeys: String, CodingKey {
        case id, at, actorId, actorName, orgId, orgPath, action, resource, outcome, requestId, remoteAddress
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(at, forKey: .at)
        // `encode` of an Optional writes null; the synthesized `encodeIfPresent` would drop the key.
        try c.encode(actorId, forKey: .actorId)
        try c.encode(actorName, forKey: .actorName)
        try c.encode(orgId, forKey: .orgId)
        try c.encode(orgPath, forKey: .orgPath)
        try c.encode(action, forKey: .action)
        try c.encode(resource, forKey: .resource)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(requestId, forKey: .requestId)
        try c.encode(remoteAddress, forKey: .remoteAddress)
    }
}
