/// A parsed HTTP request. A value: it moves from the event loop to a worker thread without sharing.
public struct Request: Sendable {
    public var method: HTTPMethod
    /// The path of the request target, still percent-encoded, e.g. `/api/v1/segments:estimate`.
    public var path: String
    /// The raw query string without `?`, or nil.
    public var query: String?
    public var headers: HTTPHeaders
    public var body: RequestBody
    /// `HTTP/1.1` → (1, 1).
    public var version: (major: Int, minor: Int)
    /// The peer's IP address as text, when known.
    public var remoteAddress: String?

    public init(method: HTTPMethod, path: String, query: String? = nil, headers: HTTPHeaders = HTTPHeaders(),
                body: [UInt8] = [], version: (major: Int, minor: Int) = (1, 1), remoteAddress: String? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = .buffered(body)
        self.version = version
        self.remoteAddress = remoteAddress
    }

    /// The whole body as bytes; for a streamed body this reads it to the end, up to `limit` bytes.
    public func collectBody(limit: Int = 10 << 20) throws -> [UInt8] {
        switch body {
        case .buffered(let bytes): return bytes
        case .stream(let stream):
            var all: [UInt8] = []
            while let chunk = try stream.read() {
                guard all.count + chunk.count <= limit else { throw HTTPServerError.bodyTooLarge }
                all.append(contentsOf: chunk)
            }
            return all
        }
    }

    /// Query parameters, decoded (`+` as space, percent-decoding). Repeated keys keep every value.
    public var queryParameters: QueryParameters { QueryParameters(query ?? "") }
}

/// The body of a request: fully read before the handler runs (the default), or streamed to the handler
/// for routes that accept large uploads.
public enum RequestBody: Sendable {
    case buffered([UInt8])
    case stream(RequestBodyStream)

    /// The bytes of a buffered body; empty for a stream.
    public var bytes: [UInt8] {
        if case .buffered(let b) = self { return b }
        return []
    }
}

/// A request body delivered in chunks while the client is still sending it.
public protocol RequestBodyStream: Sendable {
    /// The next chunk, or nil at the end. Blocks until data arrives; throws if the client goes away or
    /// the body-read deadline passes.
    func read() throws -> [UInt8]?
}

/// Errors the server raises about a connection or body while a handler runs.
public enum HTTPServerError: Error, Sendable, Equatable {
    case connectionClosed
    case bodyTooLarge
    case timeout
    /// Thrown by code on an `.inline` route that finds it would have to block (a cache miss that needs
    /// the database, say): the server runs the whole request again on a worker thread. Throw it before
    /// any side effect, and let it pass through (middleware that catches errors rethrows it).
    case needsBlockingThread
}

