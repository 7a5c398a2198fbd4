import Contracts
import Foundation

/// What the policy chain and the templates know of one customer, from the profile service
/// (`POST /internal/v1/customers:contact-facts`).
typealias CustomerContact = CustomerContactFacts

extension CustomerContactFacts {
    /// The tolerance rank 1…5, or nil.
    var toleranceRank: Int? {
        guard let r = riskLevel, r.count == 2, r.hasPrefix("C"), let n = Int(r.dropFirst()), (1...5).contains(n) else { return nil }
        return n
    }

    var phone: String? { attributes["phone"]?.stringValue }

    /// The identity the dispatcher uses when it records something in the profile on this customer's
    /// behalf (a click, an opt-out by SMS reply): the customer's own unit, no user rights beyond that.
    var actingIdentity: CallerIdentity? {
        guard let orgId, let orgPath else { return nil }
        return CallerIdentity(userId: "svc:dispatcher", orgId: orgId, orgPath: orgPath, roles: [], rights: ["view", "edit"])
    }
}
