import CCurl
import Foundation

/// A request checked and turned into what libcurl needs, once per call (retries reuse it).
struct PreparedRequest {
    var method: String
    var url: String
    /// The fields to send, checked (token names, no control characters in values).
    var fields: [HTTPHeaders.Field]
    /// Whether `fields` name a user agent, or an `Expect` of the caller's own.
    var hasUserAgent: Bool
    var hasExpect: Bool
    var body: [UInt8]?
    /// A body read while it is sent, instead of `body`; `uploadLength` nil sends it chunked.
    var upload: UploadSource? = nil
    var uploadLength: Int? = nil
    var connectTimeoutMs: Int
    var timeoutMs: Int
    var idempotent: Bool
    /// IP literals for the URL's host (checked by `prepare`); nil resolves the name.
    var pinnedAddresses: [String]? = nil
}

/// What one attempt produced.
enum AttemptOutcome {
    case response(HTTPClientResponse, retryAfterSeconds: Int?)
    /// `newConnections` counts connections opened before the failure.
    case failure(HTTPClientError, newConnections: Int)
}

/// Collects the response while `curl_easy_perform` runs. Used only on the calling thread: libcurl
/// invokes the callbacks synchronously from inside `curl_easy_perform`.
final class ResponseSink {
    var body: [UInt8] = []
    /// Fields of the latest header block, in order.
    var fields: [HTTPHeaders.Field] = []
    var headerBytes = 0
    let maxBodyBytes: Int
    let maxHeaderBytes: Int
    var exceededLimit = false
    /// When set, the body is handed over as it arrives instead of collected (no size limit applies).
    var receiver: StreamingReceiver?

    init(maxBodyBytes: Int, maxHeaderBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
    }

    /// One header line as libcurl delivers it, CRLF included.
    func appendHeaderLine(_ line: UnsafeBufferPointer<UInt8>) {
        var end = line.count
        while end > 0, line[end - 1] == 0x0A || line[end - 1] == 0x0D { end -= 1 }
        guard end > 0 else { return }  // the blank line ending a header block
        if end >= 5, line[0] == 0x48, line[1] == 0x54, line[2] == 0x54, line[3] == 0x50, line[4] == 0x2F {
            // "HTTP/": a status line starts a new header block (after a 100 Continue, say), so only
            // the final response's fields are kept.
            fields.removeAll(keepingCapacity: true)
            return
        }
        if line[0] == 0x20 || line[0] == 0x09 {
            // Obsolete line folding (RFC 9112 §5.2): continues the previous field's value.
            if !fields.isEmpty {
                let text = Self.trimmed(line, 0, end)
                fields[fields.count - 1].value += " " + text
            }
            return
        }
        var colon = 0
        while colon < end && line[colon] != 0x3A { colon += 1 }
        guard colon < end else { return }
        let name = String(decoding: UnsafeBufferPointer(rebasing: line[0..<colon]), as: UTF8.self)
        fields.append((name: name, value: Self.trimmed(line, colon + 1, end)))
    }

    /// The bytes between `start` and `end` without surrounding spaces and tabs, as text.
    private static func trimmed(_ line: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        var s = start, e = end
        while s < e && (line[s] == 0x20 || line[s] == 0x09) { s += 1 }
        while e > s && (line[e - 1] == 0x20 || line[e - 1] == 0x09) { e -= 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: line[s..<e]), as: UTF8.self)
    }
}

/// libcurl's body callback: appends, or stops the transfer (by returning less than offered) when the
/// body would pass its limit.
private let writeBody: lattice_curl_write_callback = { data, size, count, context in
    guard let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let (bytes, overflow) = size.multipliedReportingOverflow(by: count)
    guard !overflow else { sink.exceededLimit = true; return 0 }
    guard bytes > 0, let data else { return bytes }
    if let receiver = sink.receiver {
        let chunk = data.withMemoryRebound(to: UInt8.self, capacity: bytes) { Array(UnsafeBufferPointer(start: $0, count: bytes)) }
        return receiver.deliver(chunk, fields: sink.fields) ? bytes : 0
    }
    guard bytes <= sink.maxBodyBytes - sink.body.count else {
        sink.exceededLimit = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: bytes) {
        sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: bytes))
    }
    return bytes
}

/// libcurl's header callback: one complete header line per call.
private let writeHeader: lattice_curl_write_callback = { data, size, count, context in
    guard let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let (bytes, overflow) = size.multipliedReportingOverflow(by: count)
    guard !overflow else { sink.exceededLimit = true; return 0 }
    guard bytes > 0, let data else { return bytes }
    sink.headerBytes += bytes
    guard sink.headerBytes <= sink.maxHeaderBytes else {
        sink.exceededLimit = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: bytes) {
        sink.appendHeaderLine(UnsafeBufferPointer(start: $0, count: bytes))
    }
    return bytes
}

