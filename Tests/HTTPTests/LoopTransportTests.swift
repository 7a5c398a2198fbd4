import Contracts
import Foundation
import XCTest
@testable import HTTP
#if canImport(Glibc)
import Glibc
#endif

/// The client's own transport on an event loop: a front server relays to an upstream from an inline
/// handler (as the gateway proxies reads), over real sockets, against our server and against a
/// scripted upstream that misbehaves on purpose.
final class LoopTransportTests: XCTestCase {

    /// Answers `GET /relay?to=<url>` by calling `url` with the non-blocking client from the event loop,
    /// and reports what came back as JSON.
    final class Front {
        let server: HTTPServer
        let client: HTTPClient
        /// Calls handed to the client, and completions that came back: every call gets exactly one.
        let sent = HTTPClientTests.Counter(), completed = HTTPClientTests.Counter()
        var base: String { "http://127.0.0.1:\(server.port)" }

        struct Outcome: Codable {
            var status: Int?
            var body: String?
            var newConnections: Int?
            var error: String?
            var contentType: String?
            var onLoop: Bool
            /// Whether libcurl's driver was ever needed on this loop (it is not, for plain HTTP to an address).
            var curlUsed = false
        }

        init(configure: (inout HTTPClient.Configuration) -> Void = { _ in }) throws {
            var configuration = HTTPClient.Configuration(connectTimeoutMs: 1_000, timeoutMs: 1_000)
            configuration.retry = .none
            configure(&configuration)
            let client = HTTPClient(configuration: configuration)
            self.client = client
            let sent = self.sent, completed = self.completed
            let router = Router()
            router.on(.GET, "/relay", options: .inline) { request, _ in
                guard let to = request.queryParameters["to"] else { return .error(.badRequest("to is missing")) }
                let method = request.queryParameters["method"] ?? "GET"
                var body = request.queryParameters["body"].map { Array($0.utf8) }
                if let size = request.queryParameters["size"].flatMap(Int.init) { body = [UInt8](repeating: 0x78, count: size) }
                let pending = PendingResponse()
                let onLoop = ExecutionThread.isEventLoop
                _ = sent.next()
                client.send(HTTPClientRequest(method: method, url: to, headers: ["x-custom": "relayed"], body: body)) { result in
                    _ = completed.next()
                    var outcome = Outcome(onLoop: onLoop)
                    outcome.curlUsed = EventLoop.current?.clientDriver != nil
                    switch result {
                    case .success(let response):
                        outcome.status = response.status
                        outcome.body = response.bodyText
                        outcome.newConnections = response.newConnections
                        outcome.contentType = response.header("content-type")
                    case .failure(let error):
                        outcome.error = "\(error)"
                    }
                    pending.complete((try? Response.json(outcome)) ?? Response(status: 500))
                }
                return .pending(pending)
            }
            var serverConfiguration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
            serverConfiguration.eventLoops = 1
            server = HTTPServer(configuration: serverConfiguration, router: router, log: { _ in })
            try server.start()
        }

        func relay(_ url: String, method: String = "GET", body: String? = nil, size: Int? = nil) throws -> Outcome {
            var query = "to=" + url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            query += "&method=" + method
            if let size { query += "&size=\(size)" }
            if let body { query += "&body=" + body.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
            let caller = HTTPClient(configuration: .init(timeoutMs: 5_000, retry: .none))
            let response = try caller.send(HTTPClientRequest(method: "GET", url: base + "/relay?" + query))
            return try response.decode(Outcome.self)
        }
    }

    /// A TCP server that reads each request head (and its content-length body) and answers with what
    /// `script` returns for the connection's n-th request; nil closes the connection without a word, and
    /// so does an answer saying `Connection: close` once it is sent.
    final class ScriptedUpstream: @unchecked Sendable {
        // Thread-safety: `accepted` and `requests` are guarded by `lock`; everything else is set once.
        let fd: Int32
        let port: Int
        private let lock = NSLock()
        private var acceptedCount = 0
        private var seen: [String] = []
        private let script: @Sendable (_ request: String, _ index: Int) -> [UInt8]?
        private let closeAfterEachAnswer: Bool
        private let answerBeforeBody: Bool

        var accepted: Int { lock.lock(); defer { lock.unlock() }; return acceptedCount }
        var requests: [String] { lock.lock(); defer { lock.unlock() }; return seen }
        var base: String { "http://127.0.0.1:\(port)" }

