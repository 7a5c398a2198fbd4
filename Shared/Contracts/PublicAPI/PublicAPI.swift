/// The catalog of the public API (DESIGN.md §3): every endpoint the gateway answers under `/api/v1`,
/// with its request and response shapes. The OpenAPI document (`OpenAPIDocument`) is built from it,
/// and contract tests keep it equal to the routes the services really register.
///
/// One file per owning service (`PublicAPI+Gateway.swift`, …) adds its endpoints and named schemas;
/// `endpoints` and `schemas` gather them.
public enum PublicAPI {
    /// The version of the public API in `info.version`; the path prefix is `/api/v1`.
    public static let version = "1.0.0"

    /// Every public endpoint, in document order.
    public static var endpoints: [PublicEndpoint] { gatewayEndpoints + profileEndpoints + segmentEndpoints + dispatcherEndpoints
        + canvasEndpoints + rewardsEndpoints + analyticsEndpoints }

    /// Named JSON Schemas (`components/schemas`) referenced as `JSONSchema.ref(name)`, including the
    /// standard error body `Error`.
    public static var schemas: [String: JSONValue] {
        var all: [String: JSONValue] = ["Error": errorSchema]
        for (name, schema) in gatewaySchemas { all[name] = schema }
        for (name, schema) in profileSchemas { all[name] = schema }
        for (name, schema) in segmentSchemas { all[name] = schema }
        for (name, schema) in dispatcherSchemas { all[name] = schema }
        for (name, schema) in canvasSchemas { all[name] = schema }
        for (name, schema) in rewardsSchemas { all[name] = schema }
        for (name, schema) in analyticsSchemas { all[name] = schema }
        return all
    }

    /// Tags in display order, with a one-line description each.
    public static let tags: [(name: String, description: String)] = [
        ("Identity", "Sign-in, sessions, org units, users and API keys"),
        ("Audit", "The append-only audit trail of every change"),
        ("Customers", "Customer profiles, the attribute catalog, consents and imports"),
        ("Events", "Behaviour events and the event-type catalog"),
        ("Tags", "Tags and lifecycle stages"),
        ("Segments", "Audiences: estimates, segments, members, overlaps, white and black lists"),
        ("Messages", "Providers, templates and their compliance review, send policies, messages, receipts, the in-app inbox"),
        ("Canvases", "Journeys on the strategy canvas: drafts, approval, versions, runs, statistics, account managers' tasks"),
        ("Rewards", "Coupons, points, lotteries, gifts and external benefits: catalog, quotas, grants, redemption"),
        ("Analytics", "Funnels, experiments, channel and reward performance, lifecycle movement, dashboards"),
        ("Meta", "Describing the API itself"),
    ]

    /// The body of every error answer (DESIGN.md §2): `{"error": {"code", "message", "details"}}`.
    public static let errorSchema: JSONValue = JSONSchema.object([
        "error": JSONSchema.object([
            "code": JSONSchema.string(description: "Stable machine-readable word, e.g. `field_invalid`."),
            "message": JSONSchema.string(description: "For people; may change."),
            "details": JSONSchema.object([:], description: "What is at fault, e.g. `{\"field\": \"roles[1]\"}`."),
        ], required: ["code", "message"]),
    ], required: ["error"])
}
