/// Writes a response head in HTTP/1.1 wire format.
enum ResponseEncoder {
    /// 1xx, 204 and 304 responses never carry a body (RFC 9110 §6.4.1).
    static func forbidsBody(_ status: Int) -> Bool { status < 200 || status == 204 || status == 304 }

    static func writeHead(_ r: Response, into out: ByteBuffer, bodyLength: Int, chunked: Bool, keepAlive: Bool, date: [UInt8]) {
        if r.status == 200 {
            out.append("HTTP/1.1 200 OK\r\n" as StaticString)
        } else {
            out.append("HTTP/1.1 " as StaticString)
            out.append(decimal: r.status)
            out.append(" " as StaticString)
            out.append(HTTPStatus.reason(r.status))
            out.append("\r\n" as StaticString)
        }
        for field in r.headers {
            // Framing headers belong to the server; a handler cannot smuggle its own.
            switch field.name.utf8.count {
            case 4 where HTTPHeaders.equalNames(field.name, "date"): continue
            case 10 where HTTPHeaders.equalNames(field.name, "connection"): continue
            case 14 where HTTPHeaders.equalNames(field.name, "content-length"): continue
            case 17 where HTTPHeaders.equalNames(field.name, "transfer-encoding"): continue
            default: break
            }
            // A name that is not a token (`Content-Length ` with a space, say) would slip past the
            // framing filter above and be read as a framing header by lenient parsers.
            guard isToken(field.name), isSafe(field.value) else { continue }
            out.append(field.name)
            out.append(": " as StaticString)
            out.append(field.value)
            out.append("\r\n" as StaticString)
        }
        if !forbidsBody(r.status) {
            if chunked {
                out.append("transfer-encoding: chunked\r\n" as StaticString)
            } else {
                out.append("content-length: " as StaticString)
                out.append(decimal: bodyLength)
                out.append("\r\n" as StaticString)
            }
        }
        out.append(date)
        if !keepAlive { out.append("connection: close\r\n" as StaticString) }
        out.append("\r\n" as StaticString)
    }

    /// RFC 9110 token characters only, and at least one.
    static func isToken(_ s: String) -> Bool {
        var any = false
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
                 UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "^"), UInt8(ascii: "`"),
                 UInt8(ascii: "|"), UInt8(ascii: "~"):
                any = true
            default:
                return false
            }
        }
        return any
    }

    /// No CR or LF: a header value from a handler must not split the response.
    @inline(__always)
    static func isSafe(_ s: String) -> Bool {
        for c in s.utf8 where c == 13 || c == 10 || c == 0 { return false }
        return true
    }
}
