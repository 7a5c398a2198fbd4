import Contracts
import Foundation
import XCTest
@testable import HTTP
#if canImport(Glibc)
import Glibc
#endif

/// Regression tests for bugs found in a review of the server: each failed before its fix.
final class HTTPReviewTests: XCTestCase {
    var server: HTTPServer!
    let events = HTTPServerTests.Flag()

    func start(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        config.eventLoops = 1
        configure(&config)
        let router = Router()
        router.add(middleware: RequestIdMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.get("/hello", options: .inline) { _, _ in .text("hello") }
        router.get("/big", options: .inline) { req, _ in
            let size = Int(req.queryParameters["size"] ?? "1048576") ?? 1_048_576
            return Response(body: .bytes([UInt8](repeating: 66, count: size)))
        }
        // A streamed body with a status that forbids a body (a proxied export answered 304, say).
        router.get("/stream-status/{code}") { _, ctx in
            let code = Int(ctx.parameters["code"] ?? "") ?? 200
            return Response(status: code, headers: ["etag": "\"v1\""], body: .stream { writer in
                try writer.write("this must never reach the wire")
            })
        }
        // Header names a handler (or a proxied upstream) might hand over that are not HTTP tokens.
        router.get("/odd-header-names", options: .inline) { _, _ in
            var headers = HTTPHeaders()
            headers.add("Content-Length ", "5")
            headers.add("Transfer-Encoding\t", "chunked")
            headers.add("x-a b", "1")
            headers.add("x:c", "2")
            headers.add("", "3")
            headers.add("x-fine", "4")
            return Response(headers: headers, body: .bytes(Array("0123456789".utf8)))
        }
        let events = self.events
        router.get("/export") { req, _ in
            let chunks = Int(req.queryParameters["chunks"] ?? "64") ?? 64
            return Response(headers: ["content-type": "text/csv"], body: .stream { writer in
                do {
                    for i in 0..<chunks { try writer.write([UInt8](repeating: UInt8(65 + i % 26), count: 65536)) }
                    events.record("stream-complete")
                } catch {
                    events.record("stream-aborted")
                    throw error
                }
            })
        }
        server = HTTPServer(configuration: config, router: router, log: { _ in })
        try server.start()
    }

    override func tearDown() {
        server?.shutdown()
        server = nil
        super.tearDown()
    }

    func connect(timeout: Double = 5) throws -> RawConnection { try RawConnection(port: server.port, receiveTimeout: timeout) }

    // MARK: 204/304 with a streamed body

    /// A 204/304 carries no framing header, so chunks written after it are read by the client as the
    /// start of the next response: the connection desynchronizes.
    func testStreamedBodyWithNoContentStatusesKeepsTheConnectionFramed() throws {
        try start()
        for code in [204, 304] {
            let c = try connect(timeout: 3)
            try c.send("GET /stream-status/\(code) HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            let first = try c.readReply()
            XCTAssertEqual(first.status, code)
            XCTAssertNil(first.header("transfer-encoding"), "\(code) must not announce a body")
            XCTAssertNil(first.header("content-length"), "\(code) must not announce a body")
            let second = try c.readReply()
            XCTAssertEqual(second.status, 200, "the next pipelined response must follow directly")
            XCTAssertEqual(second.text, "hello")
        }
    }

    // MARK: Header names

    /// `Content-Length ` (trailing space) escaped the framing-header filter, so a response carried two
    /// length claims: lenient downstream parsers disagree about where it ends (response smuggling).
    func testHeaderNamesThatAreNotTokensAreNotWritten() throws {
        try start()
        let c = try connect()
        let r = try c.roundTrip("GET /odd-header-names HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "0123456789")
        let names = r.headers.map { $0.0 }
        XCTAssertEqual(names.filter { $0.lowercased().hasPrefix("content-length") }, ["content-length"])
        XCTAssertFalse(names.contains { $0.lowercased().hasPrefix("transfer-encoding") })
        XCTAssertFalse(names.contains { $0.isEmpty || $0.contains(" ") || $0.contains("\t") || $0 == "x" })
        XCTAssertEqual(r.header("x-fine"), "4")
        // The connection is still usable.
        XCTAssertEqual(try c.roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").text, "hello")
    }

    // MARK: Memory under a client that pipelines but does not read

    /// While the output buffer is above its high-water mark the server started no new request but kept
    /// reading: a client that pipelines requests and never reads made the input buffer grow without
    /// bound. Reading must pause, so the client's sends block once socket buffers are full.
    func testPipeliningClientThatDoesNotReadCannotGrowServerMemory() throws {
        try start { $0.writeTimeout = 30 }
        let c = try connect()
        var tv = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET /big HTTP/1.1\r\nHost: t\r\n\r\n".utf8)
        var block: [UInt8] = []
        for _ in 0..<2048 { block += request }   // ~62 KB of pipelined requests
        let cap = 48 << 20
        var sent = 0
        while sent < cap {
            let n = block.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }   // EAGAIN after SO_SNDTIMEO: the server stopped reading
            sent += n
        }
        // Kernel socket buffers on loopback hold at most a few MB each way.
        XCTAssertLessThan(sent, 24 << 20, "the server kept reading requests it could not answer (\(sent) bytes)")
    }

    // MARK: Streamed responses to slow readers

    /// The producer of a streamed body gave up after `writeTimeout` unless the client had read
    /// *everything* queued by then, so a client that reads steadily but slowly lost its export; the
    /// timeout is meant for a client that reads nothing.
    func testStreamedResponseToASlowButSteadyReaderCompletes() throws {
        try start { $0.writeTimeout = 1 }
        let c = try connect(timeout: 10)
        try c.send("GET /export?chunks=96 HTTP/1.1\r\nHost: t\r\n\r\n")
        // About 300 KB/s for 4 s: slower than the 512 KB back-pressure window per writeTimeout.
        var received = 0
        var chunk = [UInt8](repeating: 0, count: 6144)
        let slowUntil = Date(timeIntervalSinceNow: 4)
        while Date() < slowUntil {
            let n = chunk.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += n
            usleep(20_000)
        }
        XCTAssertFalse(events.all.contains("stream-aborted"), "a reading client's stream was aborted")
        // Read the rest fast; the body is complete.
        while true {
            var big = [UInt8](repeating: 0, count: 1 << 16)
            let n = big.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += n
            if big[0..<n].suffix(5) == ArraySlice(Array("0\r\n\r\n".utf8)) { break }
        }
        XCTAssertGreaterThan(received, 96 * 65536)
        XCTAssertEqual(events.all, ["stream-complete"])
    }

    // MARK: Accept under descriptor exhaustion

    /// After `accept` failed with EMFILE the loop left the connection in the backlog, but the listener
    /// is edge-triggered and nothing retried: that client waited until some other client connected.
    func testConnectionLeftInTheBacklogByEMFILEIsAcceptedLater() throws {
        try start()
        var saved = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
        defer { setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved) }
        // The lowest free descriptor goes to the client socket; then none is left for the server.
        let lowest = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(lowest, 0)
        Glibc.close(lowest)
        var tight = saved
        tight.rlim_cur = rlim_t(lowest + 1)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &tight)
        let c: RawConnection
        do {
            c = try connect(timeout: 3)
        } catch {
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
            throw error
        }
        Thread.sleep(forTimeInterval: 0.3)   // the loop tries to accept and fails with EMFILE
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
        // No other client connects: the server must come back for this one by itself.
        let r = try c.roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.text, "hello")
    }

    // MARK: Shutdown

    /// A response finished before shutdown but still being written left the connection open until the
    /// grace period ran out, although nothing was left to do once it was written.
    func testShutdownDoesNotWaitForGraceOnceAPendingWriteIsFlushed() throws {
        try start { $0.shutdownGracePeriod = 8 }
        let c = try connect(timeout: 10)
        try c.send("GET /big?size=16777216 HTTP/1.1\r\nHost: t\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.3)   // the response is written as far as socket buffers allow
        let s = server!
        let done = expectation(description: "shutdown")
        let began = Date()
        DispatchQueue.global().async { s.shutdown(); done.fulfill() }
        Thread.sleep(forTimeInterval: 0.3)
        let r = try c.readReply()
        XCTAssertEqual(r.body.count, 16 << 20)
        XCTAssertTrue(c.isClosedByPeer(), "the connection closes once its last response is written")
        wait(for: [done], timeout: 12)
        XCTAssertLessThan(Date().timeIntervalSince(began), 4, "shutdown waited for the grace period")
        server = nil
    }
}
