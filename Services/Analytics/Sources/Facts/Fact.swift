import Contracts
import Foundation
import Postgres

/// One received event as analytics stores it: the envelope's id and type, when it happened, and the
/// members of its payload that reports use (a `MarketingFact`, a behaviour event, a lifecycle move).
public struct Fact: Sendable, Equatable {
    public var eventId: UUID
    public var type: String
    public var occurredAt: Date
    public var customerId: String
    public var orgPath: String
    public var customerOrgPath: String?
    public var canvasId: String?
    public var canvasVersion: Int?
    public var nodeId: String?
    public var nodeType: String?
    public var arm: String?
    public var plannedShare: Double?
    public var channel: String?
    public var messageId: String?
    public var templateId: String?
    public var provider: String?
    public var reason: String?
    public var rewardId: String?
    public var rewardKind: String?
    public var grantId: String?
    public var prize: String?
    public var points: Int?
    /// CNY as a decimal string with at most two decimals ("12.50").
    public var cost: String?
    public var amount: String?
    public var eventName: String?
    public var fromStage: String?
    public var toStage: String?
    /// A behaviour event's properties, as JSON object text.
    public var propertiesJSON: String?

    public init(eventId: UUID, type: String, occurredAt: Date, customerId: String, orgPath: String) {
        self.eventId = eventId
        self.type = type
        self.occurredAt = occurredAt
        self.customerId = customerId
        self.orgPath = orgPath
    }

    /// A marketing fact (journeys, messages, rewards) of `type`.
    public init(eventId: UUID, type: MarketingFactType, occurredAt: Date, fact f: MarketingFact) {
        self.init(eventId: eventId, type: type.rawValue, occurredAt: occurredAt, customerId: f.customerId, orgPath: f.orgPath)
        customerOrgPath = f.customerOrgPath
        canvasId = f.canvasId
        canvasVersion = f.canvasVersion
        nodeId = f.nodeId
        nodeType = f.nodeType
        arm = f.arm
        plannedShare = f.plannedShare
        channel = f.channel
        messageId = f.messageId
        templateId = f.templateId
        provider = f.provider
        reason = f.reason
        rewardId = f.rewardId
        rewardKind = f.rewardKind
        grantId = f.grantId
        prize = f.prize
        points = f.points
        cost = f.cost
        amount = f.amount
    }

    /// The columns of `facts` (and of the staging table) in COPY order.
    static let columns = "event_id, type, occurred_at, customer_id, org_path, customer_org_path, canvas_id, canvas_version, node_id, "
        + "node_type, arm, planned_share, channel, message_id, template_id, provider, reason, reward_id, reward_kind, grant_id, prize, "
        + "points, cost, amount, event_name, from_stage, to_stage, properties"

    /// The row for COPY, in `columns` order.
    var copyRow: [(any PostgresEncodable)?] {
        [eventId, type, occurredAt, customerId, orgPath, customerOrgPath, canvasId, canvasVersion, nodeId,
         nodeType, arm, plannedShare, channel, messageId, templateId, provider, reason, rewardId, rewardKind, grantId, prize,
         points, cost, amount, eventName, fromStage, toStage, propertiesJSON]
    }
}
