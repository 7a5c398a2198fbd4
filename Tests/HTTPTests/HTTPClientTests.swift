import Contracts
import Foundation
import XCTest
@testable import HTTP

/// The libcurl client against our own HTTP server on loopback: real sockets, real keep-alive.
final class HTTPClientTests: XCTestCase {

    // MARK: Fixture

    struct Item: Codable, Equatable, Sendable {
        var id: String
        var name: String
        var createdAt: Date
    }

    /// A thread-safe counter the handlers share with the test.
    final class Counter: @unchecked Sendable {
        // Thread-safety: `value` is guarded by `lock`.
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
        var count: Int { lock.lock(); defer { lock.unlock() }; return value }
    }

    /// One server per test, on an ephemeral port, with every route the tests use.
    final class Upstream {
        let server: HTTPServer
        let flakyGets = Counter()
        let flakyPosts = Counter()
        let flakyKeyed = Counter()
        let busyCalls = Counter()
        let slowPosts = Counter()
        let pacedGets = Counter()
        var base: String { "http://127.0.0.1:\(server.port)" }

        init() throws {
            let router = Router()
            router.add(middleware: RequestIdMiddleware())
            let flakyGets = self.flakyGets, flakyPosts = self.flakyPosts, busyCalls = self.busyCalls
            let flakyKeyed = self.flakyKeyed, slowPosts = self.slowPosts
            let pacedGets = self.pacedGets
            router.get("/items/{id}") { _, context in
                let id = try context.parameters.require("id")
                return try .json(Item(id: id, name: "item \(id)", createdAt: Date(timeIntervalSince1970: 1_714_552_200.125)))
            }
            router.post("/items") { request, _ in
                var item = try request.decode(Item.self)
                item.name += " (stored)"
                return try .json(item, status: 201)
            }
            router.put("/items/{id}") { request, _ in try .json(try request.decode(Item.self)) }
            router.delete("/items/{id}") { _, _ in Response(status: 204) }
            router.post("/echo") { request, _ in
                var headers = HTTPHeaders()
                headers.add("content-type", request.headers.first("content-type") ?? "none")
                return Response(status: 200, headers: headers, body: .bytes(request.body.bytes))
            }
            router.get("/headers") { request, _ in
                var seen: [String: String] = [:]
                for name in [InternalHeader.requestId, InternalHeader.credential, InternalHeader.userId,
                             InternalHeader.orgId, InternalHeader.orgPath, InternalHeader.roles,
                             InternalHeader.rights, "x-custom", "x-empty", "user-agent", "expect"] {
                    if let value = request.headers.first(name) { seen[name] = value }
                }
                return try .json(seen)
            }
            router.get("/slow") { _, _ in
                Thread.sleep(forTimeInterval: 0.8)
                return .text("late")
            }
            router.post("/slow") { _, _ in
                _ = slowPosts.next()
                Thread.sleep(forTimeInterval: 0.8)
                return .text("late")
            }
            router.get("/flaky") { _, _ in
                flakyGets.next() <= 2 ? .error(.unavailable("warming up", retryAfter: 0)) : .text("ok")
            }
            router.post("/flaky") { _, _ in
                flakyPosts.next() <= 2 ? .error(.unavailable("warming up", retryAfter: 0)) : .text("ok")
            }
            router.post("/flaky-keyed") { _, _ in
                flakyKeyed.next() <= 2 ? .error(.unavailable("warming up", retryAfter: 0)) : .text("ok")
            }
            router.get("/paced") { _, _ in
                pacedGets.next() == 1 ? .error(.unavailable("one moment", retryAfter: 1)) : .text("ok")
            }
            router.get("/busy") { _, _ in
                _ = busyCalls.next()
                return .error(.unavailable("come back later", retryAfter: 60))
            }
            router.get("/bad-gateway") { _, _ in Response(status: 502) }
            router.get("/bad-json") { _, _ in
                Response(status: 200, headers: ["content-type": "application/json"], body: .bytes(Array("{\"id\": 1,".utf8)))
            }
            router.get("/wrong-shape") { _, _ in try .json(["id": 42]) }
            router.get("/conflict") { _, _ in throw APIError.conflict("segment is frozen", code: "segment_frozen") }
            router.get("/html-error") { _, _ in
                Response(status: 500, headers: ["content-type": "text/html"], body: .bytes(Array("<h1>oops</h1>".utf8)))
            }
            router.get("/big") { request, _ in
                let size = Int(request.queryParameters["size"] ?? "0") ?? 0
                return Response(status: 200, body: .bytes([UInt8](repeating: 0x61, count: size)))
            }
            router.get("/big-stream") { request, _ in
                let chunks = Int(request.queryParameters["chunks"] ?? "0") ?? 0
                return Response(status: 200, body: .stream { writer in
                    let chunk = [UInt8](repeating: 0x62, count: 64 << 10)
                    for _ in 0..<chunks { try writer.write(chunk) }
                })
            }
            router.get("/redirect") { _, _ in Response(status: 302, headers: ["location": "/items/1"]) }
            router.get("/ping") { _, _ in .text("pong") }
            server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), router: router)
            try server.start()
        }

        func stop() { server.shutdown() }
    }

    private var upstream: Upstream!

    override func setUpWithError() throws {
        upstream = try Upstream()
    }

    override func tearDown() {
        upstream?.stop()
        upstream = nil
    }

    /// Fast retries so retry tests take milliseconds.
    private func client(_ configure: (inout HTTPClient.Configuration) -> Void = { _ in }) -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            connectTimeoutMs: 1_000, timeoutMs: 5_000,
            retry: .init(maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 1_000))
        configure(&configuration)
        return HTTPClient(configuration: configuration)
    }

    private func expectError(_ expected: HTTPClientError, file: StaticString = #filePath, line: UInt = #line,
                             _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected \(expected), got success", file: file, line: line)
        } catch {
            XCTAssertEqual(error as? HTTPClientError, expected, file: file, line: line)
        }
    }

    // MARK: Non-blocking sends (multi interface)

    func testNonBlockingSendsCompleteConcurrentlyOnOneThread() throws {
        let c = client { $0.retry = .none }
        let results = AsyncResults()
        let count = 300
        let done = DispatchSemaphore(value: 0)
        for i in 0..<count {
            c.send(HTTPClientRequest(method: "GET", url: upstream.base + "/items/a\(i)")) { result in
                results.add(i, result)
                if results.count == count { done.signal() }
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        for i in 0..<count {
            guard case .success(let response)? = results[i] else { return XCTFail("request \(i): \(String(describing: results[i]))") }
            XCTAssertEqual(try response.decode(Item.self).id, "a\(i)")
        }
        XCTAssertLessThanOrEqual(c.statistics.connectionsOpened, 64, "connections are reused across transfers")
    }

    func testNonBlockingSendReportsTypedFailures() throws {
        let c = client {
            $0.retry = .none
            $0.timeoutMs = 300
        }
        let closed = try Upstream()
        let closedURL = closed.base
        closed.stop()
        let results = AsyncResults()
        let done = DispatchSemaphore(value: 0)
        for (i, url) in [closedURL + "/items/x", upstream.base + "/slow", "ftp://nope"].enumerated() {
            c.send(HTTPClientRequest(method: "GET", url: url)) { result in
                results.add(i, result)
                if results.count == 3 { done.signal() }
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        guard case .failure(let refused)? = results[0], case .failure(let late)? = results[1], case .failure(let bad)? = results[2] else {
            return XCTFail("expected three failures")
        }
        XCTAssertEqual(refused, .connectionRefused)
        XCTAssertEqual(late, .timeout)
        XCTAssertEqual(bad, .invalidURL)
    }

    final class AsyncResults: @unchecked Sendable {
        // Thread-safety: guarded by `lock`.
        private let lock = NSLock()
        private var values: [Int: Result<HTTPClientResponse, HTTPClientError>] = [:]
        func add(_ i: Int, _ r: Result<HTTPClientResponse, HTTPClientError>) { lock.lock(); values[i] = r; lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return values.count }
        subscript(i: Int) -> Result<HTTPClientResponse, HTTPClientError>? { lock.lock(); defer { lock.unlock() }; return values[i] }
    }

    // MARK: JSON round trips

    func testGetDecodesJSONWithRFC3339Dates() throws {
        let item = try client().get("\(upstream.base)/items/7", as: Item.self)
        XCTAssertEqual(item, Item(id: "7", name: "item 7", createdAt: Date(timeIntervalSince1970: 1_714_552_200.125)))
    }

    func testPostPutDeleteRoundTrip() throws {
        let client = client()
        let sent = Item(id: "9", name: "welcome offer", createdAt: Date(timeIntervalSince1970: 1_700_000_000.5))
        let stored = try client.post("\(upstream.base)/items", body: sent, as: Item.self)
        XCTAssertEqual(stored, Item(id: "9", name: "welcome offer (stored)", createdAt: sent.createdAt))

        let replaced = try client.put("\(upstream.base)/items/9", body: sent, as: Item.self)
        XCTAssertEqual(replaced, sent)

        try client.delete("\(upstream.base)/items/9")
        let raw = try client.sendJSON(method: "DELETE", url: "\(upstream.base)/items/9", body: nil)
        XCTAssertEqual(raw.status, 204)
        XCTAssertTrue(raw.body.isEmpty)
    }

    func testRawSendCarriesBodyAndHeadersBothWays() throws {
        // Larger than curl's threshold for `Expect: 100-continue`: must not stall on it.
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let started = Date()
        let response = try client().send(HTTPClientRequest(
            method: "POST", url: "\(upstream.base)/echo", headers: ["Content-Type": "application/octet-stream"],
            body: payload))
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.9)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body, payload)
        XCTAssertEqual(response.header("CONTENT-TYPE"), "application/octet-stream")
        XCTAssertEqual(response.header("content-length"), String(payload.count))
        XCTAssertNil(response.header("x-not-there"))
    }

    func testPostWithoutBodyAndHead() throws {
        let client = client()
        let empty = try client.send(HTTPClientRequest(method: "POST", url: "\(upstream.base)/echo"))
        XCTAssertEqual(empty.status, 200)
        XCTAssertEqual(empty.body, [])

        let head = try client.send(HTTPClientRequest(method: "HEAD", url: "\(upstream.base)/items/3"))
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, [])
        XCTAssertEqual(head.header("content-type"), "application/json")
    }

    func testRedirectsAreNotFollowed() throws {
        let response = try client().send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/redirect"))
        XCTAssertEqual(response.status, 302)
        XCTAssertEqual(response.header("Location"), "/items/1")
    }

    // MARK: Context forwarding

    func testForwardsRequestIdIdentityAndCredential() throws {
        let client = client { $0.internalCredential = "s3cret-credential" }
        let caller = CallerIdentity(userId: "u-1", orgId: "o-1", orgPath: "/hq/sh/", roles: ["marketer", "viewer"],
                                    rights: ["segment.read"])
        var request = HTTPClientRequest(method: "GET", url: "\(upstream.base)/headers",
                                        headers: ["X-Custom": "kept", "x-request-id": "spoofed", "x-empty": ""])
        request.headers.add(InternalHeader.credential, "forged")
        let response = try client.send(request, context: .init(requestId: "req-123", identity: caller))
        let seen = try response.decode([String: String].self)
        XCTAssertEqual(seen[InternalHeader.requestId], "req-123")
        XCTAssertEqual(seen[InternalHeader.credential], "s3cret-credential")
        XCTAssertEqual(seen[InternalHeader.userId], "u-1")
        XCTAssertEqual(seen[InternalHeader.orgId], "o-1")
        XCTAssertEqual(seen[InternalHeader.orgPath], "/hq/sh/")
        XCTAssertEqual(seen[InternalHeader.roles], "marketer,viewer")
        XCTAssertEqual(seen[InternalHeader.rights], "segment.read")
        XCTAssertEqual(seen["x-custom"], "kept")
        XCTAssertEqual(seen["x-empty"], "")
        XCTAssertEqual(seen["user-agent"], "lattice-http-client/1")
        XCTAssertNil(seen["expect"])
        // The server echoes the request id it used: ours.
        XCTAssertEqual(response.header(InternalHeader.requestId), "req-123")
    }

    func testCallContextForwardsTheServedRequestsContext() throws {
        let caller = CallerIdentity(userId: "u-2", orgId: "o-2", orgPath: "/hq/", roles: [], rights: [])
        let context = HTTPClient.CallContext(forwarding: RequestContext(requestId: "req-9", identity: caller))
        let seen = try client().get("\(upstream.base)/headers", as: [String: String].self, context: context)
        XCTAssertEqual(seen[InternalHeader.requestId], "req-9")
        XCTAssertEqual(seen[InternalHeader.userId], "u-2")
        XCTAssertEqual(seen[InternalHeader.roles], "")
        XCTAssertNil(HTTPClient.CallContext(forwarding: RequestContext()).requestId)
    }

    func testNoCredentialOrContextWhenNotConfigured() throws {
        let seen = try client().get("\(upstream.base)/headers", as: [String: String].self)
        XCTAssertNil(seen[InternalHeader.credential])
        XCTAssertNil(seen[InternalHeader.userId])
        XCTAssertNil(seen[InternalHeader.requestId])
    }

    // MARK: Connection reuse and concurrency

    func testSequentialCallsReuseOneConnection() throws {
        let client = client()
        for i in 0..<20 {
            let response = try client.send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/ping"))
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.newConnections, i == 0 ? 1 : 0, "request \(i)")
        }
        let stats = client.statistics
        XCTAssertEqual(stats.requests, 20)
        XCTAssertEqual(stats.attempts, 20)
        XCTAssertEqual(stats.connectionsOpened, 1)
        XCTAssertEqual(stats.handlesCreated, 1)
    }

    func testManyThreadsAtOnce() throws {
        let client = client { $0.maxConcurrentRequests = 16 }
        let threads = 32, perThread = 50
        let failures = Counter(), successes = Counter()
        let done = DispatchGroup()
        let url = "\(upstream.base)/items/"
        for t in 0..<threads {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                for i in 0..<perThread {
                    do {
                        let item = try client.get(url + "\(t)-\(i)", as: Item.self)
                        if item.id == "\(t)-\(i)" { _ = successes.next() } else { _ = failures.next() }
                    } catch {
                        _ = failures.next()
                    }
                }
            }
            thread.start()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(failures.count, 0)
        XCTAssertEqual(successes.count, threads * perThread)
        let stats = client.statistics
        XCTAssertLessThanOrEqual(stats.handlesCreated, 16, "the pool is bounded")
        XCTAssertLessThanOrEqual(stats.connectionsOpened, 16 * 2, "connections are reused, not opened per request")
    }

    func testPoolBoundMakesCallersWaitAndTimeOut() throws {
        let client = client { $0.maxConcurrentRequests = 1; $0.retry = .none }
        let slowStarted = DispatchSemaphore(value: 0)
        let slowDone = DispatchSemaphore(value: 0)
        let base = upstream.base
        Thread {
            slowStarted.signal()
            _ = try? client.send(HTTPClientRequest(method: "GET", url: "\(base)/slow"))
            slowDone.signal()
        }.start()
        slowStarted.wait()
        Thread.sleep(forTimeInterval: 0.2)  // let the slow call take the only handle
        let started = Date()
        expectError(.timeout) {
            _ = try client.send(HTTPClientRequest(method: "GET", url: "\(base)/ping", timeoutMs: 300))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0)
        XCTAssertEqual(slowDone.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(client.statistics.handlesCreated, 1)
    }

    // MARK: Failures

    func testSlowHandlerTimesOutWithinBound() {
        let client = client { $0.retry = .none }
        let started = Date()
        expectError(.timeout) {
            _ = try client.send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/slow", timeoutMs: 300))
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(elapsed, 0.29)
        XCTAssertLessThan(elapsed, 1.0)
    }

    func testTimeoutIsRetriedForIdempotentCalls() {
        let client = client { $0.timeoutMs = 200; $0.retry = .init(maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1) }
        expectError(.timeout) { _ = try client.send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/slow")) }
        XCTAssertEqual(client.statistics.attempts, 2)
        XCTAssertEqual(client.statistics.retries, 1)
    }

    func testTimeoutIsNotRetriedForPost() {
        let client = client { $0.timeoutMs = 200 }
        expectError(.timeout) {
            _ = try client.send(HTTPClientRequest(method: "POST", url: "\(upstream.base)/slow", body: [1, 2, 3]))
        }
        XCTAssertEqual(client.statistics.attempts, 1)
        XCTAssertEqual(client.statistics.retries, 0)
        XCTAssertEqual(upstream.slowPosts.count, 1)
    }

    func testRefusedPortGivesConnectionRefused() throws {
        // A port that was just ours and is now closed.
        let closed = try Upstream()
        let url = "\(closed.base)/ping"
        closed.stop()
        let client = client()
        expectError(.connectionRefused) { _ = try client.send(HTTPClientRequest(method: "GET", url: url)) }
        // Nothing was sent, so even a POST is retried after a refused connection.
        expectError(.connectionRefused) {
            _ = try client.send(HTTPClientRequest(method: "POST", url: url, body: [1]))
        }
        XCTAssertEqual(client.statistics.attempts, 6)
    }

    func testUnresolvableHost() {
        let client = client { $0.retry = .none; $0.connectTimeoutMs = 3_000 }
        expectError(.couldNotResolve) {
            _ = try client.send(HTTPClientRequest(method: "GET", url: "http://no-such-host.invalid/ping"))
        }
    }

    func testPinnedAddressesAreConnectedToInsteadOfResolvingTheName() throws {
        let client = client { $0.retry = .none; $0.connectTimeoutMs = 3_000 }
        let url = "http://pinned-upstream.invalid:\(upstream.server.port)/items/p1"
        var request = HTTPClientRequest(method: "GET", url: url)
        request.pinnedAddresses = ["127.0.0.1"]
        XCTAssertEqual(try client.send(request).decode(Item.self).id, "p1", "a name that does not exist reaches the pinned address")
        // Blocking and non-blocking sends alike.
        let done = DispatchSemaphore(value: 0)
        let results = AsyncResults()
        client.send(request) { results.add(0, $0); done.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        guard case .success(let answer)? = results[0] else { return XCTFail("\(String(describing: results[0]))") }
        XCTAssertEqual(answer.status, 200)
        // Pins must be numeric addresses.
        for bad in [[], ["localhost"], ["127.0.0.1\r\nHost: x"]] {
            request.pinnedAddresses = bad
            XCTAssertThrowsError(try client.send(request), "\(bad)") { error in
                guard case HTTPClientError.invalidRequest = error else { return XCTFail("\(error)") }
            }
        }
    }

    func test503IsRetriedForGetAndNotForPost() throws {
        let client = client()
        let get = try client.send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/flaky"))
        XCTAssertEqual(get.status, 200)
        XCTAssertEqual(get.attempts, 3)
        XCTAssertEqual(upstream.flakyGets.count, 3)

        let post = try client.send(HTTPClientRequest(method: "POST", url: "\(upstream.base)/flaky", body: [1]))
        XCTAssertEqual(post.status, 503)
        XCTAssertEqual(post.attempts, 1)
        XCTAssertEqual(upstream.flakyPosts.count, 1)

        // The JSON helper turns the final 503 into a typed error with the upstream's APIError.
        do {
            _ = try client.post("\(upstream.base)/flaky", body: ["a": 1], as: HTTPClient.NoContent.self)
            XCTFail("expected badStatus")
        } catch {
            guard case .badStatus(503, _, let apiError) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(apiError?.code, "unavailable")
            XCTAssertEqual(apiError?.retryAfterSeconds, 0)
        }
        XCTAssertEqual(upstream.flakyPosts.count, 2)

        // With an Idempotency-Key a POST may be retried: the third attempt succeeds.
        let keyed = try client.sendJSON(method: "POST", url: "\(upstream.base)/flaky-keyed", body: [],
                                        extraHeaders: ["Idempotency-Key": "k-1"])
        XCTAssertEqual(keyed.status, 200)
        XCTAssertEqual(keyed.attempts, 3)
        XCTAssertEqual(upstream.flakyKeyed.count, 3)
    }

    func testBadGatewayExhaustsAttempts() throws {
        let response = try client().send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/bad-gateway"))
        XCTAssertEqual(response.status, 502)
        XCTAssertEqual(response.attempts, 3)
    }

    func testRetryAfterWithinCapIsHonoured() throws {
        let started = Date()
        let response = try client().send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/paced"))
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.attempts, 2)
        XCTAssertGreaterThanOrEqual(elapsed, 0.99, "waited the 1 s the upstream asked for, not the 5-20 ms backoff")
        XCTAssertLessThan(elapsed, 2.0)
    }

    func testRetryAfterBeyondCapIsNotWaitedFor() throws {
        let started = Date()
        let response = try client().send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/busy"))
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0)
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.attempts, 1)
        XCTAssertEqual(upstream.busyCalls.count, 1)
        XCTAssertEqual(response.apiError?.retryAfterSeconds, 60)
    }

    func testBadJSONGivesInvalidJSON() {
        let client = client()
        do {
            _ = try client.get("\(upstream.base)/bad-json", as: Item.self)
            XCTFail("expected invalidJSON")
        } catch {
            guard case .invalidJSON = error else { return XCTFail("got \(error)") }
        }
        do {
            _ = try client.get("\(upstream.base)/wrong-shape", as: Item.self)
            XCTFail("expected invalidJSON")
        } catch {
            guard case .invalidJSON(let why) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(why.contains("id") || why.contains("name"), why)
        }
    }

    func testErrorBodyIsDecodedIntoAPIError() {
        do {
            _ = try client().get("\(upstream.base)/conflict", as: Item.self)
            XCTFail("expected badStatus")
        } catch {
            guard case .badStatus(let status, let body, let apiError) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(status, 409)
            XCTAssertFalse(body.isEmpty)
            XCTAssertEqual(apiError, APIError(status: 409, code: "segment_frozen", message: "segment is frozen"))
        }
        do {
            _ = try client().get("\(upstream.base)/html-error", as: Item.self)
            XCTFail("expected badStatus")
        } catch {
            XCTAssertEqual(error, .badStatus(status: 500, body: Array("<h1>oops</h1>".utf8), apiError: nil))
        }
    }

    func testResponseTooLarge() throws {
        let client = client { $0.maxResponseBodyBytes = 1 << 20 }
        // Announced by Content-Length.
        expectError(.responseTooLarge) {
            _ = try client.send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/big?size=\((1 << 20) + 1)"))
        }
        // Streamed with chunked encoding, so only counting the bytes can catch it.
        expectError(.responseTooLarge) {
            _ = try client.send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/big-stream?chunks=40"))
        }
        // Exactly at the limit is fine, and the client still works afterwards.
        let atLimit = try client.send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/big?size=\(1 << 20)"))
        XCTAssertEqual(atLimit.body.count, 1 << 20)
        let streamed = try client.send(HTTPClientRequest(method: "GET", url: "\(upstream.base)/big-stream?chunks=4"))
        XCTAssertEqual(streamed.body.count, 4 << 16)
    }

    func testInvalidInputIsATypedErrorNotACrash() {
        let client = client()
        for url in ["ftp://127.0.0.1/x", "file:///etc/passwd", "http://", "http:///path", "http://a b/",
                    "http://127.0.0.1/\r\nx: y", "", "127.0.0.1:80/ping", "gopher://127.0.0.1/"] {
            expectError(.invalidURL) { _ = try client.send(HTTPClientRequest(method: "GET", url: url)) }
        }
        let base = upstream.base
        func invalid(_ request: HTTPClientRequest) {
            do {
                _ = try client.send(request)
                XCTFail("expected invalidRequest for \(request.method) \(request.headers.map { $0.name })")
            } catch {
                guard case .invalidRequest = error else { return XCTFail("got \(error)") }
            }
        }
        invalid(HTTPClientRequest(method: "GE T", url: "\(base)/ping"))
        invalid(HTTPClientRequest(method: "", url: "\(base)/ping"))
        invalid(HTTPClientRequest(method: "GET\r\nX: y", url: "\(base)/ping"))
        invalid(HTTPClientRequest(method: "GET", url: "\(base)/ping", headers: ["X-Bad": "a\r\nInjected: 1"]))
        invalid(HTTPClientRequest(method: "GET", url: "\(base)/ping", headers: ["Bad Name": "v"]))
        invalid(HTTPClientRequest(method: "GET", url: "\(base)/ping", headers: ["Content-Length": "5"]))
        invalid(HTTPClientRequest(method: "GET", url: "\(base)/ping", headers: ["x-a": "nul\u{0}"]))
        XCTAssertEqual(client.statistics.attempts, 0, "nothing invalid reaches the network")

        // Absurd numbers are clamped, not trusted: the call completes or times out, nothing traps.
        let clamped = HTTPClient(configuration: .init(connectTimeoutMs: -5, timeoutMs: 0, maxResponseBodyBytes: 1 << 20,
                                                      maxConcurrentRequests: -3,
                                                      retry: .init(maxAttempts: -2, baseDelayMs: -1, maxDelayMs: -1)))
        do {
            let response = try clamped.send(HTTPClientRequest(method: "GET", url: "\(base)/ping",
                                                              timeoutMs: -1, connectTimeoutMs: Int.min))
            XCTAssertEqual(response.status, 200)
        } catch {
            XCTAssertEqual(error, .timeout)
        }
        XCTAssertEqual(clamped.statistics.attempts, 1)
        let none = HTTPClient(configuration: .init(maxResponseBodyBytes: -1, retry: .none))
        expectError(.responseTooLarge) { _ = try none.send(HTTPClientRequest(method: "GET", url: "\(base)/ping")) }
    }

    // MARK: Idempotency and backoff rules

    func testIdempotencyDefaults() {
        for method in ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"] {
            XCTAssertTrue(HTTPClientRequest(method: method, url: "http://x/").isIdempotent, method)
        }
        XCTAssertFalse(HTTPClientRequest(method: "POST", url: "http://x/").isIdempotent)
        XCTAssertFalse(HTTPClientRequest(method: "PATCH", url: "http://x/").isIdempotent)
        XCTAssertTrue(HTTPClientRequest(method: "POST", url: "http://x/", headers: ["idempotency-key": "k"]).isIdempotent)
        XCTAssertFalse(HTTPClientRequest(method: "GET", url: "http://x/", idempotent: false).isIdempotent)
        XCTAssertTrue(HTTPClientRequest(method: "POST", url: "http://x/", idempotent: true).isIdempotent)

        XCTAssertFalse(HTTPClient.mayRetry(after: .timeout, idempotent: false))
        XCTAssertTrue(HTTPClient.mayRetry(after: .timeout, idempotent: true))
        XCTAssertTrue(HTTPClient.mayRetry(after: .connectionRefused, idempotent: false))
        XCTAssertFalse(HTTPClient.mayRetry(after: .transport(code: 56, message: "reset"), idempotent: false))
        XCTAssertTrue(HTTPClient.mayRetry(after: .transport(code: 56, message: "reset"), idempotent: true))
        XCTAssertFalse(HTTPClient.mayRetry(after: .responseTooLarge, idempotent: true))
        XCTAssertFalse(HTTPClient.mayRetry(after: .couldNotResolve, idempotent: true))
    }

    func testBackoffGrowsExponentiallyWithJitterAndCap() {
        let policy = HTTPClient.RetryPolicy(maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000)
        for _ in 0..<200 {
            XCTAssertTrue((50...100).contains(policy.backoffMs(retry: 1)))
            XCTAssertTrue((100...200).contains(policy.backoffMs(retry: 2)))
            XCTAssertTrue((200...400).contains(policy.backoffMs(retry: 3)))
            XCTAssertTrue((500...1_000).contains(policy.backoffMs(retry: 9)))
            XCTAssertTrue((500...1_000).contains(policy.backoffMs(retry: Int.max)))
        }
        let draws = Set((0..<50).map { _ in policy.backoffMs(retry: 3) })
        XCTAssertGreaterThan(draws.count, 5, "delays are jittered")
    }

    // MARK: Shared JSON coding

    func testJSONCodingDates() throws {
        struct Stamp: Codable { var at: Date }
        let decoder = JSONCoding.decoder()
        for (text, seconds) in [("2024-05-01T08:30:00Z", 1_714_552_200.0),
                                ("2024-05-01T08:30:00.125Z", 1_714_552_200.125),
                                ("2024-05-01T16:30:00+08:00", 1_714_552_200.0),
                                ("2024-05-01T08:30:00.123456Z", 1_714_552_200.123456)] {
            let stamp = try decoder.decode(Stamp.self, from: Data("{\"at\":\"\(text)\"}".utf8))
            XCTAssertEqual(stamp.at.timeIntervalSince1970, seconds, accuracy: 0.000_001, text)
        }
        for bad in ["2024-05-01", "yesterday", "2024-13-01T00:00:00Z", "1714552200", String(repeating: "9", count: 10_000)] {
            XCTAssertThrowsError(try decoder.decode(Stamp.self, from: Data("{\"at\":\"\(bad)\"}".utf8)), bad)
        }
        let encoded = try JSONCoding.encoder().encode(Stamp(at: Date(timeIntervalSince1970: 1_714_552_200.125)))
        XCTAssertEqual(String(decoding: encoded, as: UTF8.self), #"{"at":"2024-05-01T08:30:00.125Z"}"#)
    }

    func testAPIErrorDecodingFromBody() {
        let body = Array(#"{"error":{"code":"field_invalid","message":"bad","details":{"field":"name"}}}"#.utf8)
        XCTAssertEqual(APIError(status: 400, body: body),
                       APIError(status: 400, code: "field_invalid", message: "bad", details: .object(["field": .string("name")])))
        XCTAssertNil(APIError(status: 500, body: []))
        XCTAssertNil(APIError(status: 500, body: Array("not json".utf8)))
        XCTAssertNil(APIError(status: 500, body: Array(#"{"error":"plain"}"#.utf8)))
    }
}
