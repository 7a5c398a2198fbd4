/// One outgoing request. A value: build it, hand it to `HTTPClient.send`.
public struct HTTPClientRequest: Sendable {
    /// The method token, e.g. `GET`. Sent as given (methods are case-sensitive).
    public var method: String
    /// An absolute `http://` or `https://` URL, already percent-encoded.
    public var url: String
    /// Header fields to send, in order. The client owns `Content-Length`, `Transfer-Encoding` and the
    /// internal context headers (`x-lattice-*`, `x-request-id`); copies here are rejected or replaced.
    public var headers: HTTPHeaders
    /// The body, sent with a `Content-Length`; nil sends none.
    public var body: [UInt8]?
    /// Total time allowed for one attempt, in milliseconds; nil uses the client's configuration.
    public var timeoutMs: Int?
    /// Time allowed to establish a connection, in milliseconds; nil uses the client's configuration.
    public var connectTimeoutMs: Int?
    /// Whether the request may safely be sent twice. nil derives it from the method: GET, HEAD, PUT,
    /// DELETE, OPTIONS and TRACE are idempotent; POST and PATCH only when they carry `Idempotency-Key`.
    public var idempotent: Bool?
    /// IP literals to connect to for the URL's host instead of resolving it. A caller that checked
    /// where a name points (a webhook guarded against reaching inside the bank) pins what it checked,
    /// so an answer changing between its lookup and the connection (DNS rebinding) cannot redirect
    /// the call. nil resolves as usual.
    public var pinnedAddresses: [String]? = nil

    public init(method: String, url: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8]? = nil,
                timeoutMs: Int? = nil, connectTimeoutMs: Int? = nil, idempotent: Bool? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutMs = timeoutMs
        self.connectTimeoutMs = connectTimeoutMs
        self.idempotent = idempotent
    }

    /// Whether the client may retry this request after it may have reached the upstream.
    public var isIdempotent: Bool {
        if let idempotent { return idempotent }
        switch method {
        case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE": return true
        default: return headers.contains("Idempotency-Key")
        }
    }
}
