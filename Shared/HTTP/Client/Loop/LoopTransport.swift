import CCurl
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP client's own HTTP/1.1 transport on an event loop, for plain-HTTP calls between our
/// services (the gateway's proxied reads above all). Its sockets join the loop's epoll set; kept-alive
/// connections are pooled per upstream address; a request written to a kept-alive connection that the
/// upstream had already closed is sent once more on a fresh one. libcurl carries everything else
/// (https, uploads streamed from a body, names not yet resolved, calls off the loops).
///
/// Timeouts are checked by the loop's sweep (a quarter of a second), so they fire up to 250 ms late.
///
/// Thread-safety: used only on its loop's thread.
final class LoopTransport: LoopWatcher {
    typealias Completion = @Sendable (AttemptOutcome) -> Void

    /// One request on its way, with what it needs to be sent again after a stale connection.
    struct Exchange {
        let bytes: [UInt8]
        let key: String
        let address: String
        let port: Int
        let isHead: Bool
        /// Whether the request may be sent twice (a stale connection's retry needs that, unless the
        /// upstream cannot have received all of it).
        let idempotent: Bool
        let limits: Limits
        let deadline: UInt64
        let completion: Completion
        var retried = false
        var newConnections = 0
    }

    struct Limits {
        let maxHeaderBytes: Int
        let maxBodyBytes: Int
        let idleNs: UInt64
        let connectTimeoutNs: UInt64
        let connectionsPerUpstream: Int
    }

    private unowned let loop: EventLoop
    private var connections: [Int32: UpstreamConnection] = [:]
    private var idle: [String: [UpstreamConnection]] = [:]
    private var openCount: [String: Int] = [:]
    /// Requests waiting for a connection to their upstream, oldest first.
    private var waiting: [String: [Exchange]] = [:]
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    /// Set by `shutdown`: nothing new starts, so every request still gets its one completion.
    private var stopping = false
    static let maxIdlePerUpstream = 256

    init(loop: EventLoop) { self.loop = loop }

    /// The transport of the calling thread's event loop, or nil off a loop.
    static var current: LoopTransport? {
        guard let loop = EventLoop.current else { return nil }
        if let transport = loop.clientTransport { return transport }
        let transport = LoopTransport(loop: loop)
        loop.clientTransport = transport
        return transport
    }

    /// Starts `request` and returns true, or returns false when this transport can't carry it (the
    /// caller then uses libcurl). `completion` runs later on this loop.
    func submit(_ request: PreparedRequest, configuration: HTTPClient.Configuration, completion: @escaping Completion) -> Bool {
        guard !stopping, request.upload == nil, !configuration.useEnvironmentProxy, let target = UpstreamTarget(url: request.url),
              let address = HostResolver.shared.address(of: target.host) else { return false }
        let limits = Limits(maxHeaderBytes: max(configuration.maxResponseHeaderBytes, 1_024),
                            maxBodyBytes: max(configuration.maxResponseBodyBytes, 0),
                            idleNs: UInt64(min(max(configuration.maxConnectionIdleSeconds, 1), 3_600)) * 1_000_000_000,
                            connectTimeoutNs: UInt64(request.connectTimeoutMs) * 1_000_000,
                            connectionsPerUpstream: max(configuration.maxConcurrentRequests, 1))
        let exchange = Exchange(bytes: Self.encode(request, target: target, userAgent: configuration.userAgent),
                                key: address + " " + String(target.port), address: address, port: target.port,
                                isHead: request.method == "HEAD", idempotent: request.idempotent, limits: limits,
                                deadline: MonotonicClock.nanoseconds() &+ UInt64(request.timeoutMs) * 1_000_000,
                                completion: completion)
        start(exchange)
        return true
    }