/// A request body pulled from a stream while curl sends it. Used on the calling thread only.
final class UploadSource {
    let stream: any RequestBodyStream
    private var pending: [UInt8] = []
    private var offset = 0
    private(set) var failure: (any Error)?

    init(_ stream: any RequestBodyStream) { self.stream = stream }

    /// Fills `buffer`; 0 means the end of the body.
    func fill(_ buffer: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        while offset == pending.count {
            do {
                guard let next = try stream.read() else { return 0 }
                pending = next
                offset = 0
            } catch {
                failure = error
                return nil
            }
        }
        let n = min(capacity, pending.count - offset)
        pending.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
        offset += n
        return n
    }
}

/// Hands a streamed response over: the head once (at the first body byte, or at the end for an empty
/// body), then each chunk. A throwing callback aborts the transfer. Used on the calling thread only.
final class StreamingReceiver {
    let easy: UnsafeMutableRawPointer
    let onHead: (Int, HTTPHeaders) throws -> Void
    let onBody: ([UInt8]) throws -> Void
    private(set) var headDelivered = false
    private(set) var failure: (any Error)?

    init(easy: UnsafeMutableRawPointer, onHead: @escaping (Int, HTTPHeaders) throws -> Void, onBody: @escaping ([UInt8]) throws -> Void) {
        self.easy = easy
        self.onHead = onHead
        self.onBody = onBody
    }

    func deliverHead(fields: [HTTPHeaders.Field]) -> Bool {
        guard !headDelivered else { return failure == nil }
        headDelivered = true
        var status = 0
        _ = lattice_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        do { try onHead(status, HTTPHeaders(fields)) } catch { failure = error; return false }
        return true
    }

    func deliver(_ chunk: [UInt8], fields: [HTTPHeaders.Field]) -> Bool {
        guard deliverHead(fields: fields) else { return false }
        do { try onBody(chunk) } catch { failure = error; return false }
        return true
    }
}

private let readBody: lattice_curl_read_callback = { buffer, size, count, context in
    guard let context, let buffer else { return 0 }
    let source = Unmanaged<UploadSource>.fromOpaque(context).takeUnretainedValue()
    let (capacity, overflow) = size.multipliedReportingOverflow(by: count)
    guard !overflow else { return Int(CURL_READFUNC_ABORT) }
    guard let n = source.fill(UnsafeMutableRawPointer(buffer), capacity: capacity) else { return Int(CURL_READFUNC_ABORT) }
    return n
}

/// A zero-length body still needs a non-NULL `CURLOPT_COPYPOSTFIELDS` (NULL makes curl read from a
/// callback instead), so empty bodies point here.
private let emptyBody: [UInt8] = [0]

/// Options set on a handle for one transfer, and what must live until it ends.
///
/// Ownership: created and released on the thread that drives the transfer; `release()` frees the
/// header list once the handle no longer uses it (after the transfer, before the handle is reused).
final class TransferSetup {
    let sink: ResponseSink
    let receiver: StreamingReceiver?
    let upload: UploadSource?
    private(set) var headerList: UnsafeMutablePointer<curl_slist>?
    /// The `CURLOPT_RESOLVE` entry of a pinned request (libcurl does not copy the list).
    private(set) var resolveList: UnsafeMutablePointer<curl_slist>?
    /// The first option libcurl refused, if any (the transfer must not start then).
    var error: CURLcode = CURLE_OK

    init(sink: ResponseSink, receiver: StreamingReceiver?, upload: UploadSource?) {
        self.sink = sink
        self.receiver = receiver
        self.upload = upload
    }

    func adopt(_ list: UnsafeMutablePointer<curl_slist>?) { headerList = list }
    func adopt(resolve list: UnsafeMutablePointer<curl_slist>?) { resolveList = list }

    func release() {
        curl_slist_free_all(headerList)
        headerList = nil
        curl_slist_free_all(resolveList)
        resolveList = nil
    }
}

