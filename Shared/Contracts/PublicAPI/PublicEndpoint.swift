/// One operation of the public API (DESIGN.md §3), as the OpenAPI document describes it and the
/// gateway serves it. The catalog of all of them is `PublicAPI.endpoints`.
///
/// `path` uses the OpenAPI template form, which is also the router's: `/api/v1/users/{id}`, and action
/// paths such as `/api/v1/api-keys/{id}:revoke`.
public struct PublicEndpoint: Sendable, Hashable {
    /// Who may call an endpoint (mirrors the gateway's route-level check).
    public enum Access: Sendable, Hashable {
        /// No token (login, the OpenAPI document).
        case anonymous
        /// Any signed-in caller.
        case authenticated
        /// A caller holding this right (`view`, `edit`, `publish`, `manage`, `pii`).
        case right(String)
    }

    /// Upper-case HTTP method: `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    public var method: String
    public var path: String
    /// The service that owns the endpoint (`gateway`, `profile`, …); the gateway routes by it.
    public var service: String
    /// Unique across the catalog, e.g. `listUsers`.
    public var operationId: String
    /// One line in English, and the same in Chinese for the console.
    public var summary: String
    public var summaryZh: String
    /// The OpenAPI tag grouping the endpoint (`Identity`, `Audit`, …).
    public var tag: String
    public var access: Access
    /// JSON Schema of the request body; nil when the endpoint takes none.
    public var requestBody: JSONValue?
    /// Media types the request body may have.
    public var requestContentTypes: [String]
    /// The status of a successful answer.
    public var successStatus: Int
    /// JSON Schema of the successful answer's body; nil for an empty body.
    public var response: JSONValue?
    public var responseContentTypes: [String]
    public var queryParameters: [PublicQueryParameter]
    /// A create that replays its first answer when repeated with the same `Idempotency-Key` header.
    public var acceptsIdempotencyKey: Bool
    /// The body is handed to the handler while it arrives (large uploads).
    public var streamsRequestBody: Bool
    /// The answer is sent while it is produced (large exports).
    public var streamsResponseBody: Bool
    /// Error statuses beyond the ones derived from the endpoint's shape (see `errorStatuses`).
    public var extraErrorStatuses: [Int]

    public init(method: String, path: String, service: String, operationId: String, summary: String,
                summaryZh: String, tag: String, access: Access, requestBody: JSONValue? = nil,
                requestContentTypes: [String] = ["application/json"], successStatus: Int = 200,
                response: JSONValue? = nil, responseContentTypes: [String] = ["application/json"],
                queryParameters: [PublicQueryParameter] = [], acceptsIdempotencyKey: Bool = false,
                streamsRequestBody: Bool = false, streamsResponseBody: Bool = false, extraErrorStatuses: [Int] = []) {
        self.method = method
        self.path = path
        self.service = service
        self.operationId = operationId
        self.summary = summary
        self.summaryZh = summaryZh
        self.tag = tag
        self.access = access
        self.requestBody = requestBody
        self.requestContentTypes = requestContentTypes
        self.successStatus = successStatus
        self.response = response
        self.responseContentTypes = responseContentTypes
        self.queryParameters = queryParameters
        self.acceptsIdempotencyKey = acceptsIdempotencyKey
        self.streamsRequestBody = streamsRequestBody
        self.streamsResponseBody = streamsResponseBody
        self.extraErrorStatuses = extraErrorStatuses
    }

    /// Whether a bearer token is needed.
    public var requiresAuth: Bool { access != .anonymous }

    /// Names of the `{…}` parameters in `path`, in order: `["id"]` for `/api/v1/api-keys/{id}:revoke`.
    public var pathParameters: [String] {
        var names: [String] = []
        var rest = Substring(path)
        while let open = rest.firstIndex(of: "{") {
            let afterOpen = rest.index(after: open)
            guard let close = rest[afterOpen...].firstIndex(of: "}") else { break }
            names.append(String(rest[afterOpen..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// The error statuses the endpoint can answer with the standard error body: 400, 429 and 503
    /// always; 401 and 403 when a token is needed (401 also for login); 404 with path parameters;
    /// 409 and 422 for writes; plus `extraErrorStatuses`.
    public var errorStatuses: [Int] {
        var statuses: Set<Int> = [400, 429, 503]
        if requiresAuth { statuses.formUnion([401, 403]) }
        if !pathParameters.isEmpty { statuses.insert(404) }
        if method != "GET" && method != "HEAD" { statuses.formUnion([409, 422]) }
        statuses.formUnion(extraErrorStatuses)
        return statuses.sorted()
    }
}

/// A query parameter of a public endpoint.
public struct PublicQueryParameter: Sendable, Hashable {
    public var name: String
    /// JSON Schema of the value.
    public var schema: JSONValue
    public var required: Bool
    public var description: String

    public init(name: String, schema: JSONValue, required: Bool = false, description: String) {
        self.name = name
        self.schema = schema
        self.required = required
        self.description = description
    }

    /// `limit` of a paged list (1…`maximum`, default `defaultValue`).
    public static func limit(maximum: Int, defaultValue: Int = 50) -> PublicQueryParameter {
        PublicQueryParameter(name: "limit", schema: JSONSchema.integer(minimum: 1, maximum: maximum, defaultValue: defaultValue),
                             description: "Largest number of items in the page (1–\(maximum), default \(defaultValue)).")
    }

    /// `cursor` of a paged list.
    public static let cursor = PublicQueryParameter(
        name: "cursor", schema: JSONSchema.string(),
        description: "The `nextCursor` of the previous page; omit for the first page.")
}
