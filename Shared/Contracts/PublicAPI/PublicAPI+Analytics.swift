/// The analytics service's endpoints (DESIGN.md §3).
extension PublicAPI {
    static var analyticsSchemas: [String: JSONValue] { [:] }

    static var analyticsEndpoints: [PublicEndpoint] { [] }
}