        /// `answerBeforeBody`: answer as soon as the head is read, then read (and drop) the body, as a
        /// server refusing a large upload does.
        init(closeAfterEachAnswer: Bool = false, answerBeforeBody: Bool = false,
             script: @escaping @Sendable (String, Int) -> [UInt8]?) throws {
            self.script = script
            self.closeAfterEachAnswer = closeAfterEachAnswer
            self.answerBeforeBody = answerBeforeBody
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            listen(fd, 64)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            self.fd = fd
            port = Int(UInt16(bigEndian: addr.sin_port))
            let thread = Thread { [self] in acceptLoop() }
            thread.start()
        }

        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }

        private func acceptLoop() {
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                lock.lock(); acceptedCount += 1; lock.unlock()
                Thread { [self] in serve(client) }.start()
            }
        }

        private func serve(_ client: Int32) {
            defer { close(client) }
            var buffer: [UInt8] = []
            var index = 0
            var chunk = [UInt8](repeating: 0, count: 16_384)
            while true {
                // One request: the head, then as many body bytes as it announces.
                var headEnd: Int?
                while headEnd == nil {
                    if let range = buffer.firstRange(of: Array("\r\n\r\n".utf8)) { headEnd = range.upperBound; break }
                    let n = read(client, &chunk, chunk.count)
                    guard n > 0 else { return }
                    buffer.append(contentsOf: chunk[0..<n])
                }
                let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                /// Sends the script's answer; false when the connection is to end here.
                func answer(_ request: String) -> Bool {
                    lock.lock(); seen.append(request); lock.unlock()
                    guard let answer = script(request, index) else { return false }
                    index += 1
                    var sent = 0
                    while sent < answer.count {
                        let n = answer[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        guard n > 0 else { return false }
                        sent += n
                    }
                    return !closeAfterEachAnswer && answer.firstRange(of: Array("Connection: close\r\n".utf8)) == nil
                }
                if answerBeforeBody {
                    guard answer(head) else { return }
                    buffer.removeFirst(headEnd!)
                    var left = length
                    while left > 0 {
                        if buffer.isEmpty {
                            let n = read(client, &chunk, chunk.count)
                            guard n > 0 else { return }
                            buffer.append(contentsOf: chunk[0..<n])
                        }
                        let take = min(left, buffer.count)
                        buffer.removeFirst(take)
                        left -= take
                    }
                    continue
                }
                while buffer.count < headEnd! + length {
                    let n = read(client, &chunk, chunk.count)
                    guard n > 0 else { return }
                    buffer.append(contentsOf: chunk[0..<n])
                }
                let request = String(decoding: buffer[0..<(headEnd! + length)], as: UTF8.self)
                buffer.removeFirst(headEnd! + length)
                guard answer(request) else { return }
            }
        }
    }

    static func answer(_ status: Int = 200, _ body: String, headers: String = "") -> [UInt8] {
        Array("HTTP/1.1 \(status) X\r\nContent-Type: text/plain\r\n\(headers)Content-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }

    func testRelaysOnTheLoopAndKeepsTheConnection() throws {
        let upstream = try ScriptedUpstream { request, index in Self.answer(200, "answer \(index)") }
        defer { upstream.stop() }
        let front = try Front()
        defer { front.server.shutdown() }
        for i in 0..<20 {
            let outcome = try front.relay(upstream.base + "/items/\(i)?q=1")
            XCTAssertTrue(outcome.onLoop)
            XCTAssertFalse(outcome.curlUsed)
            XCTAssertEqual(outcome.status, 200, "\(outcome)")
            XCTAssertEqual(outcome.body, "answer \(i)")
            XCTAssertEqual(outcome.contentType, "text/plain")
            XCTAssertEqual(outcome.newConnections, i == 0 ? 1 : 0)
        }
        XCTAssertEqual(upstream.accepted, 1, "one kept-alive connection carries every request")
        let first = try XCTUnwrap(upstream.requests.first)
        XCTAssertTrue(first.hasPrefix("GET /items/0?q=1 HTTP/1.1\r\n"), first)
        XCTAssertTrue(first.contains("\r\nHost: 127.0.0.1:\(upstream.port)\r\n"), first)
        XCTAssertTrue(first.contains("\r\nx-custom: relayed\r\n"), first)
        XCTAssertTrue(first.contains("\r\nUser-Agent: lattice-http-client/1\r\n"), first)
        XCTAssertFalse(first.lowercased().contains("content-length"), "a GET without a body announces none")
    }

    func testPostCarriesItsBodyToOurServer() throws {
        let router = Router()
        router.post("/echo") { request, _ in
            Response(status: 201, headers: ["content-type": "text/plain"], body: .bytes(Array("got ".utf8) + request.body.bytes))
        }
        let upstream = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), router: router, log: { _ in })
        try upstream.start()
        defer { upstream.shutdown() }
        let front = try Front()
        defer { front.server.shutdown() }
        let outcome = try front.relay("http://127.0.0.1:\(upstream.port)/echo", method: "POST", body: "{\"a\":1}")
        XCTAssertEqual(outcome.status, 201, "\(outcome)")
        XCTAssertEqual(outcome.body, "got {\"a\":1}")
        XCTAssertFalse(outcome.curlUsed)
        let head = try front.relay("http://127.0.0.1:\(upstream.port)/echo", method: "HEAD")
        XCTAssertEqual(head.status, 405, "a HEAD (not routed there) gets its answer without a body and without waiting for one: \(head)")
        XCTAssertEqual(head.body, "")
    }

