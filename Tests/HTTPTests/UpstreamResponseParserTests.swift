import XCTest
@testable import HTTP

/// The response parser of the event-loop transport, fed the way sockets deliver: whole, byte by byte,
/// and split at every position.
final class UpstreamResponseParserTests: XCTestCase {
    private func parser(head: Bool = false, maxHeader: Int = 4_096, maxBody: Int = 1 << 20) -> UpstreamResponseParser {
        UpstreamResponseParser(isHeadRequest: head, maxHeaderBytes: maxHeader, maxBodyBytes: maxBody)
    }

    /// Feeds `text` in pieces of `step` bytes; returns the parser and the last progress.
    private func feed(_ text: String, step: Int = .max, head: Bool = false, maxHeader: Int = 4_096,
                      maxBody: Int = 1 << 20) throws -> (UpstreamResponseParser, UpstreamResponseParser.Progress) {
        var p = parser(head: head, maxHeader: maxHeader, maxBody: maxBody)
        let bytes = Array(text.utf8)
        var progress = UpstreamResponseParser.Progress.needMore
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + max(step, 1))
            progress = try bytes[i..<end].withUnsafeBufferPointer { try p.feed($0) }
            i = end
        }
        return (p, progress)
    }

    func testContentLengthBodyAtEverySplit() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nX-Obs: a\r\n  b\r\n\r\n{\"ok\":true}"
        for step in [1, 2, 3, 7, 20, .max] {
            let (p, progress) = try feed(text, step: step)
            XCTAssertEqual(progress, .complete(reusable: true), "step \(step)")
            XCTAssertEqual(p.status, 200)
            XCTAssertEqual(String(decoding: p.body, as: UTF8.self), "{\"ok\":true}")
            XCTAssertEqual(HTTPHeaders(p.fields).first("content-type"), "application/json")
            XCTAssertEqual(HTTPHeaders(p.fields).first("x-obs"), "a b", "folded lines join the previous field")
        }
    }

    func testChunkedBody() throws {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
        for step in [1, 4, .max] {
            let (p, progress) = try feed(text, step: step)
            XCTAssertEqual(progress, .complete(reusable: true))
            XCTAssertEqual(String(decoding: p.body, as: UTF8.self), "hello world")
        }
    }

    func testInterimAnswersAreSkipped() throws {
        let (p, progress) = try feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", step: 5)
        XCTAssertEqual(progress, .complete(reusable: true))
        XCTAssertEqual(p.status, 201)
        XCTAssertEqual(p.body, Array("ok".utf8))
    }

    func testNoBodyFor204And304AndHead() throws {
        XCTAssertEqual(try feed("HTTP/1.1 204 No Content\r\n\r\n").1, .complete(reusable: true))
        XCTAssertEqual(try feed("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n").1, .complete(reusable: true))
        let (p, progress) = try feed("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", head: true)
        XCTAssertEqual(progress, .complete(reusable: true))
        XCTAssertEqual(HTTPHeaders(p.fields).first("content-length"), "1234")
        XCTAssertTrue(p.body.isEmpty)
    }

    func testCloseDelimitedBodyEndsWithTheConnection() throws {
        var (p, progress) = try feed("HTTP/1.1 200 OK\r\n\r\npart one, ")
        XCTAssertEqual(progress, .needMore)
        progress = try Array("part two".utf8).withUnsafeBufferPointer { try p.feed($0) }
        XCTAssertEqual(progress, .needMore)
        XCTAssertEqual(try p.endOfInput(), .complete(reusable: false))
        XCTAssertEqual(String(decoding: p.body, as: UTF8.self), "part one, part two")
    }

    func testConnectionCloseHTTP10AndExtraBytesAreNotReused() throws {
        XCTAssertEqual(try feed("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n").1, .complete(reusable: false))
        XCTAssertEqual(try feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").1, .complete(reusable: false))
        XCTAssertEqual(try feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy").1, .complete(reusable: false),
                       "an upstream answering more than asked can't be trusted with the next request")
    }

    func testEndOfInputBeforeTheEndIsAnError() throws {
        var (p, _) = try feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        XCTAssertThrowsError(try p.endOfInput()) { error in
            guard case .transport = error as? HTTPClientError else { return XCTFail("\(error)") }
        }
        var silent = parser()
        XCTAssertThrowsError(try silent.endOfInput())
        XCTAssertFalse(silent.receivedAny)
    }

    func testMalformedAnswersAreTransportErrors() {
        for text in ["SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/2 200\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nbad header\r\n\r\n", "HTTP/1.1 200 OK\r\nna me: v\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                     "HTTP/1.1 101 Switching Protocols\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"] {
            XCTAssertThrowsError(try feed(text), text) { error in
                guard case .transport = error as? HTTPClientError else { return XCTFail("\(text): \(error)") }
            }
        }
    }

    func testLimits() {
        let bigHead = "HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 5_000) + "\r\n\r\n"
        XCTAssertThrowsError(try feed(bigHead, step: 100)) { XCTAssertEqual($0 as? HTTPClientError, .responseTooLarge) }
        XCTAssertThrowsError(try feed("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n", maxBody: 1_000)) {
            XCTAssertEqual($0 as? HTTPClientError, .responseTooLarge)
        }
        XCTAssertThrowsError(try feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7D0\r\n", maxBody: 1_000)) {
            XCTAssertEqual($0 as? HTTPClientError, .responseTooLarge)
        }
        XCTAssertThrowsError(try feed("HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "b", count: 1_001), maxBody: 1_000)) {
            XCTAssertEqual($0 as? HTTPClientError, .responseTooLarge)
        }
    }

    func testTargets() {
        XCTAssertEqual(UpstreamTarget(url: "http://127.0.0.1:8080/api/v1/x?y=1")?.target, "/api/v1/x?y=1")
        XCTAssertEqual(UpstreamTarget(url: "http://127.0.0.1:8080/api/v1/x?y=1")?.port, 8080)
        XCTAssertEqual(UpstreamTarget(url: "HTTP://Segment")?.host, "segment")
        XCTAssertEqual(UpstreamTarget(url: "http://segment")?.port, 80)
        XCTAssertEqual(UpstreamTarget(url: "http://segment?q")?.target, "/?q")
        XCTAssertEqual(UpstreamTarget(url: "http://[::1]:81/a")?.host, "::1")
        XCTAssertEqual(UpstreamTarget(url: "http://[::1]:81/a")?.authority, "[::1]:81")
        for bad in ["https://a/b", "http://", "http://user@a/", "http://a:0/", "http://a:99999/", "http://a/#f", "ftp://a/", "http://a:x/"] {
            XCTAssertNil(UpstreamTarget(url: bad), bad)
        }
    }
}
