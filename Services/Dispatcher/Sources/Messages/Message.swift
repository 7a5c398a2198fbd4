import Contracts
import Foundation
import Postgres

/// Where a message stands: `queued` (due now), `deferred` (quiet hours), `sent` (the provider took it),
/// `delivered` / `failed` (the provider's receipt, or the last attempt), `suppressed` (a policy said no;
/// `reason` tells which).
public enum MessageStatus: String, Sendable, Codable, CaseIterable {
    case queued, deferred, sent, delivered, failed, suppressed
}

/// A message as the API shows it.
public struct Message: Sendable, Encodable {
    public var id: String
    public var key: String
    public var customerId: String
    public var channel: Channel
    public var fallbackChannel: Channel?
    public var fallbackOf: String?
    public var templateId: String
    public var kind: TemplateKind
    public var canvasId: String?
    public var nodeId: String?
    public var campaignId: String?
    public var status: MessageStatus
    public var reason: String?
    public var title: String?
    public var body: String
    public var providerId: String?
    public var attempts: Int
    public var deliverAfter: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var sentAt: Date?
    public var deliveredAt: Date?
    var orgPath: String
    var recipient: String?

    static let columns = """
        m.id, m.idempotency_key, m.customer_id, m.org_path, m.channel, m.fallback_channel, m.fallback_of, m.template_id, m.kind, m.canvas_id,
        m.node_id, m.campaign_id, m.status, m.reason, m.title, m.body, m.recipient, m.provider_id, m.attempts, m.deliver_after,
        m.created_at, m.updated_at, m.sent_at, m.delivered_at
        """

    enum CodingKeys: String, CodingKey {
        case id, key, customerId, channel, fallbackChannel, fallbackOf, templateId, kind, canvasId, nodeId, campaignId, status, reason,
             title, body, providerId, attempts, deliverAfter, createdAt, updatedAt, sentAt, deliveredAt
    }
}

extension Message {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        guard let channel = Channel(rawValue: try row.decode("channel")), let kind = TemplateKind(rawValue: try row.decode("kind")),
              let status = MessageStatus(rawValue: try row.decode("status")) else {
            throw APIError.internalError("message \(id) holds an unknown channel, kind or status")
        }
        self.channel = channel
        self.kind = kind
        self.status = status
        key = try row.decode("idempotency_key")
        customerId = try row.decode("customer_id")
        orgPath = try row.decode("org_path")
        fallbackChannel = try row.decode("fallback_channel", as: String?.self).flatMap(Channel.init(rawValue:))
        fallbackOf = try row.decode("fallback_of")
        templateId = try row.decode("template_id")
        canvasId = try row.decode("canvas_id")
        nodeId = try row.decode("node_id")
        campaignId = try row.decode("campaign_id")
        reason = try row.decode("reason")
        title = try row.decode("title")
        body = try row.decode("body")
        recipient = try row.decode("recipient")
        providerId = try row.decode("provider_id")
        attempts = try row.decode("attempts")
        deliverAfter = try row.decode("deliver_after")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        sentAt = try row.decode("sent_at")
        deliveredAt = try row.decode("delivered_at")
    }
}
