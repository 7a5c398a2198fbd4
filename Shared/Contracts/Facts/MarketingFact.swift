import Foundation

/// The outbox event types through which the canvas, the dispatcher and the rewards service tell analytics
/// (and the profile's activity tags) what happened to a customer. The envelope's `type` is the raw
/// value; its payload is a `MarketingFact`.
///
/// One vocabulary for every producer so that a funnel can join a journey's steps with the messages and
/// grants they caused: producers fill the fact's `canvasId`/`nodeId` whenever the work came from a
/// canvas (the canvas passes them to the dispatcher and the rewards service).
public enum MarketingFactType: String, Sendable, Codable, CaseIterable {
    // Journeys (canvas). `arm` is the A/B branch or "control" for the control group.
    case journeyEntered = "canvas.journey_entered"
    case nodeReached = "canvas.node_reached"
    case journeyConverted = "canvas.journey_converted"
    case journeyExited = "canvas.journey_exited"
    // Messages (dispatcher). `reason` names the suppression or failure.
    case messageSent = "dispatch.message_sent"
    case messageDelivered = "dispatch.message_delivered"
    case messageFailed = "dispatch.message_failed"
    case messageClicked = "dispatch.message_clicked"
    case messageSuppressed = "dispatch.message_suppressed"
    // Rewards. `cost` is what the grant cost the bank.
    case rewardGranted = "rewards.granted"
    case rewardRedeemed = "rewards.redeemed"
    case rewardExpired = "rewards.expired"
    case rewardRevoked = "rewards.revoked"
    case lotteryDrawn = "rewards.lottery_drawn"
    case pointsEarned = "rewards.points_earned"
    case pointsSpent = "rewards.points_spent"
    case pointsExpired = "rewards.points_expired"
}

/// The payload of a `MarketingFactType` event: one flat record, the members that do not apply left nil.
///
/// Money (`cost`, `amount`) is CNY as a decimal string ("12.50"), never a binary float. `orgPath` is the
/// org unit that owns the activity (the canvas's, the reward's, or the sending caller's), so that
/// analytics can scope every report by prefix; `customerOrgPath` is the customer's own unit when known.
public struct MarketingFact: Sendable, Codable, Equatable {
    public var customerId: String
    public var orgPath: String
    public var customerOrgPath: String?
    public var canvasId: String?
    public var canvasVersion: Int?
    public var nodeId: String?
    public var nodeType: String?
    public var arm: String?
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
    public var cost: String?
    public var amount: String?
    /// On `canvas.journey_entered`: the planned share (0…1) of the canvas's entered customers that the
    /// entry's `arm` should receive (control percent, or the A/B weight times the treated share), so that
    /// analytics can check the observed split against the plan (sample-ratio mismatch). Optional: without
    /// it the experiment report says the plan is unknown.
    public var plannedShare: Double?

    public init(customerId: String, orgPath: String, customerOrgPath: String? = nil, canvasId: String? = nil,
                canvasVersion: Int? = nil, nodeId: String? = nil, nodeType: String? = nil, arm: String? = nil,
                channel: String? = nil, messageId: String? = nil, templateId: String? = nil, provider: String? = nil,
                reason: String? = nil, rewardId: String? = nil, rewardKind: String? = nil, grantId: String? = nil,
                prize: String? = nil, points: Int? = nil, cost: String? = nil, amount: String? = nil,
                plannedShare: Double? = nil) {
        self.customerId = customerId
        self.orgPath = orgPath
        self.customerOrgPath = customerOrgPath
        self.canvasId = canvasId
        self.canvasVersion = canvasVersion
        self.nodeId = nodeId
        self.nodeType = nodeType
        self.arm = arm
        self.channel = channel
        self.messageId = messageId
        self.templateId = templateId
        self.provider = provider
        self.reason = reason
        self.rewardId = rewardId
        self.rewardKind = rewardKind
        self.grantId = grantId
        self.prize = prize
        self.points = points
        self.cost = cost
        self.amount = amount
        self.plannedShare = plannedShare
    }
}
