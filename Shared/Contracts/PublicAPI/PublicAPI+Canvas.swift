/// The canvas service's endpoints (DESIGN.md §3).
extension PublicAPI {
    static var canvasSchemas: [String: JSONValue] { [:] }

    static var canvasEndpoints: [PublicEndpoint] { [] }
}