    func testAConnectionClosedWhileIdleIsReplacedWithoutFailing() throws {
        // The upstream closes after each answer without saying so: the next request finds the kept
        // connection dead (seen while idle, or after sending) and goes on a fresh one.
        let upstream = try ScriptedUpstream(closeAfterEachAnswer: true) { _, _ in Self.answer(200, "fine") }
        defer { upstream.stop() }
        let front = try Front()
        defer { front.server.shutdown() }
        for _ in 0..<5 {
            let outcome = try front.relay(upstream.base + "/x")
            XCTAssertEqual(outcome.status, 200, "\(outcome)")
            XCTAssertEqual(outcome.body, "fine")
        }
    }

    func testAGetSentToAConnectionThatDiesUnansweredIsSentAgainButAPostIsNot() throws {
        // Each connection answers its first request, then reads the second and closes without a word:
        // the classic race of a kept-alive connection the upstream drops just as a request arrives.
        let upstream = try ScriptedUpstream { _, index in index == 0 ? Self.answer(200, "first on its connection") : nil }
        defer { upstream.stop() }
        let front = try Front()
        defer { front.server.shutdown() }
        for i in 0..<3 {
            let outcome = try front.relay(upstream.base + "/get/\(i)")
            XCTAssertEqual(outcome.status, 200, "GET \(i): \(outcome)")
            XCTAssertFalse(outcome.curlUsed)
        }
        XCTAssertEqual(upstream.accepted, 3, "the second and third GET were each sent again on a fresh connection")
        XCTAssertEqual(upstream.requests.filter { $0.hasPrefix("GET /get/1 ") }.count, 2)

        let post = try front.relay(upstream.base + "/post", method: "POST", body: "{}")
        XCTAssertNotNil(post.error, "a POST the upstream may have processed is not sent twice: \(post)")
        XCTAssertEqual(upstream.requests.filter { $0.hasPrefix("POST /post ") }.count, 1)
        XCTAssertEqual(front.sent.count, front.completed.count)
    }

    func testAnAnswerBeforeTheWholeBodyIsSentClosesTheConnection() throws {
        // 413 as soon as the head arrives, while megabytes of body are still on their way: that
        // connection can't carry the next request, which must not be written into the unsent body.
        let upstream = try ScriptedUpstream(answerBeforeBody: true) { request, _ in
            request.hasPrefix("POST") ? Self.answer(413, "too large") : Self.answer(200, "second")
        }
        defer { upstream.stop() }
        let front = try Front()
        defer { front.server.shutdown() }
        XCTAssertEqual(try front.relay(upstream.base + "/upload", method: "POST", size: 16 << 20).status, 413)
        let second = try front.relay(upstream.base + "/second")
        XCTAssertEqual(second.status, 200, "\(second)")
        XCTAssertEqual(second.body, "second")
        XCTAssertTrue(upstream.requests.contains { $0.hasPrefix("GET /second HTTP/1.1\r\n") }, "\(upstream.requests.map { $0.prefix(40) })")
    }

