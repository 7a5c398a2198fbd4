import Foundation

/// One line of the audit trail: who did what to which resource, and how it ended.
public struct AuditEntry: Sendable, Equatable {
    public var at: Date
    public var actorId: String?
    public var actorName: String?
    public var orgId: String?
    public var orgPath: String?
    /// `METHOD /route/pattern`, e.g. `POST /api/v1/users`.
    public var action: String
    /// The concrete path acted on, e.g. `/api/v1/users/u_12`.
    public var resource: String
    /// The HTTP status answered.
    public var outcome: Int
    public var requestId: String
    public var remoteAddress: String?

    public init(at: Date = Date(), actorId: String?, actorName: String?, orgId: String?, orgPath: String?,
                action: String, resource: String, outcome: Int, requestId: String, remoteAddress: String?) {
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
}

/// Where audit entries go. Recording must not be lost silently: an implementation that cannot write
/// durably says so in the log with the whole entry.
public protocol AuditRecorder: Sendable {
    func record(_ entry: AuditEntry)
}
