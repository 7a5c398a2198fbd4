import Contracts
import Foundation
import HTTP
import ServiceKit

/// Forwards a public request to the service that owns it, as that caller.
///
/// Reads are sent without blocking (the HTTP client's multi-transfer thread answers them as pending
/// responses); writes are buffered both ways on the worker. Uploads on streaming routes (imports) are
/// sent while they arrive; exports (`format=csv`, `text/csv`, `…/export`, `…/members`) are passed back
/// while the upstream produces them, through a bounded hand-over with back-pressure. An upstream that
/// is down answers 502, one that is too slow 504, both as JSON within the configured timeouts.
final class Proxy: Sendable {
    let table: UpstreamTable
    let client: HTTPClient
    let timeoutMs: Int
    let connectTimeoutMs: Int
    let streamingTransfers = DispatchSemaphore(value: 64)

    init(table: UpstreamTable, internalSecret: String, connectTimeout: TimeInterval, timeout: TimeInterval) {
        self.table = table
        var configuration = HTTPClient.Configuration()
        configuration.internalCredential = internalSecret
        configuration.retry = .none   // the caller decides about retries; a proxy must not multiply them
        configuration.connectTimeoutMs = Int(connectTimeout * 1000)
        configuration.timeoutMs = Int(timeout * 1000)
        configuration.maxConcurrentRequests = 512
        client = HTTPClient(configuration: configuration)
        timeoutMs = Int(timeout * 1000)
        connectTimeoutMs = Int(connectTimeout * 1000)
    }

    func forward(_ request: Request, _ context: RequestContext, to service: String) throws -> Response {
        guard let base = table.baseURL(of: service) else {
            throw APIError(status: 502, code: "upstream_unconfigured", message: "no address is configured for the \(service) service")
        }
        var outgoing = HTTPClientRequest(method: request.method.rawValue, url: base + request.path + (request.query.map { "?" + $0 } ?? ""))
        outgoing.headers = ProxyHeaders.upstreamRequest(request.headers, remoteAddress: request.remoteAddress)
        let call = HTTPClient.CallContext(requestId: context.requestId, identity: context.identity)

        if case .stream(let body) = request.body {
            let length = request.headers.first("content-length").flatMap(Int.init)
            return try collect(outgoing, body: body, length: length, call: call, service: service)
        }
        if Self.wantsStreamedResponse(request) {
            if ExecutionThread.isEventLoop { throw HTTPServerError.needsBlockingThread }
            outgoing.body = request.body.bytes.isEmpty ? nil : request.body.bytes
            return try streamBack(outgoing, call: call, service: service)
        }
        if request.method == .GET || request.method == .HEAD {
            // Reads: answered later from the client's I/O thread; no worker waits for the upstream.
            // (Writes stay synchronous: their audit record must be written by a thread that may block.)
            let pending = PendingResponse()
            client.send(outgoing, context: call) { result in
                switch result {
                case .success(let r):
                    var headers = ProxyHeaders.clientResponse(r.headers)
                    // HEAD: the upstream's length of the body it did not send.
                    if let length = r.headers.first("content-length"), request.method == .HEAD { headers.set("content-length", length) }
                    pending.complete(Response(status: r.status, headers: headers, body: .bytes(r.body)))
                case .failure(let error):
                    pending.complete(.error(Self.gatewayError(error, service: service)))
                }
            }
            return .pending(pending)
        }
        outgoing.body = request.body.bytes.isEmpty && !Self.hasBody(request.method) ? nil : request.body.bytes
        do {
            let response = try client.send(outgoing, context: call)
            return Response(status: response.status, headers: ProxyHeaders.clientResponse(response.headers), body: .bytes(response.body))
        } catch {
            throw Self.gatewayError(error, service: service)
        }
    }

    static func hasBody(_ method: HTTPMethod) -> Bool { method == .POST || method == .PUT || method == .PATCH }

    /// Exports are passed back while they are produced.
    static func wantsStreamedResponse(_ request: Request) -> Bool {
        guard request.method == .GET else { return false }
        if request.queryParameters["format"] == "csv" { return true }
        if let accept = request.headers.first("accept"), accept.contains("text/csv") { return true }
        return request.path.hasSuffix("/export") || request.path.hasSuffix("/members")
    }

    /// An upload sent while it arrives; the (small) answer is collected.
    private func collect(_ outgoing: HTTPClientRequest, body: any RequestBodyStream, length: Int?,
                         call: HTTPClient.CallContext, service: String) throws -> Response {
        var outgoing = outgoing
        outgoing.timeoutMs = max(timeoutMs, 3_600_000)   // a large import may take long to send
        var status = 502
        var headers = HTTPHeaders()
        var bytes: [UInt8] = []
        let limit = 64 << 20
        do {
            try client.stream(outgoing, body: body, bodyLength: length, context: call,
                              onHead: { status = $0; headers = $1 },
                              onBody: { chunk in
                                  guard bytes.count + chunk.count <= limit else { throw HTTPClientError.responseTooLarge }
                                  bytes.append(contentsOf: chunk)
                              })
        } catch {
            throw Self.gatewayError(error, service: service)
        }
        return Response(status: status, headers: ProxyHeaders.clientResponse(headers), body: .bytes(bytes))
    }

