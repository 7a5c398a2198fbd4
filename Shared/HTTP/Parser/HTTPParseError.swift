/// Why a request could not be parsed, with the status the server answers before closing.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var reason: String
    public init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }
    public var description: String { "\(status): \(reason)" }
}

/// Limits applied while parsing; each breach has its own status (RFC 9110 §15.5).
public struct HTTPParserLimits: Sendable {
    /// Longest request line; a longer one is answered 414.
    public var maxRequestLineBytes: Int = 8 * 1024
    /// Largest header block (request line and fields); a larger one is answered 431.
    public var maxHeaderBytes: Int = 16 * 1024
    /// Most header fields; more are answered 431.
    public var maxHeaderCount: Int = 100
    /// Longest chunk extension and trailer section in a chunked body.
    public var maxChunkMetadataBytes: Int = 4 * 1024
    public init() {}
}
