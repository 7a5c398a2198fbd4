import Contracts
import Foundation
import HTTP
import ServiceKit
import TestSupport
import XCTest
@testable import Gateway

/// The proxy over real sockets: a gateway-side server in front of real upstream servers.
final class ProxyTests: XCTestCase {
    /// Stands in for the token check so these tests exercise the proxy alone (the identity tests
    /// cover authentication end to end).
    struct FixedCaller: Middleware {
        func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response {
            var ctx = context
            ctx.requestId = request.headers.first("x-test-request-id") ?? "req-proxy"
            ctx.identity = CallerIdentity(userId: "u-9", orgId: "sh", orgPath: "/hq/sh/", roles: ["operator"], rights: ["edit", "view"])
            return try next(request, ctx)
        }
    }

    var upstream: HTTPServer!
    var slow: HTTPServer!
    var gateway: HTTPServer!
    static let secret = "proxy-test-secret-0123456789"

    override func setUpWithError() throws {
        let router = Router()
        router.add(middleware: InternalAuthMiddleware(secret: Self.secret))
        router.get("/api/v1/customers/{rest...}") { request, context in
            try .json([
                "path": request.path, "query": request.query ?? "",
                "user": context.identity?.userId ?? "-", "orgPath": context.identity?.orgPath ?? "-",
                "requestId": request.headers.first("x-request-id") ?? "-",
                "forwardedFor": request.headers.first("x-forwarded-for") ?? "-",
                "authorization": request.headers.first("authorization") ?? "-",
                "spoofedRoles": request.headers.first("x-lattice-roles") ?? "-",
            ])
        }
        router.get("/api/v1/customers/{id}/rewards") { _, context in .text("rewards for " + (try context.parameters.require("id"))) }
        router.post("/api/v1/customers:import", options: RouteOptions(maxBodyBytes: 1 << 30, streamsBody: true)) { request, _ in
            guard case .stream(let body) = request.body else { return .text("not streamed", status: 500) }
            var total = 0
            while let chunk = try body.read() { total += chunk.count }
            return try .json(["received": total], status: 202)
        }
        router.get("/api/v1/segments/{id}/members") { _, _ in
            Response(headers: ["content-type": "text/csv"], body: .stream { writer in
                for i in 0..<5000 { try writer.write("customer_\(i),\(String(repeating: "x", count: 1000))\n") }
            })
        }
        router.post("/api/v1/segments:estimate") { request, _ in try .json(["echo": String(decoding: request.body.bytes, as: UTF8.self)], status: 201) }
        var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        config.eventLoops = 1
        upstream = HTTPServer(configuration: config, router: router, log: { _ in })
        try upstream.start()

        let slowRouter = Router()
        slowRouter.get("/api/v1/canvases") { _, _ in Thread.sleep(forTimeInterval: 2); return .text("late") }
        slow = HTTPServer(configuration: config, router: slowRouter, log: { _ in })
        try slow.start()

        let base = URL(string: "http://127.0.0.1:\(upstream.port)")!
        let table = UpstreamTable(services: [
            "profile": base, "segment": base, "rewards": base,
            "canvas": URL(string: "http://127.0.0.1:\(slow.port)")!,
            "dispatcher": URL(string: "http://127.0.0.1:\(TestEnvironment.freePort())")!,
        ])
        let proxy = Proxy(table: table, internalSecret: Self.secret, connectTimeout: 0.5, timeout: 0.5)
        let gatewayRouter = Router()
        gatewayRouter.add(middleware: ErrorMiddleware())
        gatewayRouter.add(middleware: FixedCaller())
        ProxyRoutes.register(on: gatewayRouter, proxy: proxy)
        gateway = HTTPServer(configuration: config, router: gatewayRouter, log: { _ in })
        try gateway.start()
    }

    override func tearDown() {
        gateway?.shutdown()
        upstream?.shutdown()
        slow?.shutdown()
    }

    var client: HTTPClient {
        var c = HTTPClient.Configuration()
        c.retry = .none
        c.timeoutMs = 20_000
        return HTTPClient(configuration: c)
    }
    var base: String { "http://127.0.0.1:\(gateway.port)" }

