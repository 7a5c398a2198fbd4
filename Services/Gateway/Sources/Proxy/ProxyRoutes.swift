import HTTP

/// Registers the public routes that the gateway forwards: for each resource `R` of DESIGN.md §3,
/// `/api/v1/R`, `/api/v1/R/{rest...}` and `/api/v1/R:{action}` for every method, and a streaming
/// `POST /api/v1/R:import` (large uploads pass through without being held in memory).
enum ProxyRoutes {
    static let methods: [HTTPMethod] = [.GET, .POST, .PUT, .PATCH, .DELETE]
    /// Largest upload through the gateway (imports).
    static let maxImportBytes = 8 << 30

    static func register(on router: Router, proxy: Proxy) {
        for (method, pattern, service) in UpstreamTable.exceptions {
            router.on(HTTPMethod(rawValue: method), pattern) { request, context in
                try proxy.forward(request, context, to: service)
            }
        }
        for (resource, service) in UpstreamTable.resources.sorted(by: { $0.key < $1.key }) {
            let handler: Handler = { request, context in try proxy.forward(request, context, to: service) }
            for pattern in ["/api/v1/\(resource)", "/api/v1/\(resource)/{rest...}", "/api/v1/\(resource):{action}"] {
                // Reads start on the event loop and hand the upstream call to the client's I/O thread;
                // anything that must block (a token not in memory, an export) moves to a worker.
                // Writes go to a worker at once: their audit record is written synchronously.
                for method in methods {
                    router.on(method, pattern, options: method == .GET ? .inline : .default, handler: handler)
                }
            }
            router.post("/api/v1/\(resource):import",
                        options: RouteOptions(maxBodyBytes: maxImportBytes, streamsBody: true), handler: handler)
        }
        // Tracked short links of messages: public, answered by the dispatcher with a redirect.
        router.get("/t/{code}") { request, context in try proxy.forward(request, context, to: "dispatcher") }
    }
}
