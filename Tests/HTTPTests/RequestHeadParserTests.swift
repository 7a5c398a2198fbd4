import XCTest
@testable import HTTP

final class RequestHeadParserTests: XCTestCase {
    func parse(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> RequestHeadParser.Result {
        Array(text.utf8).withUnsafeBufferPointer { RequestHeadParser.parse($0, limits: limits) }
    }

    func head(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> RequestHead? {
        if case .complete(let h, _) = parse(text) { return h }
        XCTFail("expected a complete head for \(text.debugDescription)", file: file, line: line)
        return nil
    }

    func status(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> Int? {
        if case .failure(let e) = parse(text, limits: limits) { return e.status }
        return nil
    }

    func testParsesRequestLineHeadersAndQuery() throws {
        let h = try XCTUnwrap(head("GET /api/v1/segments:estimate?limit=10&x=%20y HTTP/1.1\r\nHost: a\r\nX-Many: 1\r\nx-many: 2\r\n\r\n"))
        XCTAssertEqual(h.method, .GET)
        XCTAssertEqual(h.path, "/api/v1/segments:estimate")
        XCTAssertEqual(h.query, "limit=10&x=%20y")
        XCTAssertEqual(h.headers.values("X-MANY"), ["1", "2"], "repeated headers are kept, not overwritten")
        XCTAssertTrue(h.keepAlive)
        XCTAssertEqual(h.framing, .none)
    }

    func testConsumedStopsAtEndOfHeadSoPipelinedBytesRemain() {
        let text = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n"
        guard case .complete(_, let consumed) = parse(text) else { return XCTFail() }
        XCTAssertEqual(consumed, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n".utf8.count)
    }

    func testIncompleteUntilBlankLineAndResumableScan() {
        let full = Array("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n".utf8)
        var scan = 0
        for end in 1..<full.count {
            let r = full[0..<end].withUnsafeBufferPointer { RequestHeadParser.parse($0, scanFrom: scan) }
            guard case .incomplete(let next) = r else { return XCTFail("complete too early at \(end)") }
            scan = next
        }
        let r = full.withUnsafeBufferPointer { RequestHeadParser.parse($0, scanFrom: scan) }
        guard case .complete(let h, _) = r else { return XCTFail("byte-at-a-time parse did not complete") }
        XCTAssertEqual(h.framing, .contentLength(3))
    }

    func testFramingRules() {
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501)
        XCTAssertEqual(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400)
        XCTAssertEqual(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n")?.framing, .contentLength(5))
        XCTAssertEqual(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n")?.framing, .chunked)
    }

    func testMalformedHeadsAreRejected() {
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n"), 400, "space in name")
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nName : x\r\n\r\n"), 400, "space before colon")
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n"), 400, "obs-fold")
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{01}b\r\n\r\n"), 400, "control character")
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), 400)
        XCTAssertEqual(status("GET / HTTP/1.1\r\n\r\n"), 400, "HTTP/1.1 requires Host")
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, "two Hosts")
        XCTAssertEqual(status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505)
        XCTAssertEqual(status("GET / HTTX/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertEqual(status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "double space")
        XCTAssertEqual(status("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertEqual(status("GET nopath HTTP/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertEqual(status("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n"), 417)
        XCTAssertNil(status("GET / HTTP/1.0\r\n\r\n"), "HTTP/1.0 needs no Host")
    }

    func testLimits() {
        var limits = HTTPParserLimits()
        limits.maxRequestLineBytes = 100
        XCTAssertEqual(status("GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits), 414)
        XCTAssertEqual(status("GET /" + String(repeating: "a", count: 200), limits: limits), 414, "long line still arriving")
        let manyHeaders = (0..<101).map { "X-\($0): v\r\n" }.joined()
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\n" + manyHeaders + "\r\n"), 431)
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 17_000)
        XCTAssertEqual(status(big), 431, "an unfinished head over 16 KiB")
        XCTAssertEqual(status(big + "\r\n\r\n"), 431)
    }

    func testKeepAliveAndExpect() {
        XCTAssertEqual(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")?.keepAlive, false)
        XCTAssertEqual(head("GET / HTTP/1.0\r\n\r\n")?.keepAlive, false)
        XCTAssertEqual(head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?.keepAlive, true)
        XCTAssertEqual(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n")?.expectsContinue, true)
        XCTAssertEqual(head("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n")?.expectsContinue, false, "no body, nothing to continue")
    }

    func testAbsoluteFormAndLeadingEmptyLine() {
        XCTAssertEqual(head("GET http://example.com:80/x?y=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")?.path, "/x")
        XCTAssertEqual(head("\r\nGET /z HTTP/1.1\r\nHost: a\r\n\r\n")?.path, "/z")
        XCTAssertEqual(head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")?.path, "*")
    }

    func testRandomBytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<300, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if Bool.random() { bytes = Array("GET / HTTP/1.1\r\n".utf8) + bytes + [13, 10, 13, 10] }
            _ = bytes.withUnsafeBufferPointer { RequestHeadParser.parse($0) }
        }
    }
}

final class ChunkedBodyDecoderTests: XCTestCase {
    func decode(_ text: String, max: Int = 1 << 20, splitAt: Int? = nil) throws -> (body: String, consumed: Int, done: Bool) {
        var d = ChunkedBodyDecoder(maxBodyBytes: max)
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var consumed = 0
        let cuts = splitAt.map { [0, $0, bytes.count] } ?? [0, bytes.count]
        for i in 0..<(cuts.count - 1) {
            let part = Array(bytes[cuts[i]..<cuts[i + 1]])
            consumed += try part.withUnsafeBufferPointer { try d.decode($0, into: &out) }
            if d.isDone { break }
        }
        return (String(decoding: out, as: UTF8.self), consumed, d.isDone)
    }

    func testDecodesChunksExtensionsAndTrailers() throws {
        let text = "4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\nNEXT"
        let r = try decode(text)
        XCTAssertEqual(r.body, "Wikipedia in\r\n\r\nchunks.")
        XCTAssertTrue(r.done)
        XCTAssertEqual(r.consumed, text.utf8.count - 4, "stops before the next request")
    }

    func testEverySplitPointGivesTheSameResult() throws {
        let text = "a\r\n0123456789\r\n3 ; ext\r\nabc\r\n0\r\n\r\n"
        for cut in 0...text.utf8.count {
            let r = try decode(text, splitAt: cut)
            XCTAssertEqual(r.body, "0123456789abc", "split at \(cut)")
            XCTAssertTrue(r.done)
        }
    }

    func testRejectsMalformedAndOversized() {
        XCTAssertThrowsError(try decode("g\r\nabc\r\n0\r\n\r\n"))
        XCTAssertThrowsError(try decode("\r\n"))
        XCTAssertThrowsError(try decode("3\r\nabcX\r\n"))
        XCTAssertThrowsError(try decode("3\nabc\r\n"))
        XCTAssertThrowsError(try decode("fffffffffffffffffff\r\n"), "overflowing size")
        XCTAssertThrowsError(try decode("10\r\n", max: 15)) { error in
            XCTAssertEqual((error as? HTTPParseError)?.status, 413)
        }
        XCTAssertThrowsError(try decode("1;" + String(repeating: "x", count: 5000) + "\r\n"))
    }
}
