import Contracts
import Foundation
import XCTest
@testable import HTTP
#if canImport(Glibc)
import Glibc
#endif

/// The server over real sockets: framing, limits, deadlines, concurrency, back-pressure, shutdown.
final class HTTPServerTests: XCTestCase {
    final class Flag: @unchecked Sendable {
        // Thread-safety: guarded by `lock`.
        private let lock = NSLock()
        private var values: [String] = []
        func record(_ s: String) { lock.lock(); values.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return values }
    }

    var server: HTTPServer!
    let events = Flag()

    func start(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        config.eventLoops = 2
        configure(&config)
        let router = Router()
        router.add(middleware: RequestIdMiddleware())
        router.add(middleware: ErrorMiddleware())
        let events = self.events
        router.get("/hello", options: .inline) { _, _ in .text("hello") }
        router.get("/path/{p}", options: .inline) { req, _ in .text(req.path) }
        router.post("/echo") { req, _ in Response(body: .bytes(req.body.bytes)) }
        router.post("/small", options: RouteOptions(maxBodyBytes: 1024)) { req, _ in .text("\(req.body.bytes.count)") }
        router.get("/sleep") { req, _ in
            Thread.sleep(forTimeInterval: Double(req.queryParameters["s"] ?? "0.5") ?? 0.5)
            return .text("slept")
        }
        router.get("/stream") { req, _ in
            let chunks = Int(req.queryParameters["chunks"] ?? "10") ?? 10
            let size = Int(req.queryParameters["size"] ?? "1000") ?? 1000
            return Response(headers: ["content-type": "text/csv"], body: .stream { writer in
                do {
                    for i in 0..<chunks { try writer.write([UInt8](repeating: UInt8(65 + i % 26), count: size)) }
                    events.record("stream-complete")
                } catch {
                    events.record("stream-aborted")
                    throw error
                }
            })
        }
        router.post("/upload", options: RouteOptions(maxBodyBytes: 64 << 20, streamsBody: true)) { req, _ in
            guard case .stream(let body) = req.body else { return .text("not streamed", status: 500) }
            var total = 0
            var sum = 0
            while let chunk = try body.read() {
                total += chunk.count
                for b in chunk { sum = (sum &+ Int(b)) & 0xffff }
                Thread.sleep(forTimeInterval: 0.0005)   // a slow consumer, to exercise back-pressure
            }
            return .text("\(total) \(sum)")
        }
        router.get("/throws") { _, _ in throw NSError(domain: "test", code: 7) }
        router.get("/bad-status", options: .inline) { req, _ in Response(status: Int(req.queryParameters["s"] ?? "0") ?? 0) }
        router.get("/maybe-blocking", options: .inline) { _, _ in
            if ExecutionThread.isEventLoop {
                events.record("tried-inline")
                throw HTTPServerError.needsBlockingThread
            }
            return .text("ran on a worker")
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

    // MARK: Keep-alive, pipelining, bodies

    func testKeepAliveServesManyRequestsOnOneConnection() throws {
        try start()
        let c = try connect()
        for i in 0..<200 {
            let r = try c.roundTrip("GET /path/\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.text, "/path/\(i)")
        }
    }

    func testAPortAnotherServerListensOnIsRefusedNotShared() throws {
        try start()
        var config = HTTPServerConfiguration(host: "127.0.0.1", port: server.port)
        config.eventLoops = 2
        let second = HTTPServer(configuration: config, router: Router(), log: { _ in })
        XCTAssertThrowsError(try second.start()) { error in
            XCTAssertTrue("\(error)".contains("Address already in use"), "\(error)")
        }
        // The first server still answers every connection.
        for i in 0..<20 {
            XCTAssertEqual(try connect().roundTrip("GET /path/\(i) HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        }
    }

    func testPipelinedRequestsAnswerInOrderWithoutWaiting() throws {
        try start()
        let c = try connect(timeout: 2)
        var batch = ""
        for i in 0..<50 {
            batch += i % 2 == 0 ? "GET /path/\(i) HTTP/1.1\r\nHost: t\r\n\r\n"
                                : "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(String(i).count)\r\n\r\n\(i)"
        }
        let started = Date()
        try c.send(batch)
        for i in 0..<50 {
            let r = try c.readReply()
            XCTAssertEqual(r.text, i % 2 == 0 ? "/path/\(i)" : "\(i)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5, "pipelined requests must not wait for a timeout")
    }

    func testChunkedRequestBodyArrivingInPieces() throws {
        try start()
        let c = try connect()
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        Thread.sleep(forTimeInterval: 0.05)
        try c.send("lo\r\n6;x=y\r\n world\r\n0\r\n")
        Thread.sleep(forTimeInterval: 0.05)
        try c.send("Trailer-A: 1\r\n\r\n")
        let r = try c.readReply()
        XCTAssertEqual(r.text, "hello world")
        XCTAssertEqual(try c.roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").text, "hello", "connection reusable after a chunked body")
    }

    func testContentLengthBodySplitAcrossWrites() throws {
        try start()
        let c = try connect()
        let body = String(repeating: "x", count: 100_000)
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        try c.send(String(body.prefix(50_000)))
        Thread.sleep(forTimeInterval: 0.05)
        try c.send(String(body.suffix(50_000)))
        XCTAssertEqual(try c.readReply().body.count, 100_000)
    }

    func testExpectContinue() throws {
        try start()
        let c = try connect()
        try c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(try c.readReply().status, 100)
        try c.send("ping")
        XCTAssertEqual(try c.readReply().text, "ping")

        let d = try connect()
        try d.send("POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(try d.readReply().status, 413, "a body over the limit is refused before it is sent")
        XCTAssertTrue(d.isClosedByPeer())

        let e = try connect()
        try e.send("POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(try e.readReply().status, 404)
    }

    func testHeadHasLengthButNoBody() throws {
        try start()
        let c = try connect()
        let r = try c.roundTrip("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("content-length"), "5")
        XCTAssertEqual(try c.roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").text, "hello", "no stray body bytes after HEAD")
    }

    // MARK: Bad input and limits

    func testMalformedRequestsGet400AndTheConnectionCloses() throws {
        try start()
        for bad in ["POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
                    "GARBAGE\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n",
                    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    "\u{0}\u{1}\u{2}\r\n\r\n"] {
            let c = try connect()
            try c.send(bad)
            let r = try c.readReply()
            XCTAssertEqual(r.status, 400, bad.debugDescription)
            XCTAssertEqual(r.header("content-type"), "application/json")
            XCTAssertTrue(r.text.contains("\"error\""))
            XCTAssertTrue(c.isClosedByPeer(), "framing can't be trusted after an error: \(bad.debugDescription)")
        }
    }

    func testSizeLimitsAnswer414And431And413() throws {
        try start()
        let longURI = try connect().roundTrip("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(longURI.status, 414)
        let bigHeaders = try connect().roundTrip("GET / HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "b", count: 17_000) + "\r\n\r\n")
        XCTAssertEqual(bigHeaders.status, 431)
        let many = (0..<150).map { "X-\($0): 1\r\n" }.joined()
        XCTAssertEqual(try connect().roundTrip("GET / HTTP/1.1\r\nHost: t\r\n\(many)\r\n").status, 431)
        let c = try connect()
        try c.send("POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n")
        XCTAssertEqual(try c.readReply().status, 413)
        let chunked = try connect().roundTrip("POST /small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + String(repeating: "z", count: 2048) + "\r\n0\r\n\r\n")
        XCTAssertEqual(chunked.status, 413, "a chunked body is held to the same limit")
        XCTAssertEqual(try connect().roundTrip("POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc").text, "3")
    }

    func testHandlerErrorsBecomeJSONAndTheServerLivesOn() throws {
        try start()
        let c = try connect()
        let r = try c.roundTrip("GET /throws HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.status, 500)
        XCTAssertTrue(r.text.contains("\"internal\""))
        XCTAssertEqual(try c.roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
    }

    func testHandlerStatusesOutsideTheReadableRangeBecome500() throws {
        try start()
        let c = try connect()
        for status in [101, 0, -5, 1000, Int.min] {
            let r = try c.roundTrip("GET /bad-status?s=\(status) HTTP/1.1\r\nHost: t\r\n\r\n")
            XCTAssertEqual(r.status, 500, "status \(status)")
        }
        XCTAssertEqual(try c.roundTrip("GET /bad-status?s=204 HTTP/1.1\r\nHost: t\r\n\r\n").status, 204)
    }

    func testInlineHandlerThatMustBlockMovesToAWorker() throws {
        try start()
        let r = try connect().roundTrip("GET /maybe-blocking HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "ran on a worker")
        XCTAssertNotNil(r.header("x-request-id"), "the whole chain ran again on the worker")
        XCTAssertEqual(events.all, ["tried-inline"])
    }

    // MARK: Deadlines

    func testSlowlorisHeadIsCutOff() throws {
        try start { $0.headerReadTimeout = 0.5 }
        let c = try connect(timeout: 4)
        let started = Date()
        try c.send("GET /hello HTTP/1.1\r\nHost: t\r\n")
        for _ in 0..<3 {
            Thread.sleep(forTimeInterval: 0.3)
            try? c.send("X-Drip: 1\r\n")
        }
        let r = try? c.readReply()
        XCTAssertEqual(r?.status, 408)
        XCTAssertTrue(c.isClosedByPeer())
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }

    func testStalledBodyAndIdleConnectionsAreClosed() throws {
        try start {
            $0.bodyReadTimeout = 0.5
            $0.idleTimeout = 0.5
        }
        let body = try connect(timeout: 4)
        try body.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        XCTAssertEqual(try body.readReply().status, 408)
        let idle = try connect(timeout: 4)
        XCTAssertEqual(try idle.roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        let started = Date()
        XCTAssertTrue(idle.isClosedByPeer())
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }

    // MARK: Concurrency and back-pressure

    func testThousandConcurrentKeepAliveConnections() throws {
        raiseFileLimit()
        try start()
        let connections = try (0..<1000).map { _ in try connect(timeout: 10) }
        let failures = Flag()
        DispatchQueue.concurrentPerform(iterations: 8) { slice in
            for round in 0..<3 {
                for i in stride(from: slice, to: connections.count, by: 8) {
                    do {
                        let r = try connections[i].roundTrip("GET /path/\(i)-\(round) HTTP/1.1\r\nHost: t\r\n\r\n")
                        if r.text != "/path/\(i)-\(round)" { failures.record("\(i): \(r.text)") }
                    } catch {
                        failures.record("\(i): \(error)")
                    }
                }
            }
        }
        XCTAssertEqual(failures.all.count, 0, failures.all.prefix(5).joined(separator: "; "))
        XCTAssertEqual(server.openConnections, 1000)
    }

    func testFullWorkerQueueAnswers503WithRetryAfter() throws {
        try start {
            $0.workers = 1
            $0.workerQueueLimit = 1
        }
        let statuses = Flag()
        let port = server.port
        // Real threads: concurrentPerform would run only as many at once as there are cores.
        let group = DispatchGroup()
        for _ in 0..<6 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    let c = try RawConnection(port: port)
                    let r = try c.roundTrip("GET /sleep?s=0.4 HTTP/1.1\r\nHost: t\r\n\r\n")
                    statuses.record("\(r.status) \(r.header("retry-after") ?? "-")")
                } catch {
                    statuses.record("error \(error)")
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(statuses.all.contains("503 1"), "\(statuses.all)")
        XCTAssertTrue(statuses.all.contains("200 -"), "\(statuses.all)")
        XCTAssertGreaterThan(server.overloadRejections, 0)
    }

    func testConnectionLimit() throws {
        try start { $0.maxConnections = 2 }
        let a = try connect(), b = try connect()
        XCTAssertEqual(try a.roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        XCTAssertEqual(try b.roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
        let c = try connect()
        XCTAssertEqual(try c.readReply().status, 503)
        XCTAssertTrue(c.isClosedByPeer())
    }

    func testStreamedResponseIsChunkedAndComplete() throws {
        try start()
        let c = try connect(timeout: 10)
        let r = try c.roundTrip("GET /stream?chunks=200&size=10000 HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.header("transfer-encoding"), "chunked")
        XCTAssertEqual(r.body.count, 2_000_000)
        XCTAssertEqual(try c.roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").text, "hello")
    }

    func testStreamProducerStopsWhenTheClientGoesAway() throws {
        try start { $0.writeTimeout = 2 }
        do {
            let c = try connect()
            // 200 MB: far more than socket buffers and the back-pressure window hold.
            try c.send("GET /stream?chunks=2000&size=100000 HTTP/1.1\r\nHost: t\r\n\r\n")
            Thread.sleep(forTimeInterval: 0.3)
        }   // closed without reading
        let deadline = Date(timeIntervalSinceNow: 5)
        while !events.all.contains("stream-aborted") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertEqual(events.all, ["stream-aborted"])
    }

    func testStreamedRequestBodyWithBackPressure() throws {
        try start()
        let c = try connect(timeout: 20)
        let size = 8 << 20
        var payload = [UInt8](repeating: 0, count: size)
        var sum = 0
        for i in 0..<size { payload[i] = UInt8(truncatingIfNeeded: i &* 31); sum = (sum &+ Int(payload[i])) & 0xffff }
        try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(size)\r\n\r\n")
        try c.send(payload)
        let r = try c.readReply()
        XCTAssertEqual(r.text, "\(size) \(sum)")
        // And chunked.
        let d = try connect(timeout: 20)
        try d.send("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in 0..<64 { try d.send("4000\r\n" + String(repeating: "a", count: 0x4000) + "\r\n") }
        try d.send("0\r\n\r\n")
        XCTAssertEqual(try d.readReply().text, "\(64 * 0x4000) \((64 * 0x4000 * 97) & 0xffff)")
    }

    // MARK: Signals, shutdown, idleness

    func testWritingToAVanishedClientDoesNotKillTheProcess() throws {
        try start()
        for _ in 0..<20 {
            let c = try connect()
            try c.send("GET /sleep?s=0.05 HTTP/1.1\r\nHost: t\r\n\r\n")
            var lin = linger(l_onoff: 1, l_linger: 0)   // RST on close
            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lin, socklen_t(MemoryLayout<linger>.size))
        }
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(try connect().roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
    }

    func testSignalsInterruptingEpollDoNotStopTheServer() throws {
        try start()
        signal(SIGUSR2) { _ in }
        for _ in 0..<20 { kill(getpid(), SIGUSR2); usleep(1000) }
        XCTAssertEqual(try connect().roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").status, 200)
    }

    func testGracefulShutdownFinishesInFlightWork() throws {
        try start { $0.shutdownGracePeriod = 5 }
        let port = server.port
        let c = try connect()
        try c.send("GET /sleep?s=0.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        let done = expectation(description: "shutdown")
        let s = server!
        DispatchQueue.global().async { s.shutdown(); done.fulfill() }
        let r = try c.readReply()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "slept")
        XCTAssertEqual(r.header("connection"), "close")
        wait(for: [done], timeout: 10)
        XCTAssertThrowsError(try RawConnection(port: port), "no longer accepting")
        server = nil
    }

    func testIdleServerUsesNoCPU() throws {
        try start()
        _ = try connect().roundTrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        }
        let before = cpuSeconds()
        Thread.sleep(forTimeInterval: 1)
        XCTAssertLessThan(cpuSeconds() - before, 0.1, "an idle server must not spin")
    }
}