    func testForwardsAsTheCallerAndStripsSpoofedHeaders() throws {
        var request = HTTPClientRequest(method: "GET", url: base + "/api/v1/customers/c1/events?limit=5&q=%E5%BC%A0")
        request.headers.add("authorization", "Bearer secret-token")
        request.headers.add("x-lattice-roles", "admin")
        request.headers.add("x-lattice-internal", "guess")
        request.headers.add("x-test-request-id", "req-77")
        let response = try client.send(request)
        XCTAssertEqual(response.status, 200, response.bodyText)
        let seen = try response.decode([String: String].self)
        XCTAssertEqual(seen["path"], "/api/v1/customers/c1/events")
        XCTAssertEqual(seen["query"], "limit=5&q=%E5%BC%A0")
        XCTAssertEqual(seen["user"], "u-9")
        XCTAssertEqual(seen["orgPath"], "/hq/sh/")
        XCTAssertEqual(seen["requestId"], "req-77")
        XCTAssertEqual(seen["forwardedFor"], "127.0.0.1")
        XCTAssertEqual(seen["authorization"], "-", "the client's token never reaches a service")
        XCTAssertEqual(seen["spoofedRoles"], "operator", "identity headers come from the gateway only")
    }

    func testHeadPassesTheUpstreamLength() throws {
        let c = try RawTestConnection(port: gateway.port)
        try c.send("HEAD /api/v1/customers/c1 HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n")
        let reply = try c.readAll()
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 200"), reply)
        let get = try client.send(HTTPClientRequest(method: "GET", url: base + "/api/v1/customers/c1"))
        XCTAssertTrue(reply.lowercased().contains("content-length: \(get.body.count)\r\n"), reply)
        XCTAssertTrue(reply.hasSuffix("\r\n\r\n"), "no body after the head")
    }

    func testNestedExceptionRoutesToItsOwner() throws {
        XCTAssertEqual(try client.send(HTTPClientRequest(method: "GET", url: base + "/api/v1/customers/c7/rewards")).bodyText, "rewards for c7")
    }

    func testBodiesAndStatusesPassThrough() throws {
        var request = HTTPClientRequest(method: "POST", url: base + "/api/v1/segments:estimate")
        request.body = Array(#"{"rule":{"tag":"vip"}}"#.utf8)
        let response = try client.send(request)
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(try response.decode([String: String].self)["echo"], #"{"rule":{"tag":"vip"}}"#)
    }

    func testDownAndSlowUpstreamsAnswerJSONInBoundedTime() throws {
        var started = Date()
        let down = try client.send(HTTPClientRequest(method: "GET", url: base + "/api/v1/messages"))
        XCTAssertEqual(down.status, 502)
        XCTAssertEqual(down.apiError?.code, "upstream_unavailable")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        started = Date()
        let late = try client.send(HTTPClientRequest(method: "GET", url: base + "/api/v1/canvases"))
        XCTAssertEqual(late.status, 504)
        XCTAssertEqual(late.apiError?.code, "upstream_timeout")
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5)
    }

    func testUnknownResourceIs404() throws {
        let r = try client.send(HTTPClientRequest(method: "GET", url: base + "/api/v1/nonsense"))
        XCTAssertEqual(r.status, 404)
    }

    func testLargeImportStreamsThrough() throws {
        let c = try RawTestConnection(port: gateway.port)
        let size = 24 << 20
        try c.send("POST /api/v1/customers:import HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\ncontent-type: text/csv\r\n\r\n")
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        for _ in 0..<(size >> 20) {
            try c.send(Array("100000\r\n".utf8) + chunk + Array("\r\n".utf8))
        }
        try c.send("0\r\n\r\n")
        let reply = try c.readAll()
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 202"), String(reply.prefix(200)))
        XCTAssertTrue(reply.contains("\"received\":\(size)"), String(reply.suffix(200)))
    }

    func testExportStreamsBack() throws {
        var received = 0
        var status = 0
        var headers = HTTPHeaders()
        try client.stream(HTTPClientRequest(method: "GET", url: base + "/api/v1/segments/s1/members"),
                          onHead: { status = $0; headers = $1 }, onBody: { received += $0.count })
        XCTAssertEqual(status, 200)
        XCTAssertEqual(headers.first("content-type"), "text/csv")
        XCTAssertEqual(received, (0..<5000).reduce(0) { $0 + "customer_\($1),".utf8.count + 1001 })
    }
}

/// Minimal raw socket client for sending hand-framed requests.
final class RawTestConnection {
    let fd: Int32
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { throw TestSetupFailure("connect failed") }
        var tv = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
    deinit { close(fd) }
    func send(_ text: String) throws { try send(Array(text.utf8)) }
    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestSetupFailure("send failed") }
            sent += n
        }
    }
    /// Reads until the response is complete (content-length) or the peer stops sending.
    func readAll() throws -> String {
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
            if n <= 0 { break }
            data += buf[0..<n]
            let text = String(decoding: data, as: UTF8.self)
            if let headEnd = text.range(of: "\r\n\r\n"),
               let cl = text[..<headEnd.lowerBound].split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
               let length = Int(cl.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)),
               text.utf8.count - text[..<headEnd.upperBound].utf8.count >= length {
                return text
            }
        }
        return String(decoding: data, as: UTF8.self)
    }
}
