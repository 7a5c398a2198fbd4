/// An HTTP response. `content-length`, `date` and `connection` are added by the server.
public struct Response: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: ResponseBody

    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: ResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A plain-text response (`text/plain; charset=utf-8`).
    public static func text(_ text: String, status: Int = 200) -> Response {
        Response(status: status, headers: ["content-type": "text/plain; charset=utf-8"], body: .bytes(Array(text.utf8)))
    }

    /// A response with no body.
    public static func status(_ status: Int) -> Response { Response(status: status) }
}

/// The body of a response: bytes known up front, or a stream produced while it is being sent
/// (large exports). A stream is sent with `Transfer-Encoding: chunked`.
public enum ResponseBody: Sendable {
    case bytes([UInt8])
    /// Runs on a worker thread; each `write` blocks while the client is slower than the producer
    /// (back-pressure) and throws `HTTPServerError.connectionClosed` once the client is gone.
    case stream(@Sendable (any ResponseBodyWriter) throws -> Void)
    /// Not known yet: another thread completes it (see `PendingResponse`). Status and headers of the
    /// placeholder mean nothing; use `Response.map` to act on the real response.
    case pending(PendingResponse)

    public static var empty: ResponseBody { .bytes([]) }

    /// The bytes of a non-streamed body.
    public var bytes: [UInt8]? {
        if case .bytes(let b) = self { return b }
        return nil
    }
}

/// Where a streamed response body goes.
public protocol ResponseBodyWriter {
    func write(_ bytes: [UInt8]) throws
}

extension ResponseBodyWriter {
    public func write(_ text: String) throws { try write(Array(text.utf8)) }
}

/// Reason phrases for the status codes this platform uses.
public enum HTTPStatus {
    public static func reason(_ code: Int) -> String {
        switch code {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(code)"
        }
    }
}
