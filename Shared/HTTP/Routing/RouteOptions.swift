/// How the server runs a route.
public struct RouteOptions: Sendable {
    public enum Execution: Sendable {
        /// On the event-loop thread, with no thread hop. Only for handlers that never block (no
        /// database, no outbound HTTP, no file I/O) and finish in microseconds — or that throw
        /// `HTTPServerError.needsBlockingThread` before any side effect when they find they must
        /// block, so the server reruns them on a worker.
        case inline
        /// On the bounded worker pool. The default: anything that may block.
        case blocking
    }

    public var execution: Execution
    /// Largest accepted request body; nil means the server's default (10 MiB).
    public var maxBodyBytes: Int?
    /// Deliver the body to the handler as a stream (`RequestBody.stream`) while it arrives, instead of
    /// reading it whole first. For large uploads (imports) together with a raised `maxBodyBytes`.
    public var streamsBody: Bool

    public init(execution: Execution = .blocking, maxBodyBytes: Int? = nil, streamsBody: Bool = false) {
        self.execution = execution
        self.maxBodyBytes = maxBodyBytes
        self.streamsBody = streamsBody
    }

    public static let `default` = RouteOptions()
    public static let inline = RouteOptions(execution: .inline)
}
