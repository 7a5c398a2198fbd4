import Foundation
import XCTest
@testable import ServiceKit

final class LoggerTests: XCTestCase {
    private func decode(_ line: String, file: StaticString = #filePath, lineNumber: UInt = #line) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try XCTUnwrap(object as? [String: Any], "not an object: \(line)", file: file, line: lineNumber)
    }

    func testLineShapeAndFieldOrder() throws {
        let sink = InMemoryLogSink()
        let logger = Logger(service: "segment", minimumLevel: .info, sink: sink).with(requestId: "r-42").with(["replica": 2])
        let before = Date()
        logger.info("estimate done", ["ms": 12, "ratio": 0.25, "cached": false, "segment": "vip"])
        let line = try XCTUnwrap(sink.lines.first)
        XCTAssertEqual(sink.lines.count, 1)
        XCTAssertTrue(line.hasPrefix(#"{"ts":""#), line)
        XCTAssertTrue(line.hasSuffix(#","level":"info","service":"segment","msg":"estimate done","requestId":"r-42","replica":2,"ms":12,"ratio":0.25,"cached":false,"segment":"vip"}"#), line)

        let object = try decode(line)
        let ts = try XCTUnwrap(object["ts"] as? String)
        XCTAssertNotNil(ts.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression), ts)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try XCTUnwrap(formatter.date(from: ts))
        XCTAssertEqual(date.timeIntervalSince(before), 0, accuracy: 5)
    }

    func testLevelsBelowTheMinimumAreNeitherBuiltNorWritten() {
        let sink = InMemoryLogSink()
        let logger = Logger(service: "s", minimumLevel: .warning, sink: sink)
        var evaluated = 0
        func expensive() -> String { evaluated += 1; return "built" }
        func fields() -> KeyValuePairs<String, LogValue> { evaluated += 1; return ["k": 1] }
        logger.trace(expensive(), fields())
        logger.debug(expensive(), fields())
        logger.info(expensive(), fields())
        XCTAssertEqual(evaluated, 0, "disabled levels must not evaluate their message or fields")
        XCTAssertTrue(sink.lines.isEmpty)
        logger.warning(expensive())
        logger.error(expensive())
        XCTAssertEqual(evaluated, 2)
        XCTAssertEqual(sink.lines.count, 2)
        XCTAssertFalse(logger.isEnabled(.info))
        XCTAssertTrue(logger.isEnabled(.error))
        XCTAssertEqual(LogLevel.allCases.sorted(), [.trace, .debug, .info, .warning, .error])
    }

    func testEscapingRoundTripsEveryKindOfCharacter() throws {
        let sink = InMemoryLogSink()
        let logger = Logger(service: "s", sink: sink)
        let nasty = "quote \" backslash \\ slash / newline \n return \r tab \t nul \u{0} bell \u{7} esc \u{1B} del \u{7F} "
            + "中文 émoji 👩‍👩‍👧 euro € ellipsis … separators \u{2028}\u{2029} end"
        logger.info(nasty, ["key with \"quotes\"\n": .string(nasty)])
        let line = try XCTUnwrap(sink.lines.first)
        XCTAssertFalse(line.contains("\n"), "a value cannot split the line")
        XCTAssertFalse(line.contains("\u{2028}"))
        XCTAssertTrue(line.contains(#"nul \u0000 bell \u0007 esc \u001b del \u007f"#), line)
        let object = try decode(line)
        XCTAssertEqual(object["msg"] as? String, nasty)
        XCTAssertEqual(object["key with \"quotes\"\n"] as? String, nasty)
    }

    func testNumbersThatJSONCannotHoldBecomeStrings() throws {
        let sink = InMemoryLogSink()
        Logger(service: "s", sink: sink).info("m", ["nan": .double(.nan), "inf": .double(.infinity), "tiny": 1e-7,
                                                     "big": .int(Int.max), "neg": -3])
        let object = try decode(try XCTUnwrap(sink.lines.first))
        XCTAssertEqual(object["nan"] as? String, "nan")
        XCTAssertEqual(object["inf"] as? String, "inf")
        XCTAssertEqual(object["tiny"] as? Double, 1e-7)
        XCTAssertEqual((object["big"] as? NSNumber)?.int64Value, Int64.max)
        XCTAssertEqual(object["neg"] as? Int, -3)
    }

    func testCopiesCarryContextWithoutChangingTheOriginal() throws {
        let sink = InMemoryLogSink()
        let base = Logger(service: "canvas", minimumLevel: .debug, sink: sink).with(["worker": 1])
        let request = base.with(requestId: "abc").with(["worker": 2, "tenant": "bank-a"])
        base.debug("base")
        request.debug("request")
        request.with(requestId: nil).debug("cleared")
        let objects = try sink.objects()
        XCTAssertNil(objects[0]["requestId"])
        XCTAssertEqual(objects[0]["worker"] as? Int, 1)
        XCTAssertNil(objects[0]["tenant"])
        XCTAssertEqual(objects[1]["requestId"] as? String, "abc")
        XCTAssertEqual(objects[1]["worker"] as? Int, 2, "a later value of the same key replaces the earlier one")
        XCTAssertEqual(objects[1]["tenant"] as? String, "bank-a")
        XCTAssertNil(objects[2]["requestId"])
        XCTAssertEqual(base.requestId, nil)
        XCTAssertEqual(request.metadata, [LogField("worker", 2), LogField("tenant", "bank-a")])
    }

    func testFieldsNeverDuplicateOrOverrideFixedKeys() throws {
        let sink = InMemoryLogSink()
        let logger = Logger(service: "real", sink: sink).with(requestId: "r1").with(["shard": 1, "msg": "meta"])
        logger.info("hello", ["ts": "forged", "service": "forged", "level": "forged", "requestId": "forged",
                              "shard": 2, "dup": 1, "dup": 2, "field.ts": "mine"])
        let line = try XCTUnwrap(sink.lines.first)
        let object = try decode(line)
        XCTAssertEqual(object["service"] as? String, "real")
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["msg"] as? String, "hello")
        XCTAssertEqual(object["requestId"] as? String, "r1")
        XCTAssertEqual(object["field.ts"] as? String, "forged")
        XCTAssertEqual(object["field.service"] as? String, "forged")
        XCTAssertEqual(object["field.msg"] as? String, "meta")
        XCTAssertEqual(object["field.field.ts"] as? String, "mine")
        XCTAssertEqual(object["shard"] as? Int, 2, "the call's field wins over metadata")
        XCTAssertEqual(object["dup"] as? Int, 1)
        // JSONSerialization keeps one of duplicate names silently: count them in the raw text.
        XCTAssertEqual(line.components(separatedBy: #""shard":"#).count, 2)
        XCTAssertEqual(line.components(separatedBy: #""dup":"#).count, 2)
        XCTAssertEqual(line.components(separatedBy: #""ts":"#).count, 2)
    }

    func testHugeValuesAreTruncatedAtACharacterBoundary() throws {
        let sink = InMemoryLogSink()
        let huge = String(repeating: "é", count: 10_000)  // 2 bytes each: the cut must not split one
        Logger(service: "s", sink: sink).info(huge)
        let message = try XCTUnwrap(try sink.objects().first?["msg"] as? String)
        XCTAssertTrue(message.hasPrefix(String(repeating: "é", count: 4_096)))
        XCTAssertTrue(message.hasSuffix("…[truncated \(20_000 - 8_192) bytes]"), String(message.suffix(40)))
        XCTAssertLessThan(sink.lines[0].utf8.count, 9_000)
    }

    func testTimestampFormatting() throws {
        func text(_ seconds: Int, _ ms: Int) -> String { String(decoding: LogTimestamp.format(seconds: seconds, milliseconds: ms), as: UTF8.self) }
        XCTAssertEqual(text(0, 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(text(951_782_400, 7), "2000-02-29T00:00:00.007Z")
        XCTAssertEqual(text(1_709_251_199, 999), "2024-02-29T23:59:59.999Z")
        XCTAssertEqual(text(4_102_444_800, 120), "2100-01-01T00:00:00.120Z")
        // Against Foundation over a spread of instants (every ~3.7 days for 130 years).
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var seconds = -10_000_000
        while seconds < 4_000_000_000 {
            let ours = text(seconds, 250)
            let theirs = formatter.string(from: Date(timeIntervalSince1970: Double(seconds) + 0.25))
            XCTAssertEqual(ours, theirs)
            if ours != theirs { break }
            seconds += 321_987
        }
        let live = String(decoding: LogTimestamp.now(), as: UTF8.self)
        let date = try XCTUnwrap(formatter.date(from: live))
        XCTAssertEqual(date.timeIntervalSinceNow, 0, accuracy: 5)
    }

    func testMinimumLevelFromConfiguration() throws {
        let sink = InMemoryLogSink()
        XCTAssertEqual(try Logger(service: "s", config: ConfigReader(environment: [:]), sink: sink).minimumLevel, .info)
        XCTAssertEqual(try Logger(service: "s", config: ConfigReader(environment: ["LATTICE_LOG_LEVEL": "Debug"]), sink: sink).minimumLevel, .debug)
        XCTAssertThrowsError(try Logger(service: "s", config: ConfigReader(environment: ["LATTICE_LOG_LEVEL": "verbose"]), sink: sink)) { error in
            XCTAssertEqual((error as? ConfigError)?.description,
                           #"LATTICE_LOG_LEVEL: expected one of trace, debug, info, warning, error, got "verbose""#)
        }
    }

    /// Many threads writing long lines through the real file-descriptor sink into a pipe: every line
    /// arrives whole, even above PIPE_BUF (4096 bytes), where the kernel would otherwise interleave.
    func testConcurrentLinesThroughAPipeNeverInterleave() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        let readEnd = ends[0], writeEnd = ends[1]
        let sink = StandardOutputLogSink(fileDescriptor: writeEnd)
        let logger = Logger(service: "s", sink: sink)

        let collected = LockedBytes()
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if count > 0 { collected.append(buffer[0..<count]) } else if count < 0 && errno == EINTR { continue } else { break }
            }
        }
        reader.start()

        let threads = 8, linesPerThread = 200
        // Writers are threads of our own: pipe writes block, which must never happen on Dispatch's pool.
        let done = DispatchSemaphore(value: 0)
        for thread in 0..<threads {
            Thread {
                let padding = String(repeating: Character(UnicodeScalar(UInt8(ascii: "a") + UInt8(thread))), count: 6_000)
                for index in 0..<linesPerThread {
                    logger.info(padding, ["thread": .int(thread), "index": .int(index)])
                }
                done.signal()
            }.start()
        }
        for _ in 0..<threads { done.wait() }
        close(writeEnd)
        while !collected.isFinished(reader) { usleep(1_000) }
        close(readEnd)

        let lines = String(decoding: collected.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.last, "", "output ends with a newline")
        XCTAssertEqual(lines.count - 1, threads * linesPerThread)
        var seen = Set<String>()
        for line in lines.dropLast() {
            let object = try decode(String(line))
            let thread = try XCTUnwrap(object["thread"] as? Int)
            let message = try XCTUnwrap(object["msg"] as? String)
            XCTAssertEqual(message, String(repeating: Character(UnicodeScalar(UInt8(ascii: "a") + UInt8(thread))), count: 6_000))
            seen.insert("\(thread)/\(object["index"] ?? -1)")
        }
        XCTAssertEqual(seen.count, threads * linesPerThread)
        XCTAssertEqual(sink.droppedLines, 0)
    }

    func testUnwritableDescriptorDropsAndCountsLines() {
        let readOnly = open("/dev/null", O_RDONLY)
        XCTAssertGreaterThanOrEqual(readOnly, 0)
        defer { close(readOnly) }
        let sink = StandardOutputLogSink(fileDescriptor: readOnly)
        let logger = Logger(service: "s", sink: sink)
        logger.info("one")
        logger.error("two")
        XCTAssertEqual(sink.droppedLines, 2)
    }

    func testCapturingSinkRejectsNonObjectLines() {
        let sink = InMemoryLogSink()
        sink.write(line: Array("[1,2]\n".utf8))
        XCTAssertThrowsError(try sink.objects()) { XCTAssertTrue($0 is LogLineIsNotAnObject) }
        sink.removeAll()
        XCTAssertTrue(sink.lines.isEmpty)
    }
}

/// Bytes read by the pipe-reading thread. Thread-safety: all mutable state is guarded by `lock`.
private final class LockedBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [UInt8] = []
    func append(_ more: ArraySlice<UInt8>) { lock.withLock { stored.append(contentsOf: more) } }
    var bytes: [UInt8] { lock.withLock { stored } }
    func isFinished(_ thread: Thread) -> Bool { thread.isFinished }
}