    /// Runs the upstream call on its own thread and answers as soon as the head is known; the body
    /// follows through a bounded hand-over.
    private func streamBack(_ outgoing: HTTPClientRequest, call: HTTPClient.CallContext, service: String) throws -> Response {
        guard streamingTransfers.wait(timeout: .now()) == .success else {
            throw APIError.unavailable("too many exports in progress, try again", code: "overloaded", retryAfter: 5)
        }
        var exportRequest = outgoing
        exportRequest.timeoutMs = 3_600_000
        let upstreamRequest = exportRequest
        let bridge = StreamBridge()
        let client = self.client
        let slots = streamingTransfers
        let thread = Thread {
            defer { slots.signal() }
            do {
                try client.stream(upstreamRequest, context: call,
                                  onHead: { bridge.head($0, $1) },
                                  onBody: { try bridge.push($0) })
                bridge.finish(nil)
            } catch {
                bridge.finish(Self.gatewayError(error, service: service))
            }
        }
        thread.name = "gateway-export"
        thread.start()
        switch bridge.waitForHead(timeout: Double(timeoutMs) / 1000) {
        case .head(let status, let headers):
            return Response(status: status, headers: ProxyHeaders.clientResponse(headers), body: .stream { writer in
                try bridge.drain(into: writer)
            })
        case .failed(let error):
            throw error
        case .timedOut:
            bridge.cancel()
            throw APIError(status: 504, code: "upstream_timeout", message: "the \(service) service did not answer in time")
        }
    }

    /// The one mapping from client failures to what the gateway answers.
    static func gatewayError(_ error: any Error, service: String) -> APIError {
        if let api = error as? APIError { return api }
        guard let failure = error as? HTTPClientError else {
            return APIError(status: 502, code: "upstream_failed", message: "the \(service) service failed")
        }
        switch failure {
        case .timeout:
            return APIError(status: 504, code: "upstream_timeout", message: "the \(service) service did not answer in time")
        case .connectionRefused, .couldNotResolve:
            return APIError(status: 502, code: "upstream_unavailable", message: "the \(service) service is unavailable", retryAfterSeconds: 5)
        case .responseTooLarge:
            return APIError(status: 502, code: "upstream_response_too_large", message: "the \(service) service answered too much")
        default:
            return APIError(status: 502, code: "upstream_failed", message: "the \(service) service failed")
        }
    }
}

/// Hands an upstream response from the transfer thread to the client's writer.
///
/// Thread-safety: every field is guarded by `condition`.
final class StreamBridge: @unchecked Sendable {
    enum HeadOutcome { case head(Int, HTTPHeaders), failed(APIError), timedOut }

    private let condition = NSCondition()
    private var status: Int?
    private var headers = HTTPHeaders()
    private var chunks: [[UInt8]] = []
    private var buffered = 0
    private var done = false
    private var failure: APIError?
    private var cancelled = false
    static let limit = 1 << 20

    func head(_ status: Int, _ headers: HTTPHeaders) {
        condition.lock()
        self.status = status
        self.headers = headers
        condition.broadcast()
        condition.unlock()
    }

    /// Transfer side: blocks while the client lags (back-pressure reaches the upstream through curl).
    func push(_ chunk: [UInt8]) throws {
        condition.lock()
        defer { condition.unlock() }
        while buffered > Self.limit && !cancelled { condition.wait() }
        if cancelled { throw HTTPServerError.connectionClosed }
        chunks.append(chunk)
        buffered += chunk.count
        condition.broadcast()
    }

    func finish(_ error: APIError?) {
        condition.lock()
        done = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    func waitForHead(timeout: TimeInterval) -> HeadOutcome {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while status == nil && !done {
            if !condition.wait(until: deadline) { return .timedOut }
        }
        if let status { return .head(status, headers) }
        return .failed(failure ?? APIError(status: 502, code: "upstream_failed", message: "the upstream closed without answering"))
    }

    /// Client side: writes chunks until the transfer ends. A transfer that failed midway ends the
    /// response with an error, so the client sees a truncated body rather than a false success.
    func drain(into writer: any ResponseBodyWriter) throws {
        while true {
            condition.lock()
            while chunks.isEmpty && !done { condition.wait() }
            let batch = chunks
            chunks.removeAll()
            buffered = 0
            let finished = done
            let failure = self.failure
            condition.broadcast()
            condition.unlock()
            do {
                for chunk in batch { try writer.write(chunk) }
            } catch {
                cancel()
                throw error
            }
            if finished {
                if let failure { throw failure }
                return
            }
        }
    }
}
