import Contracts

/// Every way an `HTTPClient` call can fail. The client never traps on input: a malformed URL, method or
/// header becomes `.invalidURL` or `.invalidRequest`.
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The connect timeout or the total timeout of an attempt passed (or no pooled handle became free
    /// within it).
    case timeout
    /// No connection could be made: the peer refused it or was unreachable. Nothing was sent.
    case connectionRefused
    /// The host name did not resolve. Nothing was sent.
    case couldNotResolve
    /// Any other libcurl failure; `code` is the `CURLcode`, `message` libcurl's explanation.
    case transport(code: Int, message: String)
    /// The upstream answered with a status outside 2xx (JSON helpers only; `send` returns the response).
    /// `apiError` is the decoded `{"error": {...}}` body when the upstream sent one.
    case badStatus(status: Int, body: [UInt8], apiError: APIError?)
    /// A 2xx body that is not the JSON the caller expected, or a request body that could not be encoded.
    case invalidJSON(String)
    /// The response body (or its header block) exceeded the configured maximum.
    case responseTooLarge
    /// The URL is malformed or its scheme is not http/https.
    case invalidURL
    /// The method or a header is not legal HTTP (e.g. a CR/LF in a header value), or a header the client
    /// owns (Content-Length, Transfer-Encoding) was supplied.
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .timeout: return "upstream timed out"
        case .connectionRefused: return "upstream refused the connection"
        case .couldNotResolve: return "upstream host did not resolve"
        case .transport(let code, let message): return "transport error \(code): \(message)"
        case .badStatus(let status, _, let apiError):
            if let apiError { return "upstream answered \(apiError)" }
            return "upstream answered status \(status)"
        case .invalidJSON(let why): return "invalid JSON: \(why)"
        case .responseTooLarge: return "upstream response too large"
        case .invalidURL: return "invalid URL"
        case .invalidRequest(let why): return "invalid request: \(why)"
        }
    }

    /// The upstream's own error, when it sent one.
    public var apiError: APIError? {
        if case .badStatus(_, _, let apiError) = self { return apiError }
        return nil
    }
}
