import CCurl

/// Reads one HTTP/1.1 response (RFC 9112) as its bytes arrive from an upstream connection: the head,
/// interim 1xx answers skipped, then a body framed by Content-Length, chunked coding, or the end of
/// the connection (§6.3). Header and body sizes are bounded; anything malformed is a transport error
/// and the connection is not reused.
///
/// A value type fed by one connection on its loop thread.
struct UpstreamResponseParser {
    enum Progress: Equatable {
        case needMore
        /// The response is complete; `reusable` says whether the connection may carry another request.
        case complete(reusable: Bool)
    }

    private enum Framing {
        case empty
        case length(remaining: Int)
        case chunked(ChunkedBodyDecoder)
        case untilClose
    }

    let isHeadRequest: Bool
    let maxHeaderBytes: Int
    let maxBodyBytes: Int

    private(set) var status = 0
    private(set) var fields: [HTTPHeaders.Field] = []
    private(set) var body: [UInt8] = []
    /// Whether any byte of a response arrived (a silent close of a kept-alive connection is retryable).
    private(set) var receivedAny = false
    private var head: [UInt8] = []
    private var headBytesSeen = 0
    private var framing: Framing?
    private var reusable = true
    private var finished = false

    init(isHeadRequest: Bool, maxHeaderBytes: Int, maxBodyBytes: Int) {
        self.isHeadRequest = isHeadRequest
        self.maxHeaderBytes = max(maxHeaderBytes, 1_024)
        self.maxBodyBytes = max(maxBodyBytes, 0)
    }

    /// Consumes `input`. Bytes after the end of the response mean the upstream misbehaved (it must not
    /// answer what was not asked), so the connection is then not reused.
    mutating func feed(_ input: UnsafeBufferPointer<UInt8>) throws(HTTPClientError) -> Progress {
        guard !input.isEmpty else { return finished ? .complete(reusable: reusable) : .needMore }
        receivedAny = true
        var offset = 0
        while offset < input.count {
            if finished {
                reusable = false
                return .complete(reusable: false)
            }
            if framing == nil {
                offset = try readHead(input, from: offset)
                continue
            }
            offset = try readBody(input, from: offset)
        }
        return finished ? .complete(reusable: reusable) : .needMore
    }

    /// The connection ended: completes a body read until the close, fails anything else.
    mutating func endOfInput() throws(HTTPClientError) -> Progress {
        if finished { return .complete(reusable: false) }
        if case .untilClose = framing {
            finished = true
            return .complete(reusable: false)
        }
        let message = receivedAny ? "the upstream closed the connection in the middle of its answer"
                                  : "the upstream closed the connection without answering"
        throw .transport(code: Int((receivedAny ? CURLE_PARTIAL_FILE : CURLE_GOT_NOTHING).rawValue), message: message)
    }

    // MARK: Head