/// Configures `handle` for `request`. The body is copied into libcurl (COPYPOSTFIELDS), so the request
/// may go away once this returns; the setup must outlive the transfer.
func configureTransfer(_ request: PreparedRequest, on handle: CurlEasyHandle, configuration: HTTPClient.Configuration,
                       receiver: StreamingReceiver? = nil) -> TransferSetup {
    let easy = handle.easy
    let sink = ResponseSink(maxBodyBytes: max(configuration.maxResponseBodyBytes, 0),
                            maxHeaderBytes: max(configuration.maxResponseHeaderBytes, 1_024))
    sink.receiver = receiver
    let setup = TransferSetup(sink: sink, receiver: receiver, upload: request.upload)
    func check(_ code: CURLcode) { if setup.error == CURLE_OK && code != CURLE_OK { setup.error = code } }
    func setLong(_ option: CURLoption, _ value: Int) { check(lattice_curl_setopt_long(easy, option, value)) }
    func setString(_ option: CURLoption, _ value: String) {
        // libcurl copies string options (since 7.17), so the C string need only live for the call.
        value.withCString { check(lattice_curl_setopt_string(easy, option, $0)) }
    }

    handle.errorBuffer[0] = 0
    check(lattice_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(handle.errorBuffer)))
    // Signals are process-wide; a multi-threaded program must not let curl use SIGALRM for timeouts.
    setLong(CURLOPT_NOSIGNAL, 1)
    setString(CURLOPT_URL, request.url)
    if let pinned = request.pinnedAddresses, let entry = resolveEntry(url: request.url, addresses: pinned) {
        // "+": the entry ages out of the handle's DNS cache like a looked-up one, and a later
        // request on this handle resolves the name again.
        guard let list = curl_slist_append(nil, entry) else {
            setup.error = CURLE_OUT_OF_MEMORY
            return setup
        }
        setup.adopt(resolve: list)
        check(lattice_curl_setopt_slist(easy, CURLOPT_RESOLVE, list))
    }
    check(lattice_curl_allow_http_only(easy))
    setLong(CURLOPT_FOLLOWLOCATION, 0)
    setLong(CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeoutMs)
    setLong(CURLOPT_TIMEOUT_MS, request.timeoutMs)
    setLong(CURLOPT_MAXAGE_CONN, min(max(configuration.maxConnectionIdleSeconds, 1), 3_600))
    setLong(CURLOPT_TCP_KEEPALIVE, 1)
    if receiver == nil {
        check(lattice_curl_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(sink.maxBodyBytes)))
    }
    if !configuration.useEnvironmentProxy { setString(CURLOPT_PROXY, "") }
    if !request.hasUserAgent { setString(CURLOPT_USERAGENT, configuration.userAgent) }

    let context = Unmanaged.passUnretained(sink).toOpaque()
    check(lattice_curl_setopt_write_callback(easy, CURLOPT_WRITEFUNCTION, writeBody))
    check(lattice_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, context))
    check(lattice_curl_setopt_write_callback(easy, CURLOPT_HEADERFUNCTION, writeHeader))
    check(lattice_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, context))

    var headerList: UnsafeMutablePointer<curl_slist>? = nil
    for line in curlHeaderLines(request) {
        guard let extended = curl_slist_append(headerList, line) else {
            curl_slist_free_all(headerList)
            setup.error = CURLE_OUT_OF_MEMORY
            return setup
        }
        headerList = extended
    }
    setup.adopt(headerList)
    check(lattice_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList))

    let sendsBody = request.body != nil || ["POST", "PUT", "PATCH"].contains(request.method)
    if request.method == "HEAD" {
        setLong(CURLOPT_NOBODY, 1)
    } else if let upload = request.upload {
        // A streamed body: curl pulls it through the read callback while sending.
        check(lattice_curl_setopt_read_callback(easy, CURLOPT_READFUNCTION, readBody))
        check(lattice_curl_setopt_pointer(easy, CURLOPT_READDATA, Unmanaged.passUnretained(upload).toOpaque()))
        if request.method == "POST" {
            setLong(CURLOPT_POST, 1)
            check(lattice_curl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.uploadLength ?? -1)))
        } else {
            setLong(CURLOPT_UPLOAD, 1)
            check(lattice_curl_setopt_off_t(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.uploadLength ?? -1)))
            setString(CURLOPT_CUSTOMREQUEST, request.method)
        }
    } else if sendsBody {
        let body = request.body ?? []
        check(lattice_curl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
        // Copied by libcurl: the transfer does not depend on the caller's array staying alive.
        (body.isEmpty ? emptyBody : body).withUnsafeBufferPointer {
            check(lattice_curl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)))
        }
        if request.method != "POST" { setString(CURLOPT_CUSTOMREQUEST, request.method) }
    } else if request.method == "GET" {
        setLong(CURLOPT_HTTPGET, 1)
    } else {
        setString(CURLOPT_CUSTOMREQUEST, request.method)
    }
    return setup
}

