import Foundation

/// What the dispatcher's policy chain and templates know of one customer, as the profile answers
/// `POST /internal/v1/customers:contact-facts`: consent per channel, the marketing opt-out, risk
/// tolerance, org, and the attributes (unmasked: a message needs the phone number).
public struct CustomerContactFacts: Sendable, Codable, Equatable {
    public var customerId: String
    /// False for an id the profile does not know (every other member is then empty).
    public var exists: Bool
    public var orgId: String?
    public var orgPath: String?
    public var marketingOptOut: Bool
    /// Channel → granted, for the channels with a recorded answer.
    public var consents: [String: Bool]
    /// `C1` … `C5`, or nil when never assessed.
    public var riskLevel: String?
    public var attributes: [String: JSONValue]

    public init(customerId: String, exists: Bool, orgId: String?, orgPath: String?, marketingOptOut: Bool,
                consents: [String: Bool], riskLevel: String?, attributes: [String: JSONValue]) {
        self.customerId = customerId
        self.exists = exists
        self.orgId = orgId
        self.orgPath = orgPath
        self.marketingOptOut = marketingOptOut
        self.consents = consents
        self.riskLevel = riskLevel
        self.attributes = attributes
    }
}