    private mutating func readHead(_ input: UnsafeBufferPointer<UInt8>, from start: Int) throws(HTTPClientError) -> Int {
        // Look for CRLF CRLF across the boundary of what arrived before.
        let scanFrom = max(0, head.count - 3)
        let available = input.count - start
        let room = maxHeaderBytes - head.count
        let take = min(available, room + 1)
        head.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<(start + take)]))
        var end = -1
        head.withUnsafeBufferPointer { b in
            var i = scanFrom
            while i + 3 < b.count {
                if b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { end = i; break }
                i += 1
            }
        }
        guard end >= 0 else {
            if head.count > maxHeaderBytes { throw .responseTooLarge }
            return start + take
        }
        let consumed = start + take - (head.count - (end + 4))
        try parseHead(end)
        head.removeAll(keepingCapacity: true)
        return consumed
    }

    private mutating func parseHead(_ end: Int) throws(HTTPClientError) {
        let weird = HTTPClientError.transport(code: Int(CURLE_WEIRD_SERVER_REPLY.rawValue), message: "the upstream's answer is not HTTP/1.1")
        var lines: [(start: Int, end: Int)] = []
        head.withUnsafeBufferPointer { b in
            var lineStart = 0
            var i = 0
            while i < end {
                if b[i] == 13 && b[i + 1] == 10 {
                    lines.append((lineStart, i))
                    lineStart = i + 2
                    i += 2
                } else {
                    i += 1
                }
            }
            lines.append((lineStart, end))
        }
        guard let statusLine = lines.first else { throw weird }
        // "HTTP/1.x NNN reason"
        let (minor, code) = head.withUnsafeBufferPointer { b -> (Int, Int) in
            let s = statusLine.start
            guard statusLine.end - s >= 12,
                  b[s] == 0x48, b[s + 1] == 0x54, b[s + 2] == 0x54, b[s + 3] == 0x50, b[s + 4] == 0x2F,
                  b[s + 5] == 0x31, b[s + 6] == 0x2E, b[s + 7] >= 0x30, b[s + 7] <= 0x39, b[s + 8] == 0x20 else { return (-1, -1) }
            var code = 0
            for k in 9..<12 {
                let c = b[s + k]
                guard c >= 0x30 && c <= 0x39 else { return (-1, -1) }
                code = code * 10 + Int(c - 0x30)
            }
            guard statusLine.end - s == 12 || b[s + 12] == 0x20 else { return (-1, -1) }
            return (Int(b[s + 7] - 0x30), code)
        }
        guard code >= 100 else { throw weird }
        var parsed: [HTTPHeaders.Field] = []
        parsed.reserveCapacity(lines.count - 1)
        let valid = head.withUnsafeBufferPointer { b -> Bool in
            for line in lines.dropFirst() {
                guard line.end > line.start else { return false }
                // A bare CR, LF or NUL inside a field is how responses get split (RFC 9110 §5.5).
                for k in line.start..<line.end where b[k] == 13 || b[k] == 10 || b[k] == 0 { return false }
                if b[line.start] == 0x20 || b[line.start] == 0x09 {
                    // Obsolete line folding (§5.2): part of the previous field's value.
                    guard !parsed.isEmpty else { return false }
                    parsed[parsed.count - 1].value += " " + Self.trimmedText(b, line.start, line.end)
                    continue
                }
                var colon = line.start
                while colon < line.end && b[colon] != 0x3A {
                    guard RequestHeadParser.isTokenChar(b[colon]) else { return false }
                    colon += 1
                }
                guard colon < line.end, colon > line.start else { return false }
                parsed.append((RequestHeadParser.string(b, line.start, colon), Self.trimmedText(b, colon + 1, line.end)))
            }
            return true
        }
        guard valid else { throw weird }

        if code < 200 {
            // 100 Continue and other interim answers: the real one follows. 101 would switch protocols,
            // which nobody asked for.
            guard code != 101 else { throw weird }
            return
        }
        status = code
        fields = parsed
        let headers = HTTPHeaders(parsed)
        if minor == 0 || headers.values("connection").contains(where: { Self.hasToken($0, "close") }) { reusable = false }
        if isHeadRequest || code == 204 || code == 304 {
            framing = .empty
            finished = true
            return
        }
        let codings = headers.values("transfer-encoding")
        if !codings.isEmpty {
            // Only chunked as the final coding frames the body; anything else reads until the close.
            let last = codings.last!.split(separator: ",").last.map { $0.trimmingSpaces }
            if let last, HTTPHeaders.equalNames(last, "chunked") {
                framing = .chunked(ChunkedBodyDecoder(maxBodyBytes: maxBodyBytes))
            } else {
                framing = .untilClose
                reusable = false
            }
            if headers.contains("content-length") { reusable = false }
            return
        }
        let lengths = headers.values("content-length")
        if let first = lengths.first {
            guard let length = RequestHeadParser.parseContentLength(Substring(first)),
                  lengths.allSatisfy({ $0 == first }) else {
                throw .transport(code: Int(CURLE_WEIRD_SERVER_REPLY.rawValue), message: "the upstream sent an invalid content-length")
            }
            guard length <= maxBodyBytes else { throw .responseTooLarge }
            body.reserveCapacity(min(length, 1 << 20))   // the upstream's say-so is no reason to take 64 MB at once
            framing = .length(remaining: length)
            if length == 0 { finished = true }
            return
        }
        framing = .untilClose
        reusable = false
    }

    // MARK: Body

    private mutating func readBody(_ input: UnsafeBufferPointer<UInt8>, from start: Int) throws(HTTPClientError) -> Int {
        switch framing {
        case .length(let remaining):
            let take = min(remaining, input.count - start)
            body.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<(start + take)]))
            framing = .length(remaining: remaining - take)
            if remaining == take { finished = true }
            return start + take
        case .chunked(var decoder):
            let used: Int
            do {
                used = try decoder.decode(UnsafeBufferPointer(rebasing: input[start...]), into: &body)
            } catch {
                if error.status == 413 { throw .responseTooLarge }
                throw .transport(code: Int(CURLE_RECV_ERROR.rawValue), message: "the upstream's chunked body is malformed: \(error.reason)")
            }
            if decoder.isDone { finished = true }
            framing = .chunked(decoder)
            return start + used
        case .untilClose:
            let take = input.count - start
            guard take <= maxBodyBytes - body.count else { throw .responseTooLarge }
            body.append(contentsOf: UnsafeBufferPointer(rebasing: input[start...]))
            return input.count
        case .empty, nil:
            return input.count
        }
    }

    // MARK: Helpers

    private static func trimmedText(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        var s = start, e = end
        while s < e && (b[s] == 0x20 || b[s] == 0x09) { s += 1 }
        while e > s && (b[e - 1] == 0x20 || b[e - 1] == 0x09) { e -= 1 }
        return RequestHeadParser.string(b, s, e)
    }

    /// Whether a comma-separated header value lists `token` (case-insensitively).
    static func hasToken(_ value: String, _ token: String) -> Bool {
        value.split(separator: ",").contains { HTTPHeaders.equalNames($0.trimmingSpaces, token) }
    }

}
