import Foundation
import XCTest
@testable import ServiceKit

/// A sample line of the text format read back: name, labels, value.
private struct ParsedSample: Equatable {
    let name: String
    let labels: [String: String]
    let value: Double
}

/// A small independent reader of the exposition format 0.0.4, strict enough to catch malformed output:
/// every sample must follow a `# TYPE` of its family, names and label names must be valid, label values
/// must be properly escaped, and no series may repeat.
private struct ExpositionParser {
    var types: [String: String] = [:]
    var helps: [String: String] = [:]
    var samples: [ParsedSample] = []

    struct Malformed: Error, CustomStringConvertible {
        let line: String
        let reason: String
        var description: String { "\(reason): \(line)" }
    }

    init(_ text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw Malformed(line: text, reason: "no final newline") }
        var currentFamily: String?
        var seriesSeen = Set<String>()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                guard let space = rest.firstIndex(of: " ") else { throw Malformed(line: line, reason: "HELP without text") }
                helps[String(rest[..<space])] = Self.unescape(String(rest[rest.index(after: space)...]), quotes: false)
                continue
            }
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[1]) else {
                    throw Malformed(line: line, reason: "bad TYPE")
                }
                guard types[String(parts[0])] == nil else { throw Malformed(line: line, reason: "family declared twice") }
                guard helps[String(parts[0])] != nil else { throw Malformed(line: line, reason: "TYPE without HELP before it") }
                types[String(parts[0])] = String(parts[1])
                currentFamily = String(parts[0])
                continue
            }
            guard !line.hasPrefix("#"), !line.isEmpty else { throw Malformed(line: line, reason: "unexpected line") }
            let sample = try Self.parseSample(line)
            guard let family = currentFamily, let type = types[family] else { throw Malformed(line: line, reason: "sample before TYPE") }
            let allowed = type == "histogram" ? [family + "_bucket", family + "_sum", family + "_count"] : [family]
            guard allowed.contains(sample.name) else { throw Malformed(line: line, reason: "sample outside its family") }
            let key = sample.name + sample.labels.sorted { $0.key < $1.key }.description
            guard seriesSeen.insert(key).inserted else { throw Malformed(line: line, reason: "duplicate series") }
            samples.append(sample)
        }
    }

    static func parseSample(_ line: String) throws -> ParsedSample {
        let scalars = Array(line.unicodeScalars)
        var index = 0
        var name = ""
        while index < scalars.count, scalars[index] != "{", scalars[index] != " " {
            name.unicodeScalars.append(scalars[index]); index += 1
        }
        guard PrometheusTextWriter.isValidMetricName(name) else { throw Malformed(line: line, reason: "bad metric name") }
        var labels: [String: String] = [:]
        if index < scalars.count, scalars[index] == "{" {
            index += 1
            while index < scalars.count, scalars[index] != "}" {
                var label = ""
                while index < scalars.count, scalars[index] != "=" { label.unicodeScalars.append(scalars[index]); index += 1 }
                guard PrometheusTextWriter.isValidLabelName(label) || label == "le" else { throw Malformed(line: line, reason: "bad label name") }
                index += 1
                guard index < scalars.count, scalars[index] == "\"" else { throw Malformed(line: line, reason: "label value not quoted") }
                index += 1
                var value = ""
                while true {
                    guard index < scalars.count else { throw Malformed(line: line, reason: "unterminated label value") }
                    let scalar = scalars[index]
                    if scalar == "\"" { index += 1; break }
                    if scalar == "\\" {
                        guard index + 1 < scalars.count else { throw Malformed(line: line, reason: "dangling escape") }
                        switch scalars[index + 1] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw Malformed(line: line, reason: "unknown escape")
                        }
                        index += 2
                        continue
                    }
                    value.unicodeScalars.append(scalar); index += 1
                }
                guard labels[label] == nil else { throw Malformed(line: line, reason: "repeated label") }
                labels[label] = value
                if index < scalars.count, scalars[index] == "," { index += 1 }
            }
            guard index < scalars.count else { throw Malformed(line: line, reason: "unterminated labels") }
            index += 1
        }
        guard index < scalars.count, scalars[index] == " " else { throw Malformed(line: line, reason: "no value") }
        var valueText = ""
        for scalar in scalars[(index + 1)...] { valueText.unicodeScalars.append(scalar) }
        let value: Double
        switch valueText {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let parsed = Double(valueText), !valueText.contains(" ") else { throw Malformed(line: line, reason: "bad value") }
            value = parsed
        }
        return ParsedSample(name: name, labels: labels, value: value)
    }

    static func unescape(_ text: String, quotes: Bool) -> String {
        var out = ""
        var escaping = false
        for scalar in text.unicodeScalars {
            if escaping {
                switch scalar {
                case "n": out += "\n"
                default: out.unicodeScalars.append(scalar)
                }
                escaping = false
            } else if scalar == "\\" {
                escaping = true
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}

final class MetricsTests: XCTestCase {
    func testRenderIsExactTextFormat() throws {
        let registry = MetricsRegistry()
        let requests = try registry.counter("http_requests_total", help: "HTTP requests served.", labelNames: ["method", "status"])
        try requests.labels("POST", "201").increment(by: 2)
        try requests.labels("GET", "200").increment()
        let open = try registry.gauge("http_connections_open", help: "Open connections.\nLine two \\ backslash.")
        open.set(3)
        open.decrement()
        let latency = try registry.histogram("db_query_seconds", help: "Query latency.", buckets: [0.01, 0.1, 1])
        latency.observe(0.005)
        latency.observe(0.1)
        latency.observe(3)
        XCTAssertEqual(registry.render(), """
            # HELP http_requests_total HTTP requests served.
            # TYPE http_requests_total counter
            http_requests_total{method="GET",status="200"} 1
            http_requests_total{method="POST",status="201"} 2
            # HELP http_connections_open Open connections.\\nLine two \\\\ backslash.
            # TYPE http_connections_open gauge
            http_connections_open 2
            # HELP db_query_seconds Query latency.
            # TYPE db_query_seconds histogram
            db_query_seconds_bucket{le="0.01"} 1
            db_query_seconds_bucket{le="0.1"} 2
            db_query_seconds_bucket{le="1"} 2
            db_query_seconds_bucket{le="+Inf"} 3
            db_query_seconds_sum 3.105
            db_query_seconds_count 3

            """)
        XCTAssertEqual(MetricsRegistry.contentType, "text/plain; version=0.0.4; charset=utf-8")
    }

    func testLabelValuesAreEscapedAndParseBack() throws {
        let registry = MetricsRegistry()
        let family = try registry.counter("odd_total", help: "Odd labels.", labelNames: ["path"])
        let values = ["a\"b", "back\\slash", "new\nline", "中文 ✓", "", "}{,= "]
        for (index, value) in values.enumerated() { try family.labels(value).increment(by: Double(index + 1)) }
        let parsed = try ExpositionParser(registry.render())
        XCTAssertEqual(parsed.helps["odd_total"], "Odd labels.")
        XCTAssertEqual(parsed.types["odd_total"], "counter")
        for (index, value) in values.enumerated() {
            XCTAssertEqual(parsed.value("odd_total", ["path": value]), Double(index + 1), value)
        }
        XCTAssertEqual(parsed.samples.count, values.count)
        XCTAssertEqual(registry.render().split(separator: "\n").count, values.count + 2, "a newline in a value never splits a line")
    }

    func testDefaultHistogramBucketsRenderEveryBoundInOrder() throws {
        let registry = MetricsRegistry()
        let family = try registry.histogram("http_request_duration_seconds", help: "Latency.", labelNames: ["route"])
        let histogram = try family.labels("/segments:estimate")
        for value in [0.0005, 0.001, 0.003, 0.02, 0.02, 0.7, 9.9, 10, 11, 1_000] { histogram.observe(value) }
        let parsed = try ExpositionParser(registry.render())
        let buckets = parsed.samples.filter { $0.name == "http_request_duration_seconds_bucket" }
        XCTAssertEqual(buckets.map { $0.labels["le"]! },
                       ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"])
        XCTAssertTrue(buckets.allSatisfy { $0.labels["route"] == "/segments:estimate" })
        XCTAssertEqual(buckets.map(\.value), [2, 2, 3, 3, 5, 5, 5, 5, 5, 6, 6, 6, 8, 10])
        for (previous, next) in zip(buckets, buckets.dropFirst()) {
            XCTAssertLessThanOrEqual(previous.value, next.value, "buckets are cumulative")
        }
        XCTAssertEqual(parsed.value("http_request_duration_seconds_count", ["route": "/segments:estimate"]), 10)
        XCTAssertEqual(parsed.value("http_request_duration_seconds_sum", ["route": "/segments:estimate"])!, 1_031.6445, accuracy: 1e-9)
    }

    func testHistogramCumulativeSnapshotAndBoundaries() throws {
        let registry = MetricsRegistry()
        let histogram = try registry.histogram("sizes", help: "Sizes.", buckets: [1, 2, 4, .infinity])
        XCTAssertEqual(histogram.upperBounds, [1, 2, 4], "a trailing +Inf is implied")
        for value in [-5, 0, 1, 1.0000001, 2, 4, 4.5, .infinity] { histogram.observe(value) }
        histogram.observe(.nan)  // ignored
        let snapshot = histogram.snapshot
        XCTAssertEqual(snapshot.upperBounds, [1, 2, 4, .infinity])
        XCTAssertEqual(snapshot.cumulativeCounts, [3, 5, 6, 8], "a value equal to a bound counts in that bucket")
        XCTAssertEqual(snapshot.count, 8)
        XCTAssertEqual(snapshot.sum, .infinity)
        let empty = try registry.histogram("empty", help: "No bounds.", buckets: [])
        empty.observe(1)
        XCTAssertEqual(empty.snapshot.cumulativeCounts, [1])
    }

    func testTimingHelpers() throws {
        let registry = MetricsRegistry()
        let histogram = try registry.histogram("work_seconds", help: "Work.")
        let result = histogram.time { () -> Int in usleep(20_000); return 7 }
        XCTAssertEqual(result, 7)
        histogram.observeElapsed(since: DispatchTime.now())
        let snapshot = histogram.snapshot
        XCTAssertEqual(snapshot.count, 2)
        XCTAssertGreaterThanOrEqual(snapshot.sum, 0.02)
        XCTAssertLessThan(snapshot.sum, 5)
        struct Boom: Error {}
        XCTAssertThrowsError(try histogram.time { throw Boom() })
        XCTAssertEqual(histogram.snapshot.count, 3, "a failed call is timed too")
    }

    func testConcurrentRecordingSumsExactly() throws {
        let registry = MetricsRegistry()
        let total = try registry.counter("events_total", help: "Events.")
        let family = try registry.counter("events_by_kind_total", help: "Events by kind.", labelNames: ["kind"])
        let gauge = try registry.gauge("in_flight", help: "In flight.")
        let histogram = try registry.histogram("latency_seconds", help: "Latency.", buckets: [0.5])
        let threads = 8, perThread = 20_000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            // Looked up once per thread, as callers should; half the threads share a child.
            let child = try! family.labels(thread % 2 == 0 ? "even" : "odd")
            for index in 0..<perThread {
                total.increment()
                child.increment()
                gauge.increment()
                histogram.observe(index % 2 == 0 ? 0.25 : 1)
                gauge.decrement()
                if index % 5_000 == 0 { _ = registry.render() }  // scraping during recording is safe
            }
        }
        XCTAssertEqual(total.value, Double(threads * perThread))
        XCTAssertEqual(try family.labels("even").value, Double(threads / 2 * perThread))
        XCTAssertEqual(try family.labels("odd").value, Double(threads / 2 * perThread))
        XCTAssertEqual(gauge.value, 0)
        let snapshot = histogram.snapshot
        XCTAssertEqual(snapshot.count, UInt64(threads * perThread))
        XCTAssertEqual(snapshot.cumulativeCounts, [UInt64(threads * perThread / 2), UInt64(threads * perThread)])
        XCTAssertEqual(snapshot.sum, Double(threads * perThread / 2) * 1.25)
        let parsed = try ExpositionParser(registry.render())
        XCTAssertEqual(parsed.value("events_total"), Double(threads * perThread))
    }

    func testConcurrentFirstLookupCreatesOneChild() throws {
        let registry = MetricsRegistry()
        let family = try registry.counter("race_total", help: "Race.", labelNames: ["k"])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for index in 0..<1_000 { try! family.labels("k\(index % 10)").increment() }
        }
        let parsed = try ExpositionParser(registry.render())
        XCTAssertEqual(parsed.samples.count, 10)
        XCTAssertTrue(parsed.samples.allSatisfy { $0.value == 800 })
    }

    func testCountersOnlyGoUp() throws {
        let counter = try MetricsRegistry().counter("c_total", help: "C.")
        counter.increment(by: 2.5)
        counter.increment(by: -1)
        counter.increment(by: .nan)
        counter.increment(by: .infinity)
        counter.increment(by: 3)
        XCTAssertEqual(counter.value, 5.5)
    }

    func testComputedMetricsAreReadAtScrapeTime() throws {
        let registry = MetricsRegistry()
        let depth = LockedValue(4)
        try registry.gauge("queue_depth", help: "Jobs waiting.") { depth.value }
        try registry.gauge("pool_connections", help: "Pool connections.", labelNames: ["state"]) {
            [LabelledSample(labelValues: ["idle"], value: 2), LabelledSample(labelValues: ["busy"], value: 1),
             LabelledSample(labelValues: ["busy"], value: 9),          // duplicate series: skipped
             LabelledSample(labelValues: ["a", "b"], value: 5)]        // wrong label count: skipped
        }
        try registry.counter("relay_deliveries_total", help: "Deliveries.") { [LabelledSample(labelValues: [], value: 12)] }
        XCTAssertEqual(try ExpositionParser(registry.render()).value("queue_depth"), 4)
        depth.value = 9
        let parsed = try ExpositionParser(registry.render())
        XCTAssertEqual(parsed.value("queue_depth"), 9)
        XCTAssertEqual(parsed.value("pool_connections", ["state": "idle"]), 2)
        XCTAssertEqual(parsed.value("pool_connections", ["state": "busy"]), 1)
        XCTAssertEqual(parsed.samples.filter { $0.name == "pool_connections" }.count, 2)
        XCTAssertEqual(parsed.types["relay_deliveries_total"], "counter")
        XCTAssertEqual(parsed.value("relay_deliveries_total"), 12)
        XCTAssertThrowsError(try registry.gauge("queue_depth", help: "Jobs waiting.") { 0 }) {
            XCTAssertEqual($0 as? MetricsError, .conflictingRegistration("queue_depth"))
        }
    }

    func testSpecialValues() {
        XCTAssertEqual(PrometheusTextWriter.formatValue(.nan), "NaN")
        XCTAssertEqual(PrometheusTextWriter.formatValue(.infinity), "+Inf")
        XCTAssertEqual(PrometheusTextWriter.formatValue(-.infinity), "-Inf")
        XCTAssertEqual(PrometheusTextWriter.formatValue(-0.0), "0")
        XCTAssertEqual(PrometheusTextWriter.formatValue(42), "42")
        XCTAssertEqual(PrometheusTextWriter.formatValue(-7), "-7")
        XCTAssertEqual(PrometheusTextWriter.formatValue(0.25), "0.25")
        XCTAssertEqual(PrometheusTextWriter.formatValue(1e-5), "1e-05")
        XCTAssertEqual(Double(PrometheusTextWriter.formatValue(1e20)), 1e20)
    }

    // MARK: Registration rules

    func testInvalidNamesAreRejected() {
        let registry = MetricsRegistry()
        for name in ["", "1abc", "with-dash", "with space", "é", "a.b"] {
            XCTAssertThrowsError(try registry.counter(name, help: "x")) { XCTAssertEqual($0 as? MetricsError, .invalidMetricName(name)) }
        }
        XCTAssertNoThrow(try registry.counter("ns:sub_metric_total", help: "colons are allowed in metric names"))
        for label in ["", "1x", "a-b", "__reserved", "a:b"] {
            XCTAssertThrowsError(try registry.counter("bad_label_total", help: "x", labelNames: [label])) {
                XCTAssertEqual($0 as? MetricsError, .invalidLabelName(metric: "bad_label_total", label: label))
            }
        }
        XCTAssertThrowsError(try registry.counter("dup_label_total", help: "x", labelNames: ["a", "a"]))
        XCTAssertThrowsError(try registry.histogram("h", help: "x", labelNames: ["le"])) {
            XCTAssertEqual($0 as? MetricsError, .invalidLabelName(metric: "h", label: "le"))
        }
        XCTAssertNoThrow(try registry.counter("le_ok_total", help: "le is only reserved for histograms", labelNames: ["le"]))
        for buckets: [Double] in [[2, 1], [1, 1], [.nan], [-.infinity, 1], [1, .infinity, 2]] {
            XCTAssertThrowsError(try registry.histogram("h_\(abs(buckets.count))", help: "x", buckets: buckets)) {
                XCTAssertTrue(($0 as? MetricsError).map { if case .invalidBuckets = $0 { true } else { false } } ?? false)
            }
        }
        XCTAssertTrue(registry.render().contains("le_ok_total"))
        XCTAssertFalse(registry.render().contains("bad_label_total"), "a failed registration leaves nothing behind")
    }

    func testRegistrationIsIdempotentOnlyWhenIdentical() throws {
        let registry = MetricsRegistry()
        let first = try registry.counter("jobs_total", help: "Jobs.")
        XCTAssertTrue(first === (try registry.counter("jobs_total", help: "Jobs.")), "same registration, same counter")
        let family = try registry.histogram("lat", help: "L.", labelNames: ["r"], buckets: [1, 2])
        XCTAssertTrue(family === (try registry.histogram("lat", help: "L.", labelNames: ["r"], buckets: [1, 2])))
        let conflicts: [() throws -> Void] = [
            { _ = try registry.gauge("jobs_total", help: "Jobs.") },
            { _ = try registry.counter("jobs_total", help: "Other help.") },
            { _ = try registry.counter("jobs_total", help: "Jobs.", labelNames: ["k"]) },
            { _ = try registry.histogram("lat", help: "L.", labelNames: ["r"], buckets: [1, 3]) },
            { _ = try registry.histogram("lat", help: "L.", buckets: [1, 2]) },
            // A histogram's series names are taken too, in both directions.
            { _ = try registry.counter("lat_count", help: "x") },
            { _ = try registry.gauge("lat_bucket", help: "x") },
            { _ = try registry.histogram("jobs", help: "x") },  // would not clash...
            { _ = try registry.histogram("jobs_total", help: "x") },
        ]
        var failures = 0
        for register in conflicts {
            do { try register() } catch let error as MetricsError {
                if case .conflictingRegistration = error { failures += 1 }
            }
        }
        XCTAssertEqual(failures, conflicts.count - 1, "every conflicting registration fails, the one legitimate succeeds")
        _ = try registry.gauge("summary_sum", help: "x")
        XCTAssertThrowsError(try registry.histogram("summary", help: "x")) {
            XCTAssertEqual($0 as? MetricsError, .conflictingRegistration("summary"))
        }
        XCTAssertNoThrow(try ExpositionParser(registry.render()))
    }

    func testLabelCountAndSeriesLimits() throws {
        let registry = MetricsRegistry(maximumSeriesPerMetric: 3)
        let family = try registry.gauge("per_user", help: "Unbounded on purpose.", labelNames: ["user", "org"])
        XCTAssertThrowsError(try family.labels("only-one")) {
            XCTAssertEqual($0 as? MetricsError, .labelCountMismatch(metric: "per_user", expected: 2, got: 1))
        }
        XCTAssertThrowsError(try family.labels(["a", "b", "c"]))
        for user in ["u1", "u2", "u3"] { try family.labels(user, "o").set(1) }
        XCTAssertThrowsError(try family.labels("u4", "o")) {
            XCTAssertEqual($0 as? MetricsError, .tooManySeries(metric: "per_user", limit: 3))
        }
        XCTAssertNoThrow(try family.labels("u1", "o"), "existing series remain reachable at the limit")
        XCTAssertEqual(try ExpositionParser(registry.render()).samples.count, 3)
    }

    func testEmptyLabelledMetricRendersOnlyItsHeader() throws {
        let registry = MetricsRegistry()
        _ = try registry.counter("nothing_yet_total", help: "Nothing.", labelNames: ["a"])
        XCTAssertEqual(registry.render(), "# HELP nothing_yet_total Nothing.\n# TYPE nothing_yet_total counter\n")
        XCTAssertEqual(MetricsRegistry().render(), "")
    }

    func testProcessMetrics() throws {
        let registry = MetricsRegistry()
        try registry.registerProcessMetrics()
        let parsed = try ExpositionParser(registry.render())
        XCTAssertGreaterThan(try XCTUnwrap(parsed.value("process_resident_memory_bytes")), 1_000_000)
        XCTAssertGreaterThan(try XCTUnwrap(parsed.value("process_virtual_memory_bytes")), 1_000_000)
        XCTAssertGreaterThan(try XCTUnwrap(parsed.value("process_open_fds")), 2)
        XCTAssertGreaterThan(try XCTUnwrap(parsed.value("process_max_fds")), 0)
        XCTAssertGreaterThan(try XCTUnwrap(parsed.value("process_cpu_seconds_total")), 0)
        let start = try XCTUnwrap(parsed.value("process_start_time_seconds"))
        XCTAssertLessThanOrEqual(start, Date().timeIntervalSince1970 + 1)
        XCTAssertGreaterThan(start, Date().timeIntervalSince1970 - 86_400 * 365)
        XCTAssertThrowsError(try registry.registerProcessMetrics(), "registering twice is a conflict")
    }

    func testProcStatParsingSurvivesOddCommandNames() throws {
        // Field 2 is the command in parentheses; it may contain spaces and ")".
        let stat = "1234 (we ird) name) S 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 500 104857600 2560 18446744073709551615"
        let parsed = try XCTUnwrap(ProcessStatistics.parse(stat: stat, bootTime: 1_000, ticksPerSecond: 100, pageSize: 4_096))
        XCTAssertEqual(parsed.cpuSeconds, 3)
        XCTAssertEqual(parsed.startTimeSeconds, 1_005)
        XCTAssertEqual(parsed.virtualBytes, 104_857_600)
        XCTAssertEqual(parsed.residentBytes, 2_560 * 4_096)
        XCTAssertNil(ProcessStatistics.parse(stat: "garbage", bootTime: nil, ticksPerSecond: 100, pageSize: 4_096))
        let short = try XCTUnwrap(ProcessStatistics.parse(stat: "1 (x) S 1", bootTime: nil, ticksPerSecond: 100, pageSize: 4_096))
        XCTAssertNil(short.cpuSeconds)
    }
}

/// A value shared with a computed metric's closure. Thread-safety: all mutable state is guarded by `lock`.
private final class LockedValue: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Double
    init(_ value: Double) { stored = value }
    var value: Double {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