    /// The request as bytes on the wire: request line, fields, framing, body.
    static func encode(_ request: PreparedRequest, target: UpstreamTarget, userAgent: String) -> [UInt8] {
        var head = request.method + " " + target.target + " HTTP/1.1\r\n"
        if !request.fields.contains(where: { HTTPHeaders.equalNames($0.name, "host") }) {
            head += "Host: " + target.authority + "\r\n"
        }
        if !request.hasUserAgent { head += "User-Agent: " + userAgent + "\r\n" }
        for field in request.fields { head += field.name + ": " + field.value + "\r\n" }
        let sendsBody = request.method != "HEAD" && (request.body != nil || ["POST", "PUT", "PATCH"].contains(request.method))
        if sendsBody { head += "Content-Length: " + String(request.body?.count ?? 0) + "\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if sendsBody, let body = request.body { bytes.append(contentsOf: body) }
        return bytes
    }

    // MARK: Connections

    private func start(_ exchange: Exchange) {
        guard !stopping else {
            exchange.completion(.failure(Self.stopped, newConnections: exchange.newConnections))
            return
        }
        if var list = idle[exchange.key], let connection = list.popLast() {
            idle[exchange.key] = list
            begin(exchange, on: connection, reused: true)
            return
        }
        if openCount[exchange.key, default: 0] >= exchange.limits.connectionsPerUpstream {
            waiting[exchange.key, default: []].append(exchange)
            return
        }
        open(exchange)
    }

    private func open(_ exchange: Exchange) {
        guard !stopping else {
            exchange.completion(.failure(Self.stopped, newConnections: exchange.newConnections))
            return
        }
        var inProgress: Int32 = 0
        let fd = lattice_connect_tcp(exchange.address, Int32(exchange.port), &inProgress)
        guard fd >= 0 else {
            // Out of descriptors or ports, or no route: answered on a later turn of the loop, never
            // inside the caller's `send` (a caller retrying from its completion would recurse).
            let error: HTTPClientError = -fd == ECONNREFUSED ? .connectionRefused
                : .transport(code: Int(CURLE_COULDNT_CONNECT.rawValue), message: "cannot connect to the upstream (errno \(-fd))")
            let completion = exchange.completion, opened = exchange.newConnections
            loop.execute { completion(.failure(error, newConnections: opened)) }
            return
        }
        var exchange = exchange
        exchange.newConnections += 1
        let connection = UpstreamConnection(fd: fd, key: exchange.key)
        connections[fd] = connection
        openCount[exchange.key, default: 0] += 1
        guard inProgress == 0 else {
            connection.exchange = exchange
            connection.state = .connecting
            connection.connectDeadline = MonotonicClock.nanoseconds() &+ exchange.limits.connectTimeoutNs
            loop.watch(fd: fd, readable: false, writable: true, watcher: self)
            return
        }
        begin(exchange, on: connection, reused: false)
    }

    private func begin(_ exchange: Exchange, on connection: UpstreamConnection, reused: Bool) {
        connection.exchange = exchange
        connection.reused = reused
        connection.parser = UpstreamResponseParser(isHeadRequest: exchange.isHead, maxHeaderBytes: exchange.limits.maxHeaderBytes,
                                                   maxBodyBytes: exchange.limits.maxBodyBytes)
        connection.written = 0
        connection.state = .sending
        send(connection)
    }

    private func send(_ connection: UpstreamConnection) {
        guard let exchange = connection.exchange else { return }
        let total = exchange.bytes.count
        while connection.written < total {
            let n = exchange.bytes.withUnsafeBytes { lattice_send(connection.fd, $0.baseAddress! + connection.written, total - connection.written) }
            if n > 0 { connection.written += n; continue }
            let error = errno
            if n < 0 && error == EINTR { continue }
            if n < 0 && (error == EAGAIN || error == EWOULDBLOCK) {
                // Readable too: an upstream may answer (or close) before it has read everything.
                loop.watch(fd: connection.fd, readable: true, writable: true, watcher: self)
                return
            }
            lost(connection, .transport(code: Int(CURLE_SEND_ERROR.rawValue), message: "sending to the upstream failed (errno \(error))"))
            return
        }
        connection.state = .receiving
        loop.watch(fd: connection.fd, readable: true, writable: false, watcher: self)
    }

    func loopEvent(fd: Int32, events: UInt32) {
        guard let connection = connections[fd] else {
            loop.unwatch(fd: fd)
            return
        }
        switch connection.state {
        case .connecting:
            let error = lattice_socket_error(fd)
            guard error == 0, let exchange = connection.exchange else {
                fail(connection, .connectionRefused)
                return
            }
            begin(exchange, on: connection, reused: false)
        case .sending:
            if events & (LATTICE_EPOLLIN() | LATTICE_EPOLLERR() | LATTICE_EPOLLHUP()) != 0 { receive(connection) }
            if connection.state == .sending && events & LATTICE_EPOLLOUT() != 0 { send(connection) }
        case .receiving:
            receive(connection)
        case .idle:
            // Bytes or a close on a connection nobody asked anything: it can't carry a request any more.
            close(connection)
        case .closed:
            loop.unwatch(fd: fd)
        }
    }

    private func receive(_ connection: UpstreamConnection) {
        while connection.exchange != nil {
            let n = scratch.withUnsafeMutableBytes { read(connection.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                let progress: UpstreamResponseParser.Progress
                do {
                    progress = try scratch.withUnsafeBufferPointer { buffer throws(HTTPClientError) in
                        try connection.parser!.feed(UnsafeBufferPointer(rebasing: buffer[0..<n]))
                    }
                } catch {
                    fail(connection, error)
                    return
                }
                if case .complete(let reusable) = progress {
                    succeed(connection, reusable: reusable)
                    return
                }
                if n < scratch.count { return }   // most likely drained; the level-triggered loop says if not
                continue
            }
            if n == 0 {
                do {
                    if case .complete = try connection.parser!.endOfInput() { succeed(connection, reusable: false) }
                } catch {
                    lost(connection, error)
                }
                return
            }
            let error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK { return }
            lost(connection, .transport(code: Int(CURLE_RECV_ERROR.rawValue), message: "reading from the upstream failed (errno \(error))"))
            return
        }
    }

    private func succeed(_ connection: UpstreamConnection, reusable: Bool) {
        guard let exchange = connection.exchange, let parser = connection.parser else { return }
        // An answer that came before the whole request was sent (a 413 to a large body, say) leaves the
        // rest of the body unsent: the next request would land in the middle of it.
        let fullySent = connection.written == exchange.bytes.count
        connection.exchange = nil
        connection.parser = nil
        if reusable && fullySent && !stopping && (idle[exchange.key]?.count ?? 0) < Self.maxIdlePerUpstream {
            connection.state = .idle
            connection.idleSince = MonotonicClock.nanoseconds()
            idle[exchange.key, default: []].append(connection)
            loop.watch(fd: connection.fd, readable: true, writable: false, watcher: self)
        } else {
            close(connection)
        }
        let response = HTTPClientResponse(status: parser.status, headers: HTTPHeaders(parser.fields), body: parser.body,
                                          attempts: 1, newConnections: exchange.newConnections)
        exchange.completion(.response(response, retryAfterSeconds: nil))
        startWaiting(exchange.key)
    }

    /// The connection broke. On a kept-alive connection that had not answered anything, the upstream
    /// most likely closed it while idle, before our request arrived: that request goes once more on a
    /// fresh connection — if it may be repeated, or if it was not sent whole (RFC 9110 §9.2.2: a POST
    /// the upstream may have processed is never sent twice). Anything else fails.
    private func lost(_ connection: UpstreamConnection, _ error: HTTPClientError) {
        guard var exchange = connection.exchange else { close(connection); return }
        let silent = !(connection.parser?.receivedAny ?? false)
        let repeatable = exchange.idempotent || connection.written < exchange.bytes.count
        if connection.reused && silent && repeatable && !exchange.retried && !stopping {
            connection.exchange = nil
            close(connection)
            exchange.retried = true
            open(exchange)
            return
        }
        fail(connection, error)
    }

    private func fail(_ connection: UpstreamConnection, _ error: HTTPClientError) {
        let exchange = connection.exchange
        connection.exchange = nil
        close(connection)
        exchange?.completion(.failure(error, newConnections: exchange?.newConnections ?? 0))
    }

    private func close(_ connection: UpstreamConnection) {
        guard connection.state != .closed else { return }
        if connection.state == .idle, var list = idle[connection.key] {
            list.removeAll { $0 === connection }
            idle[connection.key] = list.isEmpty ? nil : list
        }
        connection.state = .closed
        loop.unwatch(fd: connection.fd)
        Glibc.close(connection.fd)
        connections[connection.fd] = nil
        let remaining = openCount[connection.key, default: 1] - 1
        openCount[connection.key] = remaining > 0 ? remaining : nil
        if connection.exchange == nil { startWaiting(connection.key) }
    }

    private func startWaiting(_ key: String) {
        while var queue = waiting[key], !queue.isEmpty {
            let hasIdle = !(idle[key]?.isEmpty ?? true)
            guard hasIdle || openCount[key, default: 0] < queue[0].limits.connectionsPerUpstream else { return }
            let next = queue.removeFirst()
            waiting[key] = queue.isEmpty ? nil : queue
            start(next)
        }
    }

    // MARK: Time

    /// Called by the loop's sweep: requests past their deadline fail, idle connections past their
    /// idle time close.
    func sweep(now: UInt64) {
        for connection in Array(connections.values) {
            switch connection.state {
            case .idle:
                if connection.idleSince &+ (connection.idleLimitNs) <= now { close(connection) }
            case .connecting:
                guard let exchange = connection.exchange else { continue }
                if min(exchange.deadline, connection.connectDeadline) <= now { fail(connection, .timeout) }
            case .sending, .receiving:
                if let exchange = connection.exchange, exchange.deadline <= now { fail(connection, .timeout) }
            case .closed:
                continue
            }
        }
        // Take every expired request out first, then complete them: a completion may queue new
        // requests, which must not be overwritten by a stale copy of the queue.
        var expired: [Exchange] = []
        for key in Array(waiting.keys) {
            guard let queue = waiting[key], queue.contains(where: { $0.deadline <= now }) else { continue }
            expired += queue.filter { $0.deadline <= now }
            let kept = queue.filter { $0.deadline > now }
            waiting[key] = kept.isEmpty ? nil : kept
        }
        for exchange in expired { exchange.completion(.failure(.timeout, newConnections: exchange.newConnections)) }
    }

    private static let stopped = HTTPClientError.transport(code: Int(CURLE_ABORTED_BY_CALLBACK.rawValue), message: "the event loop stopped")

    /// The loop stops: whatever is in flight fails, every connection closes.
    func shutdown() {
        stopping = true
        // Completions may try to start more; `stopping` makes those fail at once, so this ends.
        while !waiting.isEmpty || !connections.isEmpty {
            let queued = waiting.values.flatMap { $0 }
            waiting.removeAll()
            for exchange in queued { exchange.completion(.failure(Self.stopped, newConnections: exchange.newConnections)) }
            for connection in Array(connections.values) { fail(connection, Self.stopped) }
        }
    }
}

/// One kept-alive connection to an upstream and the request it carries. Loop thread only.
final class UpstreamConnection {
    enum State { case connecting, sending, receiving, idle, closed }

    let fd: Int32
    let key: String
    var state: State = .connecting
    var exchange: LoopTransport.Exchange? {
        didSet { if let exchange { idleLimitNs = exchange.limits.idleNs } }
    }
    var parser: UpstreamResponseParser?
    var written = 0
    var reused = false
    var connectDeadline: UInt64 = .max
    var idleSince: UInt64 = 0
    var idleLimitNs: UInt64 = 30_000_000_000

    init(fd: Int32, key: String) {
        self.fd = fd
        self.key = key
    }
}
