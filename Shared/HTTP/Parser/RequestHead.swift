/// How the body of a request is delimited (RFC 9112 §6).
public enum BodyFraming: Sendable, Equatable {
    case none
    case contentLength(Int)
    case chunked
}

/// The request line and header fields, validated, with the facts the connection needs.
public struct RequestHead: Sendable {
    public var method: HTTPMethod
    public var path: String
    public var query: String?
    public var version: (major: Int, minor: Int)
    public var headers: HTTPHeaders
    public var framing: BodyFraming
    /// Whether the connection stays open after the response.
    public var keepAlive: Bool
    /// The client sent `Expect: 100-continue` and waits before sending the body.
    public var expectsContinue: Bool
}
