import Contracts

extension HTTPClient {
    /// How a client connects, times out, limits and retries. Out-of-range numbers are clamped to sane
    /// bounds rather than rejected, so a bad configuration value can never crash a service.
    public struct Configuration: Sendable {
        /// Time allowed to establish a connection (TCP and TLS), in milliseconds.
        public var connectTimeoutMs: Int
        /// Total time allowed for one attempt, from connecting to the last body byte, in milliseconds.
        public var timeoutMs: Int
        /// Largest response body accepted; a bigger one fails with `.responseTooLarge`.
        public var maxResponseBodyBytes: Int
        /// Largest response header block accepted.
        public var maxResponseHeaderBytes: Int
        /// Most requests in flight at once, which is also the most curl handles (each with its own
        /// kept-alive connections) the client keeps. A caller beyond it waits, within its timeout.
        public var maxConcurrentRequests: Int
        /// A kept-alive connection idle longer than this is not reused (libcurl `CURLOPT_MAXAGE_CONN`);
        /// keep it below the upstream server's idle timeout.
        public var maxConnectionIdleSeconds: Int
        /// The internal credential sent as `x-lattice-internal` on every call. Configure it only on a
        /// client that calls our own services: an external host must never receive it.
        public var internalCredential: String?
        /// Sent as `User-Agent`.
        public var userAgent: String
        /// Whether the `http_proxy`/`https_proxy` environment variables apply. Off by default: a stray
        /// variable must not route service-to-service traffic (and credentials) through a proxy.
        public var useEnvironmentProxy: Bool
        /// When and how failed idempotent calls are retried.
        public var retry: RetryPolicy

        public init(connectTimeoutMs: Int = 2_000, timeoutMs: Int = 10_000,
                    maxResponseBodyBytes: Int = 64 << 20, maxResponseHeaderBytes: Int = 64 << 10,
                    maxConcurrentRequests: Int = 64, maxConnectionIdleSeconds: Int = 30,
                    internalCredential: String? = nil, userAgent: String = "lattice-http-client/1",
                    useEnvironmentProxy: Bool = false, retry: RetryPolicy = RetryPolicy()) {
            self.connectTimeoutMs = connectTimeoutMs
            self.timeoutMs = timeoutMs
            self.maxResponseBodyBytes = maxResponseBodyBytes
            self.maxResponseHeaderBytes = maxResponseHeaderBytes
            self.maxConcurrentRequests = maxConcurrentRequests
            self.maxConnectionIdleSeconds = maxConnectionIdleSeconds
            self.internalCredential = internalCredential
            self.userAgent = userAgent
            self.useEnvironmentProxy = useEnvironmentProxy
            self.retry = retry
        }
    }

    /// Retries with exponential backoff and jitter.
    ///
    /// Only idempotent calls are retried, and only after a connect failure, a timeout, a dropped
    /// connection, or a 502/503/504 answer. A non-idempotent call is retried only when the connection
    /// was refused, because then nothing reached the upstream.
    public struct RetryPolicy: Sendable {
        /// Attempts in all, the first included; 1 disables retries.
        public var maxAttempts: Int
        /// Delay before the first retry; doubled for each further one.
        public var baseDelayMs: Int
        /// Upper bound of the backoff delay.
        public var maxDelayMs: Int
        /// A `Retry-After` up to this long is honoured (the wait is at least that long). A longer one
        /// means the upstream wants more time than the caller can spend: the response is returned at once.
        public var maxRetryAfterMs: Int

        public init(maxAttempts: Int = 3, baseDelayMs: Int = 50, maxDelayMs: Int = 2_000,
                    maxRetryAfterMs: Int = 5_000) {
            self.maxAttempts = maxAttempts
            self.baseDelayMs = baseDelayMs
            self.maxDelayMs = maxDelayMs
            self.maxRetryAfterMs = maxRetryAfterMs
        }

        /// No retries at all.
        public static let none = RetryPolicy(maxAttempts: 1)

        /// The backoff before retry number `retry` (1-based): `min(max, base·2^(retry-1))`, jittered
        /// uniformly over its upper half so that many callers failing together do not retry together.
        func backoffMs(retry: Int) -> Int {
            let base = min(max(baseDelayMs, 0), 60_000)
            let cap = min(max(maxDelayMs, 0), 300_000)
            let exponent = min(max(retry - 1, 0), 20)
            let delay = min(cap, base << exponent)
            guard delay > 1 else { return delay }
            return Int.random(in: (delay / 2)...delay)
        }
    }

    /// The request context a service forwards on every call it makes while serving a request: the
    /// request id that ties log lines together across services, and the caller's identity.
    public struct CallContext: Sendable {
        /// Sent as `x-request-id`.
        public var requestId: String?
        /// Sent as `x-lattice-user`, `x-lattice-org`, `x-lattice-org-path`, and `x-lattice-roles` /
        /// `x-lattice-rights` (comma-separated).
        public var identity: CallerIdentity?

        public init(requestId: String? = nil, identity: CallerIdentity? = nil) {
            self.requestId = requestId
            self.identity = identity
        }

        /// The context of the request a handler is serving, forwarded as is.
        public init(forwarding context: RequestContext) {
            self.init(requestId: context.requestId.isEmpty ? nil : context.requestId, identity: context.identity)
        }

        /// No request id, no identity: a call the service makes on its own behalf.
        public static let none = CallContext()

        /// The header fields this context adds.
        public var headers: [(name: String, value: String)] {
            var fields: [(name: String, value: String)] = []
            if let requestId { fields.append((InternalHeader.requestId, requestId)) }
            if let identity {
                fields.append((InternalHeader.userId, identity.userId))
                fields.append((InternalHeader.orgId, identity.orgId))
                fields.append((InternalHeader.orgPath, identity.orgPath))
                fields.append((InternalHeader.roles, identity.roles.joined(separator: ",")))
                fields.append((InternalHeader.rights, identity.rights.joined(separator: ",")))
            }
            return fields
        }
    }
}
