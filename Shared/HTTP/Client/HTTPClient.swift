import CCurl
import Contracts
import Foundation

/// The service-to-service HTTP client, on libcurl.
///
/// Calls are synchronous and block the calling thread, which must be a thread we own (a worker), never
/// Dispatch's global pool. One client per upstream family is meant to live as long as the service:
/// it keeps a bounded pool of curl easy handles, and with them kept-alive connections, so repeated
/// calls to the same upstream reuse a connection instead of opening one each time.
///
/// ```swift
/// let client = HTTPClient(configuration: .init(internalCredential: secret))
/// // inside a handler: `context` is the RequestContext of the request being served
/// let segment = try client.get("http://segments:8080/api/v1/segments/42", as: Segment.self,
///                              context: .init(forwarding: context))
/// ```
///
/// Thread-safety: any number of threads may call one client at once. The handle pool and the
/// statistics are guarded by their own locks; each transfer runs on a handle owned by one thread.
public final class HTTPClient: @unchecked Sendable {
    public let configuration: Configuration
    private let pool: CurlHandlePool
    private let statisticsLock = NSLock()
    private var counters = Statistics()
    /// Started on first non-blocking send made off an event loop; stopped when the client goes away.
    private var driverStorage: CurlMultiDriver?
    private var driverStarted = false
    private let driverLock = NSLock()

