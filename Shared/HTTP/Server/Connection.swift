import CLinux
import Contracts
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One client connection: reads requests, runs them one at a time in order (pipelined requests wait
/// in the input buffer), writes responses.
///
/// Thread-safety: all state is touched only on `loop`'s thread. Workers hold a reference only to hand
/// results back through `loop.execute`.
final class Connection: @unchecked Sendable {
    enum State {
        /// Between requests (keep-alive).
        case idle
        case readingHead
        /// Reading a body that the handler receives whole.
        case readingBody
        /// The handler runs while its body still arrives through `requestStream`.
        case streamingBody
        /// The handler runs (or waits for a worker); the body is complete.
        case processing
        /// The response body is being produced on a worker.
        case writingStream
        case closed
    }

    let fd: Int32
    let loop: EventLoop
    let remoteAddress: String
    private let core: ServerCore
    private let input = ByteBuffer(capacity: 4096)
    private let output = ByteBuffer(capacity: 4096)
    private(set) var state = State.idle
    private var scanFrom = 0
    private var stateSince: UInt64
    private var lastReadProgress: UInt64
    private var lastWriteProgress: UInt64
    private var keepAlive = true
    private var closeAfterFlush = false
    private var peerClosed = false
    private var readPaused = false
    private var writeBlocked = false
    private var processing = false

    // The request whose body is being read.
    private var pendingHead: RequestHead?
    private var pendingRoute: ResolvedRoute?
    private var pendingBody: [UInt8] = []
    private var pendingRemaining = 0
    private var chunkedDecoder: ChunkedBodyDecoder?
    private var requestStream: RequestStreamChannel?
    private var responseStream: ResponseStreamChannel?
    private var currentIsHead = false

    /// Unconsumed input kept while a request is processed; beyond it reading pauses.
    private static let pipelineBufferLimit = 64 * 1024
    /// Pending output beyond which no further pipelined request is started.
    private static let outputHighWater = 256 * 1024

    init(fd: Int32, loop: EventLoop, remoteAddress: String) {
        self.fd = fd
        self.loop = loop
        self.core = loop.server
        self.remoteAddress = remoteAddress
        let now = loop.now
        stateSince = now
        lastReadProgress = now
        lastWriteProgress = now
    }

    var isClosed: Bool { state == .closed }

    // MARK: Events

    func handle(events: UInt32) {
        if events & LATTICE_EPOLLERR() != 0 { close(); return }
        if events & LATTICE_EPOLLOUT() != 0 && output.readableBytes > 0 {
            writeBlocked = false
            flush()
            if isClosed { return }
        }
        if events & (LATTICE_EPOLLIN() | LATTICE_EPOLLRDHUP() | LATTICE_EPOLLHUP()) != 0 {
            readAvailable()
        }
    }

    private func readAvailable() {
        while !isClosed && !readPaused && !peerClosed {
            input.reserveWritable(16 * 1024)
            let space = input.writableBytes
            let n = read(fd, input.writableStart, space)
            if n > 0 {
                input.writeIndex += n
                lastReadProgress = loop.now
                process()
                // A short read drained the socket; edge-triggered epoll reports new data later.
                if n < space { return }
            } else if n == 0 {
                peerClosed = true
                peerDidClose()
                return
            } else {
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: return
                default: close(); return
                }
            }
        }
    }

    /// The client closed its side. An unanswered request still gets its answer (the client may have
    /// half-closed); anything incomplete is dropped.
    private func peerDidClose() {
        switch state {
        case .idle, .readingHead, .readingBody:
            close()
        case .streamingBody:
            requestStream?.fail(HTTPServerError.connectionClosed)
            keepAlive = false
        case .processing, .writingStream:
            keepAlive = false
        case .closed:
            break
        }
    }

    // MARK: Requests

    /// Parses and starts requests from the input buffer for as long as that is possible.
    private func process() {
        guard !processing else { return }   // re-entered from an inline completion: the loop below continues
        processing = true
        defer { processing = false }
        while !isClosed {
            switch state {
            case .idle, .readingHead:
                if output.readableBytes > Self.outputHighWater {
                    // No new request starts until the client reads; stop reading too, or a client that
                    // pipelines without reading grows `input` without bound. `flush` resumes.
                    if input.readableBytes > Self.pipelineBufferLimit { readPaused = true }
                    return
                }
                if input.isEmpty {
                    if state != .idle { return }
                    if loop.draining && output.isEmpty { close() }
                    return
                }
                if state == .idle {
                    state = .readingHead
                    stateSince = loop.now
                    scanFrom = 0
                }
                switch RequestHeadParser.parse(input.readable, scanFrom: scanFrom, limits: core.configuration.limits) {
                case .incomplete(let next):
                    scanFrom = next
                    return
                case .failure(let error):
                    fail(status: error.status, message: error.reason)
                    return
                case .complete(let head, let consumed):
                    input.consume(consumed)
                    scanFrom = 0
                    start(head)
                }
            case .readingBody:
                if !readBody() { return }
            case .streamingBody:
                if !streamBody() { return }
            case .processing, .writingStream:
                if input.readableBytes > Self.pipelineBufferLimit { readPaused = true }
                return
            case .closed:
                return
            }
        }
    }

    private func start(_ head: RequestHead) {
        let route = core.router.resolve(method: head.method, path: head.path)
        keepAlive = head.keepAlive && !loop.draining
        currentIsHead = head.method == .HEAD
        let limit = route.options.maxBodyBytes ?? core.configuration.maxBodyBytes

        if case .contentLength(let n) = head.framing, n > limit {
            fail(status: 413, message: "request body larger than \(limit) bytes")
            return
        }
        if head.framing == .none {
            dispatch(makeRequest(head, body: .buffered([])), route)
            return
        }
        if head.expectsContinue {
            if !route.isMatch {
                // We will not read the body: answer now and close, so the client doesn't send it.
                keepAlive = false
                dispatch(makeRequest(head, body: .buffered([])), route)
                return
            }
            output.append("HTTP/1.1 100 Continue\r\n\r\n" as StaticString)
            flush()
            if isClosed { return }
        }
        if case .contentLength(let n) = head.framing { pendingRemaining = n } else { pendingRemaining = 0 }
        chunkedDecoder = head.framing == .chunked
            ? ChunkedBodyDecoder(maxBodyBytes: limit, maxMetadataBytes: core.configuration.limits.maxChunkMetadataBytes)
            : nil
        lastReadProgress = loop.now
        if route.options.streamsBody && route.isMatch {
            let stream = RequestStreamChannel(connection: self, timeout: core.bodyTimeout)
            requestStream = stream
            state = .streamingBody
            stateSince = loop.now
            dispatch(makeRequest(head, body: .stream(stream)), route, bodyStillArriving: true)
            return
        }
        pendingHead = head
        pendingRoute = route
        pendingBody = []
        if case .contentLength(let n) = head.framing { pendingBody.reserveCapacity(n) }
        state = .readingBody
        stateSince = loop.now
    }

    /// Moves body bytes from the input buffer; true when the request was dispatched.
    private func readBody() -> Bool {
        guard !input.isEmpty else { return false }
        if var decoder = chunkedDecoder {
            do {
                let used = try decoder.decode(input.readable, into: &pendingBody)
                input.consume(used)
                chunkedDecoder = decoder
            } catch {
                fail(status: error.status, message: error.reason)
                return false
            }
            guard decoder.isDone else { return false }
        } else {
            let take = min(pendingRemaining, input.readableBytes)
            pendingBody.append(contentsOf: UnsafeBufferPointer(rebasing: input.readable[0..<take]))
            input.consume(take)
            pendingRemaining -= take
            guard pendingRemaining == 0 else { return false }
        }
        let head = pendingHead!, route = pendingRoute!
        let body = pendingBody
        pendingHead = nil
        pendingRoute = nil
        pendingBody = []
        chunkedDecoder = nil
        dispatch(makeRequest(head, body: .buffered(body)), route)
        return true
    }

    /// Feeds body bytes to a streaming handler; true when the body is complete.
    private func streamBody() -> Bool {
        guard let stream = requestStream else { state = .processing; return true }
        guard !input.isEmpty else { return false }
        var chunk: [UInt8] = []
        if var decoder = chunkedDecoder {
            do {
                let used = try decoder.decode(input.readable, into: &chunk)
                input.consume(used)
                chunkedDecoder = decoder
            } catch {
                stream.fail(HTTPServerError.bodyTooLarge)
                requestStream = nil
                keepAlive = false
                state = .processing
                return false
            }
            if !chunk.isEmpty { if stream.push(chunk) { readPaused = true } }
            guard decoder.isDone else { return false }
        } else {
            let take = min(pendingRemaining, input.readableBytes)
            chunk.append(contentsOf: UnsafeBufferPointer(rebasing: input.readable[0..<take]))
            input.consume(take)
            pendingRemaining -= take
            if stream.push(chunk) { readPaused = true }
            guard pendingRemaining == 0 else { return false }
        }
        stream.finish()
        requestStream = nil
        chunkedDecoder = nil
        state = .processing
        return false
    }

    /// Called by the request stream when its consumer caught up.
    func resumeReading() {
        guard readPaused, !isClosed else { return }
        readPaused = false
        process()
        readAvailable()
    }

    private func makeRequest(_ head: RequestHead, body: RequestBody) -> Request {
        var r = Request(method: head.method, path: head.path, query: head.query, headers: head.headers,
                        version: head.version, remoteAddress: remoteAddress)
        r.body = body
        return r
    }

    private func dispatch(_ request: Request, _ route: ResolvedRoute, bodyStillArriving: Bool = false) {
        if !bodyStillArriving { state = .processing }
        stateSince = loop.now
        let context = RequestContext(parameters: route.parameters, routePattern: route.pattern, receivedAt: loop.now)
        let handler = route.handler
        if route.options.execution == .inline && !bodyStillArriving {
            do {
                complete(try Self.runInline(handler, request, context))
                return
            } catch {
                // The handler must block after all: run it again on a worker (below).
            }
        }
        let accepted = core.workers.submit { [self] in
            let response = Self.run(handler, request, context)
            loop.execute { self.complete(response) }
        }
        if !accepted {
            core.overloadRejections.next()
            if bodyStillArriving {
                requestStream?.fail(HTTPServerError.connectionClosed)
                requestStream = nil
                keepAlive = false
            }
            complete(.error(.unavailable("the server is busy, try again", code: "overloaded", retryAfter: 1)))
        }
    }

    /// Runs the handler chain; the last line of defence against a thrown error.
    private static func run(_ handler: Handler, _ request: Request, _ context: RequestContext) -> Response {
        do {
            return try handler(request, context)
        } catch {
            return .error(ErrorMapping.apiError(for: error))
        }
    }

    /// Runs an inline handler on the loop; throws only `needsBlockingThread`.
    private static func runInline(_ handler: Handler, _ request: Request, _ context: RequestContext) throws(HTTPServerError) -> Response {
        do {
            return try handler(request, context)
        } catch HTTPServerError.needsBlockingThread {
            throw .needsBlockingThread
        } catch {
            return .error(ErrorMapping.apiError(for: error))
        }
    }

    // MARK: Responses

    /// Writes a response. Runs on the loop thread (directly for inline routes, via `execute` for workers).
    func complete(_ response: Response) {
        guard !isClosed else { return }
        if response.status < 200 || response.status > 599, !isPending(response) {
            // A status a client could not read (or would wait on forever, 1xx) is a handler bug.
            core.log("handler answered with invalid status \(response.status)")
            complete(.error(.internalError()))
            return
        }
        if case .pending(let pending) = response.body {
            // Produced elsewhere; the queued middleware changes run here on the loop when it arrives.
            pending.whenComplete { [self] raw in
                if EventLoop.current === loop {
                    complete(pending.finalize(raw))   // produced on this very loop: no hand-over
                } else {
                    loop.execute { self.complete(pending.finalize(raw)) }
                }
            }
            return
        }
        if state == .streamingBody || requestStream != nil {
            // The handler answered before reading its whole body: the rest is unread, so close after.
            requestStream?.fail(HTTPServerError.connectionClosed)
            requestStream = nil
            keepAlive = false
        }
        switch response.body {
        case .bytes(let body):
            // A HEAD answer describes the GET body it leaves out: a handler that knows that length
            // without the body (a proxy) says so in content-length.
            var length = body.count
            if currentIsHead, body.isEmpty, let declared = response.headers.first("content-length").flatMap(Int.init), declared >= 0 {
                length = declared
            }
            ResponseEncoder.writeHead(response, into: output, bodyLength: length, chunked: false,
                                      keepAlive: keepAlive, date: loop.dateHeader.current())
            if !currentIsHead && !ResponseEncoder.forbidsBody(response.status) {
                body.withUnsafeBytes { output.append($0) }
            }
            responseFinished()
        case .stream(let produce):
            // HEAD, 204 and 304 carry no body: running the producer would put chunks on the wire that
            // no framing header announced, and the client would read them as the next response.
            if currentIsHead || ResponseEncoder.forbidsBody(response.status) {
                ResponseEncoder.writeHead(response, into: output, bodyLength: 0, chunked: true,
                                          keepAlive: keepAlive, date: loop.dateHeader.current())
                responseFinished()
                return
            }
            let channel = ResponseStreamChannel(connection: self, timeout: core.writeTimeout)
            let accepted = core.workers.submit {
                var failure: (any Error)?
                do { try produce(channel) } catch { failure = error }
                channel.finish(failure)
            }
            guard accepted else {
                core.overloadRejections.next()
                complete(.error(.unavailable("the server is busy, try again", code: "overloaded", retryAfter: 1)))
                return
            }
            ResponseEncoder.writeHead(response, into: output, bodyLength: 0, chunked: true,
                                      keepAlive: keepAlive, date: loop.dateHeader.current())
            responseStream = channel
            state = .writingStream
            stateSince = loop.now
            flush()
        case .pending:
            break   // handled above
        }
    }

    private func isPending(_ response: Response) -> Bool {
        if case .pending = response.body { return true }
        return false
    }

    /// A chunk from the producer of a streamed response.
    func appendChunk(_ bytes: [UInt8]) {
        guard !isClosed, state == .writingStream, !bytes.isEmpty else { return }
        output.append(String(bytes.count, radix: 16))
        output.append("\r\n" as StaticString)
        output.append(bytes)
        output.append("\r\n" as StaticString)
        flush()
    }

    /// The producer is done. After an error the body cannot be completed honestly, so the connection is
    /// closed without the last chunk: the client sees a truncated body, not a false success.
    func finishStream(_ error: (any Error)?) {
        guard !isClosed, state == .writingStream else { return }
        responseStream = nil
        if let error {
            core.log("streamed response failed: \(error)")
            flushThenClose()
            return
        }
        output.append("0\r\n\r\n" as StaticString)
        responseFinished()
    }

    private func responseFinished() {
        state = .idle
        stateSince = loop.now
        if !keepAlive {
            flushThenClose()
            return
        }
        flush()
        if isClosed { return }
        if input.isEmpty && input.writableBytes > 64 * 1024 { input.reset(shrinkTo: 4096) }
        if readPaused && requestStream == nil {
            readPaused = false
            process()
            readAvailable()
        } else {
            process()
        }
    }

    private func flushThenClose() {
        closeAfterFlush = true
        flush()
    }

    /// An error found while reading the request: answer it and close (the framing can't be trusted).
    private func fail(status: Int, message: String) {
        keepAlive = false
        let code: String
        switch status {
        case 408: code = "timeout"
        case 413: code = "body_too_large"
        case 414: code = "uri_too_long"
        case 417: code = "expectation_failed"
        case 431: code = "headers_too_large"
        case 501: code = "not_implemented"
        case 505: code = "http_version_not_supported"
        default: code = "bad_request"
        }
        requestStream?.fail(status == 408 ? HTTPServerError.timeout : HTTPServerError.connectionClosed)
        requestStream = nil
        if state == .processing || state == .writingStream || state == .streamingBody {
            // A handler is still running; it will answer, then we close.
            return
        }
        let response = Response.error(APIError(status: status, code: code, message: message))
        ResponseEncoder.writeHead(response, into: output, bodyLength: response.body.bytes!.count, chunked: false,
                                  keepAlive: false, date: loop.dateHeader.current())
        output.append(response.body.bytes!)
        state = .idle
        flushThenClose()
    }

    // MARK: Writing

    func flush() {
        while output.readableBytes > 0 {
            let n = lattice_send(fd, output.readable.baseAddress, output.readableBytes)
            if n > 0 {
                output.consume(n)
                lastWriteProgress = loop.now
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                writeBlocked = true
                // A streamed body's producer waits on `drained`; tell it the client still reads.
                if lastWriteProgress == loop.now { responseStream?.progressed() }
                return
            } else {
                close()
                return
            }
        }
        writeBlocked = false
        if closeAfterFlush { close(); return }
        responseStream?.drained()
        if state == .idle && output.isEmpty && !processing {
            if readPaused && requestStream == nil {
                // Paused by `process` while the output was above its high-water mark.
                readPaused = false
                process()
                readAvailable()
            } else if !input.isEmpty {
                process()
            } else if loop.draining {
                // Shutting down and the last response is written: nothing is left for this connection.
                close()
            }
        }
    }

    // MARK: Deadlines and closing

    func checkDeadline(now: UInt64) {
        if writeBlocked && output.readableBytes > 0 {
            // Edge-triggered EPOLLOUT fires only once much of the send buffer is free, which a client
            // that reads slowly may take longer than the timeout to reach: top the socket up on every
            // sweep, so only a client that reads nothing counts as stalled.
            flush()
            if isClosed { return }
            if output.readableBytes > 0 && now &- lastWriteProgress > core.writeTimeout {
                close()
                return
            }
        }
        switch state {
        case .idle:
            if output.isEmpty && now &- stateSince > core.idleTimeout { close() }
        case .readingHead:
            if now &- stateSince > core.headerTimeout { fail(status: 408, message: "request head not received in time") }
        case .readingBody:
            if now &- lastReadProgress > core.bodyTimeout { fail(status: 408, message: "request body not received in time") }
        case .streamingBody:
            if !readPaused && now &- lastReadProgress > core.bodyTimeout {
                requestStream?.fail(HTTPServerError.timeout)
                requestStream = nil
                keepAlive = false
                state = .processing
            }
        case .processing, .writingStream, .closed:
            break
        }
    }

    /// Shutdown: idle connections close now; busy ones close after their current response.
    func drain() {
        keepAlive = false
        if (state == .idle || state == .readingHead) && output.isEmpty { close() }
    }

    func close() {
        guard !isClosed else { return }
        state = .closed
        requestStream?.fail(HTTPServerError.connectionClosed)
        requestStream = nil
        responseStream?.cancel()
        responseStream = nil
        loop.unregister(self)
        Glibc.close(fd)
    }
}
