import Contracts
import HTTP

/// `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the whole public API, built once from the
/// catalog (`PublicAPI.endpoints`) when the route is registered and served from those bytes on the
/// event loop (no thread hop, no allocation beyond the response).
public enum OpenAPIRoute {
    public static let path = "/api/v1/openapi.json"

    public static func register(on router: Router, endpoints: [PublicEndpoint] = PublicAPI.endpoints) {
        let document = OpenAPIDocument.build(endpoints: endpoints)
        // Encoding a JSONValue fails only for a non-finite number, which the catalog never holds (a
        // test encodes the real catalog); should it happen, the route answers 500 rather than crash.
        let bytes = try? OpenAPIDocument.encode(document)
        router.get(path, options: .inline) { _, _ in
            guard let bytes else { throw APIError.internalError("the OpenAPI document could not be encoded") }
            return Response(status: 200, headers: ["content-type": "application/json",
                                                   "cache-control": "public, max-age=300"],
                            body: .bytes(bytes))
        }
    }
}
