import Contracts
import Foundation

/// A response as received: status, header fields (case-insensitive lookup) and the whole body.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// How many attempts the call took (1 when it was not retried).
    public var attempts: Int
    /// New connections the final attempt opened: 0 when it reused a kept-alive one.
    public var newConnections: Int

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], attempts: Int = 1,
                newConnections: Int = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.attempts = attempts
        self.newConnections = newConnections
    }

    /// The first value of a header field, compared case-insensitively.
    public func header(_ name: String) -> String? { headers.first(name) }

    /// True for 2xx.
    public var isSuccess: Bool { (200...299).contains(status) }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The upstream's `{"error": {...}}` document, when the body is one.
    public var apiError: APIError? {
        APIError(status: status, body: body, retryAfterSeconds: header("Retry-After").flatMap { Int($0) })
    }

    /// Decodes the body with the shared `JSONCoding` decoder.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws(HTTPClientError) -> T {
        if T.self == JSONValue.self {
            // An open document (a page of the profile's feed): the direct parser, several times faster.
            do {
                return try JSONParser.parse(body) as! T
            } catch {
                throw .invalidJSON("the answer is not JSON: \(error)")
            }
        }
        do {
            return try JSONCoding.decoder().decode(T.self, from: Data(body))
        } catch {
            throw .invalidJSON(Self.explain(error))
        }
    }

    /// Throws `.badStatus` unless the status is 2xx.
    public func requireSuccess() throws(HTTPClientError) {
        guard isSuccess else { throw .badStatus(status: status, body: body, apiError: apiError) }
    }

    /// A short reason for a decoding failure, naming the path at fault; never the body itself, which
    /// may hold customer data.
    static func explain(_ error: Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ keys: [CodingKey]) -> String {
            keys.isEmpty ? "$" : "$." + keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(_, let c): return "type mismatch at \(path(c.codingPath)): \(c.debugDescription)"
        case .valueNotFound(_, let c): return "missing value at \(path(c.codingPath))"
        case .keyNotFound(let key, let c): return "missing key \(key.stringValue) at \(path(c.codingPath))"
        case .dataCorrupted(let c): return "malformed at \(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return String(describing: error)
        }
    }
}
