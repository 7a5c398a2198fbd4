import Contracts
import Foundation
import Postgres

/// A reward handed to a customer, as stored.
struct Grant: Sendable {
    var id: String
    var rewardId: String
    var rewardCode: String
    var rewardName: String
    var kind: String
    var customerId: String
    var fingerprint: String
    var status: String
    var cost: String
    var shard: Int
    var validFrom: Date
    var validUntil: Date
    var canvasId: String?
    var nodeId: String?
    var prizeId: String?
    var prizeName: String?
    var externalRef: String?
    var externalStatus: String?
    /// Why the provider did not issue an external benefit (the last failed attempt, or the final refusal).
    var externalError: String?
    /// The quota row the grant counted against, nil when none applied.
    var quotaPath: String?
    var grantedBy: String
    var orgPath: String
    var grantedAt: Date
    var redeemedAt: Date?
    var redeemedBy: String?
    var revokedAt: Date?
    var revokeReason: String?
    var expiredAt: Date?

    /// `g` is grants, `r` rewards.
    static let columns = """
        g.id, g.reward_id, r.code AS reward_code, r.name AS reward_name, r.kind, g.customer_id, g.fingerprint, g.status, g.cost::text AS cost,
        g.shard, g.valid_from, g.valid_until, g.canvas_id, g.node_id, g.prize_id, g.prize_name, g.external_ref, g.external_status, g.external_error, g.quota_path,
        g.granted_by, g.org_path, g.granted_at, g.redeemed_at, g.redeemed_by, g.revoked_at, g.revoke_reason, g.expired_at
        """

    init(row: PostgresRow) throws {
        id = try row.decode("id"); rewardId = try row.decode("reward_id"); rewardCode = try row.decode("reward_code")
        rewardName = try row.decode("reward_name"); kind = try row.decode("kind"); customerId = try row.decode("customer_id")
        fingerprint = try row.decode("fingerprint"); status = try row.decode("status"); cost = try row.decode("cost")
        shard = try row.decode("shard"); validFrom = try row.decode("valid_from"); validUntil = try row.decode("valid_until")
        canvasId = try row.decode("canvas_id"); nodeId = try row.decode("node_id"); prizeId = try row.decode("prize_id")
        prizeName = try row.decode("prize_name"); externalRef = try row.decode("external_ref"); externalStatus = try row.decode("external_status")
        externalError = try row.decode("external_error"); quotaPath = try row.decode("quota_path")
        grantedBy = try row.decode("granted_by"); orgPath = try row.decode("org_path"); grantedAt = try row.decode("granted_at")
        redeemedAt = try row.decode("redeemed_at"); redeemedBy = try row.decode("redeemed_by"); revokedAt = try row.decode("revoked_at")
        revokeReason = try row.decode("revoke_reason"); expiredAt = try row.decode("expired_at")
    }

    var json: JSONValue {
        func s(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }
        func t(_ v: Date?) -> JSONValue { v.map { .string(RFC3339.string($0)) } ?? .null }
        return .object([
            "id": .string(id), "rewardId": .string(rewardId), "rewardCode": .string(rewardCode), "rewardName": .string(rewardName),
            "kind": .string(kind), "customerId": .string(customerId), "status": .string(status), "cost": .string(cost),
            "validFrom": t(validFrom), "validUntil": t(validUntil), "canvasId": s(canvasId), "nodeId": s(nodeId),
            "prize": prizeId.map { .object(["id": .string($0), "name": s(prizeName)]) } ?? .null,
            "externalRef": s(externalRef), "externalStatus": s(externalStatus), "grantedBy": .string(grantedBy),
            "grantedAt": t(grantedAt), "redeemedAt": t(redeemedAt), "redeemedBy": s(redeemedBy), "revokedAt": t(revokedAt),
            "revokeReason": s(revokeReason), "expiredAt": t(expiredAt),
        ])
    }

    /// The fact every grant event carries.
    func fact(reason: String? = nil) -> MarketingFact {
        MarketingFact(customerId: customerId, orgPath: orgPath, canvasId: canvasId, nodeId: nodeId, reason: reason, rewardId: rewardId,
                      rewardKind: kind, grantId: id, prize: prizeId, cost: cost)
    }
}

/// `{"customerId", "canvasId"?, "nodeId"?}`: who gets the reward, and the journey step that granted it.
struct GrantRequest: Sendable {
    var customerId: String
    var canvasId: String?
    var nodeId: String?

    init(body: JSONValue) throws {
        let f = try BodyFields(body, allowed: ["customerId", "canvasId", "nodeId"], field: "")
        customerId = try f.string("customerId", length: 1...64)
        canvasId = try f.optionalString("canvasId", length: 1...64)
        nodeId = try f.optionalString("nodeId", length: 1...64)
    }

    /// What makes two requests with one Idempotency-Key the same request.
    var fingerprint: String { [customerId, canvasId ?? "", nodeId ?? ""].joined(separator: "\u{1f}") }
}
