/// The rewards service's endpoints (DESIGN.md §3).
extension PublicAPI {
    static var rewardsSchemas: [String: JSONValue] { [:] }

    static var rewardsEndpoints: [PublicEndpoint] { [] }
}
