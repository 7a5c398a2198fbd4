/// Parses the head of an HTTP/1.1 request (request line and header fields) from raw bytes.
///
/// Pure and allocation-light: it touches no sockets, so the connection, the tests and the fuzzer
/// drive the same code. Strict where RFC 9112 asks servers to be (obs-fold, whitespace before the colon,
/// conflicting framing, control characters), because lenient parsers in front of other parsers are how
/// request smuggling happens.
public enum RequestHeadParser {
    public enum Result {
        /// More bytes are needed; `scanFrom` is where to resume looking for the end of the head.
        case incomplete(scanFrom: Int)
        /// A head occupying `consumed` bytes.
        case complete(RequestHead, consumed: Int)
        case failure(HTTPParseError)
    }

    /// Parses a head at the start of `buffer`. `scanFrom` (from the previous `.incomplete`) keeps a
    /// byte-at-a-time sender from making the scan quadratic.
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>, scanFrom: Int = 0,
                             limits: HTTPParserLimits = HTTPParserLimits()) -> Result {
        let count = buffer.count
        // Find the blank line that ends the head.
        var i = max(0, scanFrom)
        var end = -1
        while i + 3 < count {
            if buffer[i + 3] != 10 { i += (buffer[i + 3] == 13 ? 1 : 4); continue }
            if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 {
                end = i
                break
            }
            i += 1
        }
        if end < 0 {
            // Leading empty lines before the request line are tolerated (RFC 9112 §2.2) but count.
            if count > limits.maxRequestLineBytes {
                // Bounded search: a byte-at-a-time sender costs at most this much per read.
                let lineEnd = firstCRLF(buffer, from: 0, to: min(count, limits.maxRequestLineBytes + 2))
                if lineEnd < 0 { return .failure(HTTPParseError(414, "request line too long")) }
            }
            if count > limits.maxHeaderBytes { return .failure(HTTPParseError(431, "header block too large")) }
            return .incomplete(scanFrom: max(0, count - 3))
        }
        let headEnd = end + 4
        if headEnd > limits.maxHeaderBytes + 4 { return .failure(HTTPParseError(431, "header block too large")) }
        return parseHead(buffer, headEnd: headEnd, limits: limits)
    }

    @inline(__always)
    static func firstCRLF(_ b: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int {
        var i = from
        while i + 1 < to {
            if b[i] == 13 && b[i + 1] == 10 { return i }
            i += 1
        }
        return -1
    }

    static func parseHead(_ b: UnsafeBufferPointer<UInt8>, headEnd: Int, limits: HTTPParserLimits) -> Result {
        var pos = 0
        // Skip at most a few empty lines before the request line.
        var skipped = 0
        while pos + 1 < headEnd && b[pos] == 13 && b[pos + 1] == 10 && skipped < 4 { pos += 2; skipped += 1 }
        let lineEnd = firstCRLF(b, from: pos, to: headEnd)
        guard lineEnd > pos else { return .failure(HTTPParseError(400, "missing request line")) }
        if lineEnd - pos > limits.maxRequestLineBytes { return .failure(HTTPParseError(414, "request line too long")) }

        // method SP request-target SP HTTP-version
        var sp1 = pos
        while sp1 < lineEnd && b[sp1] != 32 {
            guard isTokenChar(b[sp1]) else { return .failure(HTTPParseError(400, "invalid method")) }
            sp1 += 1
        }
        guard sp1 > pos, sp1 < lineEnd else { return .failure(HTTPParseError(400, "malformed request line")) }
        var sp2 = sp1 + 1
        while sp2 < lineEnd && b[sp2] != 32 {
            let c = b[sp2]
            guard c > 32 && c < 127 else { return .failure(HTTPParseError(400, "invalid character in request target")) }
            sp2 += 1
        }
        guard sp2 > sp1 + 1, sp2 < lineEnd else { return .failure(HTTPParseError(400, "malformed request line")) }
        guard let version = parseVersion(b, from: sp2 + 1, to: lineEnd) else {
            return .failure(HTTPParseError(400, "malformed HTTP version"))
        }
        guard version.major == 1 else { return .failure(HTTPParseError(505, "only HTTP/1.x is supported")) }

        let method = makeMethod(b, pos, sp1)
        // request-target: origin-form, absolute-form (path taken), or `*` for OPTIONS.
        var targetStart = sp1 + 1
        let targetEnd = sp2
        if b[targetStart] != UInt8(ascii: "/") {
            if b[targetStart] == UInt8(ascii: "*") && targetEnd == targetStart + 1 && method == .OPTIONS {
                // asterisk-form: served as path "*"
            } else if let pathStart = absoluteFormPathStart(b, targetStart, targetEnd) {
                targetStart = pathStart
            } else {
                return .failure(HTTPParseError(400, "invalid request target"))
            }
        }
        var q = targetStart
        while q < targetEnd && b[q] != UInt8(ascii: "?") { q += 1 }
        let path = targetStart == targetEnd ? "/" : string(b, targetStart, q)
        let query: String? = q < targetEnd ? string(b, q + 1, targetEnd) : nil

        // Header fields.
        var headers = HTTPHeaders()
        headers.fields.reserveCapacity(8)
        var line = lineEnd + 2
        var hostCount = 0
        var contentLength: Int? = nil
        var transferEncoding: String? = nil
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false
        while line < headEnd - 2 {
            let eol = firstCRLF(b, from: line, to: headEnd)
            guard eol >= line else { return .failure(HTTPParseError(400, "malformed header")) }
            if b[line] == 32 || b[line] == 9 { return .failure(HTTPParseError(400, "obsolete line folding")) }
            var colon = line
            while colon < eol && b[colon] != UInt8(ascii: ":") {
                guard isTokenChar(b[colon]) else { return .failure(HTTPParseError(400, "invalid header name")) }
                colon += 1
            }
            guard colon > line, colon < eol else { return .failure(HTTPParseError(400, "malformed header")) }
            var vs = colon + 1
            var ve = eol
            while vs < ve && (b[vs] == 32 || b[vs] == 9) { vs += 1 }
            while ve > vs && (b[ve - 1] == 32 || b[ve - 1] == 9) { ve -= 1 }
            for k in vs..<ve {
                let c = b[k]
                if (c < 32 && c != 9) || c == 127 { return .failure(HTTPParseError(400, "invalid character in header value")) }
            }
            if headers.count >= limits.maxHeaderCount { return .failure(HTTPParseError(431, "too many header fields")) }
            let name = string(b, line, colon)
            let value = string(b, vs, ve)
            headers.fields.append((name, value))

            switch colon - line {
            case 4 where HTTPHeaders.equalNames(name, "host"):
                hostCount += 1
            case 6 where HTTPHeaders.equalNames(name, "expect"):
                guard HTTPHeaders.equalNames(value, "100-continue") else {
                    return .failure(HTTPParseError(417, "unsupported expectation"))
                }
                expectsContinue = true
            case 10 where HTTPHeaders.equalNames(name, "connection"):
                for token in value.split(separator: ",") {
                    let t = token.trimmingSpaces
                    if HTTPHeaders.equalNames(t, "close") { connectionClose = true }
                    if HTTPHeaders.equalNames(t, "keep-alive") { connectionKeepAlive = true }
                }
            case 14 where HTTPHeaders.equalNames(name, "content-length"):
                for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let n = parseContentLength(item.trimmingSpaces) else {
                        return .failure(HTTPParseError(400, "invalid Content-Length"))
                    }
                    if let previous = contentLength, previous != n {
                        return .failure(HTTPParseError(400, "conflicting Content-Length values"))
                    }
                    contentLength = n
                }
            case 17 where HTTPHeaders.equalNames(name, "transfer-encoding"):
                transferEncoding = transferEncoding.map { $0 + "," + value } ?? value
            default:
                break
            }
            line = eol + 2
        }

        let isHTTP11 = version.minor >= 1
        if isHTTP11 && hostCount != 1 {
            return .failure(HTTPParseError(400, hostCount == 0 ? "missing Host header" : "repeated Host header"))
        }
        if hostCount > 1 { return .failure(HTTPParseError(400, "repeated Host header")) }

        var framing = BodyFraming.none
        if let te = transferEncoding {
            if contentLength != nil { return .failure(HTTPParseError(400, "both Content-Length and Transfer-Encoding")) }
            if !isHTTP11 { return .failure(HTTPParseError(400, "Transfer-Encoding in an HTTP/1.0 request")) }
            guard HTTPHeaders.equalNames(te.trimmingSpaces, "chunked") else {
                return .failure(HTTPParseError(501, "unsupported transfer coding"))
            }
            framing = .chunked
        } else if let n = contentLength, n > 0 {
            framing = .contentLength(n)
        }
        let keepAlive = isHTTP11 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        let head = RequestHead(method: method, path: path, query: query, version: version, headers: headers,
                               framing: framing, keepAlive: keepAlive,
                               expectsContinue: expectsContinue && framing != .none)
        return .complete(head, consumed: headEnd)
    }

    static func parseVersion(_ b: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> (major: Int, minor: Int)? {
        guard to - from == 8, b[from] == UInt8(ascii: "H"), b[from + 1] == UInt8(ascii: "T"),
              b[from + 2] == UInt8(ascii: "T"), b[from + 3] == UInt8(ascii: "P"), b[from + 4] == UInt8(ascii: "/"),
              b[from + 6] == UInt8(ascii: "."),
              let major = digit(b[from + 5]), let minor = digit(b[from + 7]) else { return nil }
        return (major, minor)
    }

    /// `http://host[:port]/path` → index of `/path` (or of the end, meaning `/`).
    static func absoluteFormPathStart(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        let scheme: [UInt8] = Array("http://".utf8)
        let schemeS: [UInt8] = Array("https://".utf8)
        func hasPrefix(_ p: [UInt8]) -> Bool {
            guard end - start > p.count else { return false }
            for (k, c) in p.enumerated() where b[start + k] | 0x20 != c { return false }
            return true
        }
        let afterScheme: Int
        if hasPrefix(scheme) { afterScheme = start + scheme.count }
        else if hasPrefix(schemeS) { afterScheme = start + schemeS.count }
        else { return nil }
        var i = afterScheme
        while i < end && b[i] != UInt8(ascii: "/") && b[i] != UInt8(ascii: "?") { i += 1 }
        guard i > afterScheme else { return nil }
        return i
    }

    static func parseContentLength(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.utf8.count <= 18 else { return nil }
        var n = 0
        for c in s.utf8 {
            guard let d = digit(c) else { return nil }
            n = n * 10 + d
        }
        return n
    }

    @inline(__always) static func digit(_ c: UInt8) -> Int? {
        c >= 48 && c <= 57 ? Int(c - 48) : nil
    }

    /// RFC 9110 tchar.
    @inline(__always) static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func makeMethod(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> HTTPMethod {
        // The common methods reuse their constants: no String is built per request.
        switch e - s {
        case 3 where b[s] == 71 && b[s + 1] == 69 && b[s + 2] == 84: return .GET
        case 3 where b[s] == 80 && b[s + 1] == 85 && b[s + 2] == 84: return .PUT
        case 4 where b[s] == 80 && b[s + 1] == 79 && b[s + 2] == 83 && b[s + 3] == 84: return .POST
        case 4 where b[s] == 72 && b[s + 1] == 69 && b[s + 2] == 65 && b[s + 3] == 68: return .HEAD
        default: return HTTPMethod(rawValue: string(b, s, e))
        }
    }

    @inline(__always) static func string(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: b[s..<e]), as: UTF8.self)
    }
}

extension StringProtocol {
    /// Trims spaces and horizontal tabs (HTTP's OWS), nothing else. Much cheaper than Foundation's
    /// `trimmingCharacters(in:)` on hot paths.
    public var trimmingSpaces: Substring {
        let s = self[...]
        guard let first = s.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return Substring() }
        let last = s.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return Substring(s[first...last])
    }

    /// ASCII-only lower-casing for protocol tokens (header names, schemes): no Unicode tables.
    public var asciiLowercased: String {
        if !utf8.contains(where: { $0 >= 65 && $0 <= 90 }) { return String(self) }
        return String(decoding: utf8.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