/// The fields as libcurl takes them: curl drops a header given as "Name:" with nothing after it, and
/// "Name;" is its way to send a field with an empty value. libcurl adds `Expect: 100-continue` to larger
/// bodies and then waits for an interim answer; our servers answer directly, so the header would only
/// add a round trip (or a 1 s stall): an empty `Expect:` turns it off.
private func curlHeaderLines(_ request: PreparedRequest) -> [String] {
    var lines: [String] = []
    lines.reserveCapacity(request.fields.count + 1)
    for field in request.fields { lines.append(field.value.isEmpty ? field.name + ";" : field.name + ": " + field.value) }
    if !request.hasExpect { lines.append("Expect:") }
    return lines
}

/// What a finished transfer produced, read from the handle.
func collectOutcome(_ code: CURLcode, setup: TransferSetup, handle: CurlEasyHandle) -> AttemptOutcome {
    let easy = handle.easy
    let sink = setup.sink
    var connects = 0
    _ = lattice_curl_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
    guard code == CURLE_OK else {
        if let failure = setup.receiver?.failure { return .failure(.transport(code: -1, message: "receiver stopped: \(failure)"), newConnections: connects) }
        if let failure = setup.upload?.failure { return .failure(.transport(code: -2, message: "request body failed: \(failure)"), newConnections: connects) }
        return .failure(classify(code, sink: sink, message: handle.errorMessage), newConnections: connects)
    }
    if let receiver = setup.receiver, !receiver.deliverHead(fields: sink.fields) {
        return .failure(.transport(code: -1, message: "receiver stopped: \(receiver.failure.map { "\($0)" } ?? "")"), newConnections: connects)
    }
    var status = 0
    _ = lattice_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
    var retryAfter: curl_off_t = 0
    _ = lattice_curl_getinfo_off_t(easy, CURLINFO_RETRY_AFTER, &retryAfter)
    let response = HTTPClientResponse(status: status, headers: HTTPHeaders(sink.fields), body: sink.body,
                                      attempts: 1, newConnections: connects)
    return .response(response, retryAfterSeconds: retryAfter > 0 ? Int(clamping: retryAfter) : nil)
}

/// Runs one attempt of `request` on `handle`, blocking the calling thread. Never throws: every
/// failure is an outcome.
func performTransfer(_ request: PreparedRequest, on handle: CurlEasyHandle,
                     configuration: HTTPClient.Configuration, receiver: StreamingReceiver? = nil) -> AttemptOutcome {
    let setup = configureTransfer(request, on: handle, configuration: configuration, receiver: receiver)
    defer { setup.release() }
    let code = setup.error == CURLE_OK ? withExtendedLifetime(setup) { curl_easy_perform(handle.easy) } : setup.error
    return collectOutcome(code, setup: setup, handle: handle)
}

/// Maps a libcurl failure to the error callers handle.
private func classify(_ code: CURLcode, sink: ResponseSink, message: String) -> HTTPClientError {
    switch code {
    case CURLE_OPERATION_TIMEDOUT: return .timeout
    case CURLE_COULDNT_CONNECT: return .connectionRefused
    case CURLE_COULDNT_RESOLVE_HOST: return .couldNotResolve
    case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: return .invalidURL
    case CURLE_FILESIZE_EXCEEDED: return .responseTooLarge
    case CURLE_WRITE_ERROR where sink.exceededLimit: return .responseTooLarge
    default:
        let text = message.isEmpty ? String(cString: curl_easy_strerror(code)) : message
        return .transport(code: Int(code.rawValue), message: text)
    }
}

/// libcurl codes meaning an established connection was lost before a complete response arrived.
/// Retrying them is safe only for idempotent requests.
let connectionLostCodes: Set<Int> = [
    Int(CURLE_GOT_NOTHING.rawValue), Int(CURLE_SEND_ERROR.rawValue), Int(CURLE_RECV_ERROR.rawValue),
    Int(CURLE_PARTIAL_FILE.rawValue),
]

/// `+HOST:PORT:ADDR[,ADDR]` for `CURLOPT_RESOLVE`; nil when the URL's host is itself an address.
func resolveEntry(url: String, addresses: [String]) -> String? {
    guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
          !host.hasPrefix("["), !addresses.isEmpty else { return nil }
    let port = components.port ?? (components.scheme?.lowercased() == "https" ? 443 : 80)
    let list = addresses.map { $0.contains(":") ? "[\($0)]" : $0 }.joined(separator: ",")
    return "+\(host):\(port):\(list)"
}
