import Foundation

/// Builds the OpenAPI 3.1 document of the public API from the catalog (`PublicAPI`).
///
/// Every operation carries `operationId`, `summary`, `tags`, its path parameters (derived from the
/// `{…}` of the path) and query parameters, the request body, the success response, the standard error
/// body for each error status it can answer (`components/responses`), `security` (empty for anonymous
/// endpoints; bearer tokens otherwise) and the vendor extensions `x-lattice-service` (the owning
/// service), `x-lattice-summary-zh`, `x-lattice-access`, and the streaming flags when set.
public enum OpenAPIDocument {
    public static let title = "Lattice API"

    /// The document for `endpoints`, with `schemas` as `components/schemas`.
    public static func build(endpoints: [PublicEndpoint], schemas: [String: JSONValue] = PublicAPI.schemas,
                             version: String = PublicAPI.version) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for endpoint in endpoints {
            paths[endpoint.path, default: [:]][endpoint.method.lowercased()] = operation(endpoint)
        }
        let usedTags = Set(endpoints.map(\.tag))
        var tags: [JSONValue] = PublicAPI.tags.filter { usedTags.contains($0.name) }.map {
            .object(["name": .string($0.name), "description": .string($0.description)])
        }
        for extra in usedTags.subtracting(PublicAPI.tags.map(\.name)).sorted() {
            tags.append(.object(["name": .string(extra)]))
        }
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object([
                "title": .string(title),
                "version": .string(version),
                "description": .string("The public API of the Lattice bank marketing platform. JSON over HTTPS; "
                    + "times are RFC 3339 UTC; lists page with `limit` and `cursor` and answer "
                    + "`{\"items\": [...], \"nextCursor\": ...}`; errors answer `{\"error\": {\"code\", \"message\", \"details\"}}`."),
            ]),
            "servers": .array([.object(["url": .string("/")])]),
            "security": .array([.object(["bearerAuth": .array([])])]),
            "tags": .array(tags),
            "paths": .object(paths.mapValues { .object($0) }),
            "components": .object([
                "securitySchemes": .object([
                    "bearerAuth": .object([
                        "type": .string("http"),
                        "scheme": .string("bearer"),
                        "description": .string("A session token from `POST /api/v1/auth/login`, or an API key."),
                    ]),
                ]),
                "schemas": .object(schemas),
                "responses": .object(errorResponses(Set(standardErrorStatuses).union(endpoints.flatMap(\.errorStatuses)))),
                "parameters": .object([
                    "IdempotencyKey": .object([
                        "name": .string("Idempotency-Key"),
                        "in": .string("header"),
                        "required": .bool(false),
                        "description": .string("Repeating a create with the same key returns the first answer instead of creating twice."),
                        "schema": JSONSchema.string(minLength: 1, maxLength: 128),
                    ]),
                ]),
            ]),
        ])
    }

    /// The document as bytes: UTF-8 JSON with sorted keys, so the same catalog always gives the same bytes.
    public static func encode(_ document: JSONValue) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(document))
    }

    // MARK: Parts

    static func operation(_ e: PublicEndpoint) -> JSONValue {
        var op: [String: JSONValue] = [
            "operationId": .string(e.operationId),
            "summary": .string(e.summary),
            "tags": .array([.string(e.tag)]),
            "x-lattice-service": .string(e.service),
            "x-lattice-summary-zh": .string(e.summaryZh),
            "x-lattice-access": .string(accessText(e.access)),
        ]
        if e.streamsRequestBody { op["x-lattice-streams-request-body"] = .bool(true) }
        if e.streamsResponseBody { op["x-lattice-streams-response-body"] = .bool(true) }
        if !e.requiresAuth { op["security"] = .array([]) }

        var parameters: [JSONValue] = e.pathParameters.map { name in
            .object([
                "name": .string(name),
                "in": .string("path"),
                "required": .bool(true),
                "schema": JSONSchema.string(minLength: 1),
            ])
        }
        for q in e.queryParameters {
            parameters.append(.object([
                "name": .string(q.name),
                "in": .string("query"),
                "required": .bool(q.required),
                "description": .string(q.description),
                "schema": q.schema,
            ]))
        }
        if e.acceptsIdempotencyKey {
            parameters.append(.object(["$ref": .string("#/components/parameters/IdempotencyKey")]))
        }
        if !parameters.isEmpty { op["parameters"] = .array(parameters) }

        if let body = e.requestBody {
            op["requestBody"] = .object([
                "required": .bool(true),
                "content": content(e.requestContentTypes, schema: body),
            ])
        }

        var responses: [String: JSONValue] = [:]
        var success: [String: JSONValue] = ["description": .string(HTTPReason.text(e.successStatus))]
        if let schema = e.response { success["content"] = content(e.responseContentTypes, schema: schema) }
        responses[String(e.successStatus)] = .object(success)
        for status in e.errorStatuses {
            responses[String(status)] = .object(["$ref": .string("#/components/responses/" + errorResponseName(status))])
        }
        op["responses"] = .object(responses)
        return .object(op)
    }

    static func content(_ types: [String], schema: JSONValue) -> JSONValue {
        var content: [String: JSONValue] = [:]
        for type in types { content[type] = .object(["schema": schema]) }
        return .object(content)
    }

    static func accessText(_ access: PublicEndpoint.Access) -> String {
        switch access {
        case .anonymous: return "anonymous"
        case .authenticated: return "authenticated"
        case .right(let right): return "right:" + right
        }
    }

    /// The standard error statuses, each a named response with the error body; 429 and 503 also with
    /// `Retry-After`. Statuses an endpoint adds beyond these get a named response too.
    static let standardErrorStatuses = [400, 401, 403, 404, 405, 409, 413, 422, 429, 503]

    static func errorResponseName(_ status: Int) -> String { "Error\(status)" }

    /// One named response per status in `statuses`, so every `$ref` of an operation resolves.
    static func errorResponses(_ statuses: Set<Int>) -> [String: JSONValue] {
        var responses: [String: JSONValue] = [:]
        for status in statuses {
            var response: [String: JSONValue] = [
                "description": .string(HTTPReason.text(status)),
                "content": content(["application/json"], schema: JSONSchema.ref("Error")),
            ]
            if status == 429 || status == 503 {
                response["headers"] = .object([
                    "Retry-After": .object([
                        "description": .string("Seconds to wait before retrying."),
                        "schema": JSONSchema.integer(minimum: 0),
                    ]),
                ])
            }
            responses[errorResponseName(status)] = .object(response)
        }
        return responses
    }
}

/// Reason phrases for the statuses the document names (Contracts does not depend on the HTTP module).
enum HTTPReason {
    static func text(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 302: return "Found"
        case 400: return "Bad request: malformed input; `details.field` names the parameter or JSON path"
        case 401: return "Unauthorized: no valid token (or wrong credentials)"
        case 403: return "Forbidden: the caller lacks the right or the record is outside its org scope"
        case 404: return "Not found (also for records outside the caller's org scope)"
        case 405: return "Method not allowed"
        case 409: return "Conflict with the current state (duplicate, reused idempotency key)"
        case 413: return "Request body too large"
        case 422: return "Well-formed input that breaks a rule; `details` names the field or node"
        case 429: return "Too many requests; retry after `Retry-After` seconds"
        case 503: return "Temporarily unavailable; retry after `Retry-After` seconds"
        default: return "Status \(status)"
        }
    }
}