    func testEveryCallCompletesOnceEvenWhenTheServerStops() throws {
        // One connection allowed: the second call waits in the queue; stopping the server fails both.
        let upstream = try ScriptedUpstream { _, _ in
            Thread.sleep(forTimeInterval: 2)
            return Self.answer(200, "late")
        }
        defer { upstream.stop() }
        let front = try Front { $0.maxConcurrentRequests = 1; $0.timeoutMs = 10_000 }
        let base = front.base, target = upstream.base
        for i in 0..<2 {
            Thread {
                let caller = HTTPClient(configuration: .init(timeoutMs: 5_000, retry: .none))
                _ = try? caller.send(HTTPClientRequest(method: "GET", url: base + "/relay?to=" + (target + "/s\(i)").addingPercentEncoding(withAllowedCharacters: .alphanumerics)!))
            }.start()
        }
        let deadline = Date().addingTimeInterval(3)
        while front.sent.count < 2 && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(front.sent.count, 2)
        front.server.shutdown()
        XCTAssertEqual(front.completed.count, 2, "the call in flight and the queued one both got their completion")
        XCTAssertLessThanOrEqual(upstream.accepted, 1, "nothing new was opened while stopping")
    }

    func testLargeChunkedAndCloseDelimitedBodies() throws {
        let big = String(repeating: "0123456789abcdef", count: 20_000)   // 320 kB: many reads
        let upstream = try ScriptedUpstream { request, _ in
            if request.hasPrefix("GET /chunked") {
                var text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                var rest = big[...]
                while !rest.isEmpty {
                    let piece = rest.prefix(7_000)
                    text += String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n"
                    rest = rest.dropFirst(piece.count)
                }
                return Array((text + "0\r\n\r\n").utf8)
            }
            return Array("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end".utf8)
        }
        defer { upstream.stop() }
        let front = try Front()
        defer { front.server.shutdown() }
        let chunked = try front.relay(upstream.base + "/chunked")
        XCTAssertEqual(chunked.body, big)
        XCTAssertFalse(chunked.curlUsed)
        XCTAssertEqual(try front.relay(upstream.base + "/close").body, "until the end")
        XCTAssertEqual(try front.relay(upstream.base + "/chunked").body?.count, big.count)
    }

    func testFailuresAreTypedAndBounded() throws {
        let upstream = try ScriptedUpstream { request, _ in
            if request.hasPrefix("GET /garbage") { return Array("SSH-2.0-nope\r\n\r\n".utf8) }
            if request.hasPrefix("GET /silent") { return nil }
            if request.hasPrefix("GET /big") { return Self.answer(200, String(repeating: "x", count: 5_000)) }
            Thread.sleep(forTimeInterval: 3)   // /slow
            return Self.answer(200, "late")
        }
        defer { upstream.stop() }
        let front = try Front { $0.maxResponseBodyBytes = 1_000 }
        defer { front.server.shutdown() }

        XCTAssertTrue(try front.relay(upstream.base + "/garbage").error?.contains("not HTTP/1.1") ?? false)
        XCTAssertNotNil(try front.relay(upstream.base + "/silent").error)
        XCTAssertEqual(try front.relay(upstream.base + "/big").error, HTTPClientError.responseTooLarge.description)
        let started = Date()
        XCTAssertEqual(try front.relay(upstream.base + "/slow").error, HTTPClientError.timeout.description)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2.0, "a 1 s timeout fires within the sweep's quarter second")

        let closedPort = try ScriptedUpstream { _, _ in nil }
        closedPort.stop()
        XCTAssertEqual(try front.relay("http://127.0.0.1:\(closedPort.port)/x").error, HTTPClientError.connectionRefused.description)
        // And the front still serves.
        XCTAssertEqual(try front.relay(upstream.base + "/big").error, HTTPClientError.responseTooLarge.description)
    }

    func testHostNamesResolveOffTheLoop() throws {
        let upstream = try ScriptedUpstream { _, index in Self.answer(200, "named \(index)") }
        defer { upstream.stop() }
        let front = try Front()
        defer { front.server.shutdown() }
        // The first call may travel by libcurl while the name resolves; every call succeeds.
        for _ in 0..<3 {
            XCTAssertEqual(try front.relay("http://localhost:\(upstream.port)/n").status, 200)
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertEqual(HostResolver.shared.address(of: "localhost").map { ["127.0.0.1", "::1"].contains($0) }, true)
    }
}