    deinit {
        driverStorage?.stop()
    }

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.pool = CurlHandlePool(capacity: configuration.maxConcurrentRequests)
        // Runs curl_global_init now, once per process, rather than inside the first call.
        _ = CurlGlobal.initResult
    }

    /// Counts since the client was made, for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        /// Calls to `send` (and the JSON helpers) that passed validation.
        public var requests = 0
        /// Transfers attempted, retries included.
        public var attempts = 0
        /// Attempts that were retries.
        public var retries = 0
        /// TCP connections opened; fewer than `attempts` means kept-alive connections were reused.
        public var connectionsOpened = 0
        /// curl handles created (each holds its own kept-alive connections).
        public var handlesCreated = 0
    }

    public var statistics: Statistics {
        statisticsLock.lock()
        defer { statisticsLock.unlock() }
        var copy = counters
        copy.handlesCreated = pool.handleCount
        return copy
    }

    /// Sends `request` and returns the response whatever its status; retries as `configuration.retry`
    /// allows. Throws only when no response was obtained (or the request is invalid).
    ///
    /// The client adds `x-lattice-internal` (when configured) and the headers of `context`, replacing
    /// any copies in `request.headers`.
    public func send(_ request: HTTPClientRequest, context: CallContext = .none) throws(HTTPClientError)
        -> HTTPClientResponse {
        let prepared = try prepare(request, context: context)
        let policy = configuration.retry
        let maxAttempts = min(max(policy.maxAttempts, 1), 10)
        record { $0.requests += 1 }

        var attempt = 0
        while true {
            attempt += 1
            let outcome = attemptOnce(prepared)
            record {
                $0.attempts += 1
                if attempt > 1 { $0.retries += 1 }
            }
            switch outcome {
            case .response(var response, let retryAfterSeconds):
                response.attempts = attempt
                record { $0.connectionsOpened += response.newConnections }
                guard attempt < maxAttempts, prepared.idempotent, [502, 503, 504].contains(response.status)
                else { return response }
                var delayMs = policy.backoffMs(retry: attempt)
                if let retryAfterSeconds {
                    let askedMs = retryAfterSeconds > Int.max / 1_000 ? Int.max : retryAfterSeconds * 1_000
                    // The upstream asks for more time than we may spend waiting: report its answer.
                    guard askedMs <= max(policy.maxRetryAfterMs, 0) else { return response }
                    delayMs = max(delayMs, askedMs)
                }
                Self.sleep(milliseconds: delayMs)
            case .failure(let error, let newConnections):
                record { $0.connectionsOpened += newConnections }
                guard attempt < maxAttempts, Self.mayRetry(after: error, idempotent: prepared.idempotent)
                else { throw error }
                Self.sleep(milliseconds: policy.backoffMs(retry: attempt))
            }
        }
    }

    /// Sends a request without blocking, and calls `completion` exactly once. Called on an HTTP server's
    /// event loop, the transfer runs on that loop (its sockets join the loop's epoll set) and
    /// `completion` runs there too — plain HTTP over the client's own kept-alive connections
    /// (`LoopTransport`), anything else through libcurl; elsewhere it runs on the client's own I/O thread with every other
    /// such transfer (libcurl's multi interface). Never retried. `completion` must be quick and must not block (hand the result to
    /// another thread, as the HTTP server's pending responses do).
    public func send(_ request: HTTPClientRequest, context: CallContext = .none,
                     completion: @escaping @Sendable (Result<HTTPClientResponse, HTTPClientError>) -> Void) {
        let prepared: PreparedRequest
        do {
            prepared = try prepare(request, context: context)
        } catch {
            completion(.failure(error))
            return
        }
        record { $0.requests += 1; $0.attempts += 1 }
        let finish: @Sendable (AttemptOutcome) -> Void = { [weak self] outcome in
            switch outcome {
            case .response(let response, _):
                self?.record { $0.connectionsOpened += response.newConnections }
                completion(.success(response))
            case .failure(let error, let newConnections):
                self?.record { $0.connectionsOpened += newConnections }
                completion(.failure(error))
            }
        }
        // On an HTTP event loop the transfer runs on that loop itself: no thread hop either way.
        // The loop transport resolves names itself: pinned requests go through libcurl.
        if prepared.pinnedAddresses == nil, let transport = LoopTransport.current,
           transport.submit(prepared, configuration: configuration, completion: finish) { return }
        if let onLoop = CurlLoopDriver.current {
            onLoop.submit(prepared, pool: pool, configuration: configuration, completion: finish)
            return
        }
        driverLock.lock()
        if !driverStarted {
            driverStarted = true
            driverStorage = CurlMultiDriver(pool: pool, configuration: configuration)
        }
        let driver = driverStorage
        driverLock.unlock()
        guard let driver else {
            finish(.failure(.transport(code: Int(CURLE_FAILED_INIT.rawValue), message: "curl_multi_init failed"), newConnections: 0))
            return
        }
        driver.submit(prepared, completion: finish)
    }

    /// Sends a request whose body (optional) is read from `body` while it is sent, and hands the
    /// response over as it arrives: `onHead` once with the status and headers, then `onBody` per
    /// chunk. For proxies and large imports or exports; never retried (the body is consumed), and no
    /// response size limit applies (the receiver decides). A throwing callback aborts the transfer.
    public func stream(_ request: HTTPClientRequest, body: (any RequestBodyStream)? = nil, bodyLength: Int? = nil,
                       context: CallContext = .none,
                       onHead: @escaping (Int, HTTPHeaders) throws -> Void,
                       onBody: @escaping ([UInt8]) throws -> Void) throws(HTTPClientError) {
        var prepared = try prepare(request, context: context)
        if let body {
            prepared.upload = UploadSource(body)
            prepared.uploadLength = bodyLength
            prepared.body = nil
        }
        record { $0.requests += 1; $0.attempts += 1 }
        let handle: CurlEasyHandle
        do {
            handle = try pool.checkout(deadline: Date(timeIntervalSinceNow: Double(prepared.timeoutMs) / 1_000))
        } catch {
            throw error
        }
        defer { pool.checkin(handle) }
        let receiver = StreamingReceiver(easy: handle.easy, onHead: onHead, onBody: onBody)
        switch performTransfer(prepared, on: handle, configuration: configuration, receiver: receiver) {
        case .response(let response, _):
            record { $0.connectionsOpened += response.newConnections }
        case .failure(let error, let newConnections):
            record { $0.connectionsOpened += newConnections }
            throw error
        }
    }

    /// Whether a failed attempt may be repeated. Nothing reached the upstream after a refused
    /// connection, so that is retried for any request; every other failure may have happened after
    /// the request was sent, so only idempotent requests are retried.
    static func mayRetry(after error: HTTPClientError, idempotent: Bool) -> Bool {
        switch error {
        case .connectionRefused: return true
        case .timeout: return idempotent
        case .transport(let code, _): return idempotent && connectionLostCodes.contains(code)
        default: return false
        }
    }

    private func attemptOnce(_ request: PreparedRequest) -> AttemptOutcome {
        let handle: CurlEasyHandle
        do {
            handle = try pool.checkout(deadline: Date(timeIntervalSinceNow: Double(request.timeoutMs) / 1_000))
        } catch {
            return .failure(error, newConnections: 0)
        }
        defer { pool.checkin(handle) }
        return performTransfer(request, on: handle, configuration: configuration)
    }

    private func record(_ change: (inout Statistics) -> Void) {
        statisticsLock.lock()
        change(&counters)
        statisticsLock.unlock()
    }

    private static func sleep(milliseconds: Int) {
        guard milliseconds > 0 else { return }
        Thread.sleep(forTimeInterval: Double(milliseconds) / 1_000)
    }

    // MARK: Validation

    /// Header names the client sets itself; a caller's copy would corrupt the framing.
    private static let forbiddenHeaders = ["content-length", "transfer-encoding"]

    /// Checks the request and turns it into header lines; all input problems become typed errors here,
    /// before anything touches libcurl.
    func prepare(_ request: HTTPClientRequest, context: CallContext) throws(HTTPClientError) -> PreparedRequest {
        guard Self.isToken(request.method), request.method.utf8.count <= 32 else {
            throw .invalidRequest("method is not an HTTP token")
        }
        guard Self.isAcceptableURL(request.url) else { throw .invalidURL }
        let pinned = request.pinnedAddresses
        if let pinned {
            guard !pinned.isEmpty, pinned.count <= 16, pinned.allSatisfy(Self.isIPLiteral) else {
                throw .invalidRequest("pinnedAddresses must be 1…16 numeric IP addresses")
            }
        }

        var headers = request.headers
        var added = context.headers
        if let credential = configuration.internalCredential { added.append((InternalHeader.credential, credential)) }
        headers.set(added)

        var hasExpect = false, hasUserAgent = false
        for field in headers {
            guard Self.isToken(field.name) else { throw .invalidRequest("header name \"\(field.name.prefix(64))\" is not a token") }
            guard Self.isFieldValue(field.value) else {
                throw .invalidRequest("header \(field.name) has a control character in its value")
            }
            guard !Self.forbiddenHeaders.contains(where: { HTTPHeaders.equalNames($0, field.name) }) else {
                throw .invalidRequest("header \(field.name) is set by the client")
            }
            if HTTPHeaders.equalNames(field.name, "expect") { hasExpect = true }
            if HTTPHeaders.equalNames(field.name, "user-agent") { hasUserAgent = true }
        }

        return PreparedRequest(
            method: request.method, url: request.url, fields: headers.fields, hasUserAgent: hasUserAgent,
            hasExpect: hasExpect, body: request.body,
            connectTimeoutMs: Self.clampMs(request.connectTimeoutMs ?? configuration.connectTimeoutMs),
            timeoutMs: Self.clampMs(request.timeoutMs ?? configuration.timeoutMs),
            idempotent: request.isIdempotent, pinnedAddresses: pinned)
    }

    /// Timeouts live between 1 ms and one hour: curl reads 0 as "no timeout", which we never want.
    private static func clampMs(_ value: Int) -> Int { min(max(value, 1), 3_600_000) }

    /// A numeric IPv4 or IPv6 address.
    private static func isIPLiteral(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// RFC 9110 token characters.
    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(RequestHeadParser.isTokenChar)
    }

    /// A field value without CR, LF, NUL or other control characters (tab allowed): these are what
    /// header injection needs.
    private static func isFieldValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    /// An absolute http(s) URL of printable ASCII with a host; anything else never reaches libcurl.
    private static func isAcceptableURL(_ url: String) -> Bool {
        guard url.utf8.count <= 8_192, url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return false }
        let lower = url.asciiLowercased
        let rest: Substring
        if lower.hasPrefix("http://") { rest = lower.dropFirst(7) }
        else if lower.hasPrefix("https://") { rest = lower.dropFirst(8) }
        else { return false }
        guard let first = rest.first else { return false }
        return first != "/" && first != "?" && first != "#"
    }
}
