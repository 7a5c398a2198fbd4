import Contracts
import Foundation

/// JSON calls: the body is encoded and the answer decoded with the shared `JSONCoding` settings; a
/// status outside 2xx throws `.badStatus` carrying the upstream's `APIError` when it sent one.
extension HTTPClient {
    /// A response type for calls whose answer has no body worth reading (204, say): nothing is decoded.
    public struct NoContent: Decodable, Sendable {
        public init() {}
        public init(from decoder: Decoder) throws {}
    }

    /// GET `url` and decode the answer as `T`.
    public func get<T: Decodable>(_ url: String, as type: T.Type, context: CallContext = .none,
                                  timeoutMs: Int? = nil) throws(HTTPClientError) -> T {
        try decode(sendJSON(method: "GET", url: url, body: nil, context: context, timeoutMs: timeoutMs))
    }

    /// POST `body` as JSON and decode the answer as `T`. Not retried after it may have been sent unless
    /// `idempotencyKey` is given (sent as `Idempotency-Key`, which the upstream must honour).
    public func post<Body: Encodable, T: Decodable>(_ url: String, body: Body, as type: T.Type,
                                                    context: CallContext = .none, idempotencyKey: String? = nil,
                                                    timeoutMs: Int? = nil) throws(HTTPClientError) -> T {
        var extra = HTTPHeaders()
        if let idempotencyKey { extra.add("Idempotency-Key", idempotencyKey) }
        return try decode(sendJSON(method: "POST", url: url, body: try encode(body), extraHeaders: extra,
                                   context: context, timeoutMs: timeoutMs))
    }

    /// PUT `body` as JSON and decode the answer as `T`.
    public func put<Body: Encodable, T: Decodable>(_ url: String, body: Body, as type: T.Type,
                                                   context: CallContext = .none,
                                                   timeoutMs: Int? = nil) throws(HTTPClientError) -> T {
        try decode(sendJSON(method: "PUT", url: url, body: try encode(body), context: context, timeoutMs: timeoutMs))
    }

    /// DELETE `url` and decode the answer as `T`.
    public func delete<T: Decodable>(_ url: String, as type: T.Type, context: CallContext = .none,
                                     timeoutMs: Int? = nil) throws(HTTPClientError) -> T {
        try decode(sendJSON(method: "DELETE", url: url, body: nil, context: context, timeoutMs: timeoutMs))
    }

    /// DELETE `url`, ignoring any answer body; throws `.badStatus` unless the status is 2xx.
    public func delete(_ url: String, context: CallContext = .none, timeoutMs: Int? = nil) throws(HTTPClientError) {
        try sendJSON(method: "DELETE", url: url, body: nil, context: context, timeoutMs: timeoutMs).requireSuccess()
    }

    /// Sends a JSON request and returns the raw response, whatever its status: for callers that
    /// branch on the status themselves (404 as "absent", say).
    public func sendJSON(method: String, url: String, body: [UInt8]?, extraHeaders: HTTPHeaders = HTTPHeaders(),
                         context: CallContext = .none, timeoutMs: Int? = nil,
                         idempotent: Bool? = nil, pinnedAddresses: [String]? = nil) throws(HTTPClientError) -> HTTPClientResponse {
        var headers = extraHeaders
        if !headers.contains("Accept") { headers.add("Accept", "application/json") }
        if body != nil && !headers.contains("Content-Type") { headers.add("Content-Type", "application/json") }
        var request = HTTPClientRequest(method: method, url: url, headers: headers, body: body,
                                        timeoutMs: timeoutMs, idempotent: idempotent)
        request.pinnedAddresses = pinnedAddresses
        return try send(request, context: context)
    }

    /// Encodes a request body with the shared encoder.
    public func encode<Body: Encodable>(_ body: Body) throws(HTTPClientError) -> [UInt8] {
        do {
            return Array(try JSONCoding.encoder().encode(body))
        } catch {
            throw .invalidJSON("request body: \(HTTPClientResponse.explain(error))")
        }
    }

    private func decode<T: Decodable>(_ response: HTTPClientResponse) throws(HTTPClientError) -> T {
        try response.requireSuccess()
        if T.self == NoContent.self, let none = NoContent() as? T { return none }
        return try response.decode(T.self)
    }
}
