import Foundation
@testable import HTTP
#if canImport(Glibc)
import Glibc
#endif

/// A deliberately dumb blocking TCP client for socket tests: it sends exactly the bytes it is given
/// (malformed ones included) and parses responses itself.
final class RawConnection: @unchecked Sendable {
    // Thread-safety: none; a test uses one connection from one thread at a time.
    let fd: Int32
    private var buffer: [UInt8] = []

    struct Reply {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    enum Failure: Error { case connect(Int32), closed, timeout, malformed(String) }

    init(port: Int, receiveTimeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Failure.connect(e)
        }
        var tv = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - Double(Int(receiveTimeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw Failure.closed }
            sent += n
        }
    }

    /// Reads more bytes; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
        if n > 0 { buffer.append(contentsOf: chunk[0..<n]); return true }
        if n == 0 { return false }
        if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure.timeout }
        if errno == ECONNRESET { return false }
        throw Failure.closed
    }

    private func readLine() throws -> String {
        while true {
            if let i = findCRLF() {
                let line = String(decoding: buffer[0..<i], as: UTF8.self)
                buffer.removeFirst(i + 2)
                return line
            }
            guard try fill() else { throw Failure.closed }
        }
    }

    private func findCRLF() -> Int? {
        guard buffer.count >= 2 else { return nil }
        for i in 0..<(buffer.count - 1) where buffer[i] == 13 && buffer[i + 1] == 10 { return i }
        return nil
    }

    private func readExactly(_ n: Int) throws -> [UInt8] {
        while buffer.count < n { guard try fill() else { throw Failure.closed } }
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        return out
    }

    /// Reads one response. `head` is true for a response to HEAD (no body follows).
    func readReply(head: Bool = false) throws -> Reply {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw Failure.malformed(statusLine)
        }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw Failure.malformed(line) }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var reply = Reply(status: status, headers: headers, body: [])
        if head || status < 200 || status == 204 || status == 304 { return reply }
        if reply.header("transfer-encoding") == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine, radix: 16) else { throw Failure.malformed(sizeLine) }
                if size == 0 { _ = try readLine(); break }
                reply.body += try readExactly(size)
                _ = try readLine()
            }
        } else if let cl = reply.header("content-length"), let n = Int(cl) {
            reply.body = try readExactly(n)
        }
        return reply
    }

    /// True when the server closed the connection (EOF) within the receive timeout.
    func isClosedByPeer() -> Bool {
        do {
            while true { if try !fill() { return true } }
        } catch Failure.timeout {
            return false
        } catch {
            return true
        }
    }

    /// Sends a request and reads its reply.
    func roundTrip(_ request: String) throws -> Reply {
        try send(request)
        return try readReply(head: request.hasPrefix("HEAD "))
    }
}

/// Sets RLIMIT_NOFILE to its hard limit so a test can hold thousands of sockets.
func raiseFileLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
