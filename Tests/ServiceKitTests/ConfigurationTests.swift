import Foundation
import XCTest
@testable import ServiceKit

final class ConfigurationTests: XCTestCase {
    private func reader(_ environment: [String: String]) -> ConfigReader {
        ConfigReader(environment: environment)
    }

    /// The error a throwing read produces, failing the test if it produces none.
    private func error<T>(_ read: () throws(ConfigError) -> T, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        do {
            let value = try read()
            XCTFail("expected a ConfigError, got \(value)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Integers and the message format

    func testIntegerInRange() throws {
        XCTAssertEqual(try reader(["LATTICE_PORT": "8080"]).int("LATTICE_PORT", in: 1...65535), 8080)
        XCTAssertEqual(try reader(["LATTICE_PORT": " 8080\n"]).int("LATTICE_PORT", in: 1...65535), 8080, "surrounding whitespace is trimmed")
    }

    func testMalformedIntegerNamesVariableAndExpectation() {
        let failure = error { () throws(ConfigError) in try reader(["LATTICE_PORT": "abc"]).int("LATTICE_PORT", in: 1...65535) }
        XCTAssertEqual(failure?.description, #"LATTICE_PORT: expected an integer 1–65535, got "abc""#)
        XCTAssertEqual(failure?.variable, "LATTICE_PORT")
        XCTAssertEqual(failure?.problem, .malformed(shown: #""abc""#))
    }

    func testIntegerOutOfRangeAndOverflow() {
        XCTAssertEqual(error { () throws(ConfigError) in try reader(["P": "0"]).int("P", in: 1...65535) }?.description,
                       #"P: expected an integer 1–65535, got "0""#)
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["P": "65536"]).int("P", in: 1...65535) })
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["P": "99999999999999999999999"]).int("P") })
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["P": "1.5"]).int("P") })
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["P": "0x10"]).int("P") })
        XCTAssertEqual(error { () throws(ConfigError) in try reader(["P": "-1"]).int("P", in: 0...Int.max) }?.expected, "an integer ≥ 0")
        XCTAssertEqual(error { () throws(ConfigError) in try reader(["P": "x"]).int("P") }?.expected, "an integer")
    }

    func testMissingRequiredVariable() {
        let failure = error { () throws(ConfigError) in try reader([:]).int("LATTICE_PORT", in: 1...65535) }
        XCTAssertEqual(failure?.problem, .missing)
        XCTAssertEqual(failure?.description, "LATTICE_PORT: expected an integer 1–65535, but it is not set")
        XCTAssertEqual(error { () throws(ConfigError) in try reader(["NAME": "   "]).string("NAME") }?.problem, .missing,
                       "a blank value counts as unset")
    }

    func testDefaultsAndOptionals() throws {
        let config = reader(["EMPTY": "", "SET": "7"])
        XCTAssertEqual(try config.int("UNSET", in: 1...10, default: 3), 3)
        XCTAssertEqual(try config.int("EMPTY", in: 1...10, default: 3), 3)
        XCTAssertEqual(try config.int("SET", in: 1...10, default: 3), 7)
        XCTAssertNil(try config.optionalInt("UNSET"))
        XCTAssertEqual(try config.optionalInt("SET"), 7)
        XCTAssertNil(try config.optionalString("EMPTY"))
        XCTAssertEqual(try config.string("UNSET", default: "x"), "x")
        // A default never hides a malformed value.
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["SET": "seven"]).int("SET", default: 3) })
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["SET": "seven"]).optionalInt("SET") })
    }

    func testRejectedValueIsQuotedEscapedAndTruncated() {
        let failure = error { () throws(ConfigError) in try reader(["N": "1\n\"x\"\u{1B}[31m"]).int("N") }
        XCTAssertEqual(failure?.description, #"N: expected an integer, got "1\n\"x\"\u{1b}[31m""#)
        XCTAssertFalse(failure?.description.contains("\n") ?? true, "a value cannot add lines to the message")
        let long = error { () throws(ConfigError) in try reader(["N": String(repeating: "a", count: 500)]).int("N") }
        XCTAssertEqual(long?.description, "N: expected an integer, got \"" + String(repeating: "a", count: 80) + "…\"")
    }

    // MARK: Other types

    func testBooleans() throws {
        for (text, expected) in [("true", true), ("TRUE", true), ("1", true), ("yes", true), ("Yes", true),
                                 ("false", false), ("0", false), ("no", false), ("NO", false)] {
            XCTAssertEqual(try reader(["B": text]).bool("B"), expected, text)
        }
        XCTAssertEqual(error { () throws(ConfigError) in try reader(["B": "maybe"]).bool("B") }?.description,
                       #"B: expected true/false, 1/0 or yes/no, got "maybe""#)
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["B": "2"]).bool("B", default: true) })
        XCTAssertEqual(try reader([:]).bool("B", default: true), true)
    }

    func testDurations() throws {
        let cases: [(String, TimeInterval)] = [("30s", 30), ("10m", 600), ("2h", 7_200), ("7d", 604_800), ("500ms", 0.5),
                                               ("1h30m", 5_400), ("1.5h", 5_400), ("0s", 0), ("1m30s", 90)]
        for (text, seconds) in cases {
            XCTAssertEqual(try reader(["D": text]).duration("D"), seconds, accuracy: 1e-9, text)
        }
        for bad in ["30", "s", "-5s", "5x", "5 s", "1e3s", "1..5s", ".s", "5sm", "ms5", "1.2.3s"] {
            XCTAssertNotNil(error { () throws(ConfigError) in try reader(["D": bad]).duration("D") }, bad)
        }
        let outOfRange = error { () throws(ConfigError) in try reader(["D": "2d"]).duration("D", in: 1...86_400) }
        XCTAssertEqual(outOfRange?.description,
                       #"D: expected a duration such as 500ms, 30s, 10m, 2h or 7d, between 1s and 1d, got "2d""#)
        XCTAssertEqual(try reader([:]).duration("D", default: 5), 5)
        XCTAssertNil(try reader([:]).optionalDuration("D"))
        XCTAssertNotNil(error { () throws(ConfigError) in
            try reader(["D": String(repeating: "9", count: 400) + "d"]).duration("D")
        }, "an absurd number is rejected, not turned into infinity")
    }

    func testFormatDuration() {
        XCTAssertEqual(ConfigParsers.formatDuration(0.5), "500ms")
        XCTAssertEqual(ConfigParsers.formatDuration(90), "90s")
        XCTAssertEqual(ConfigParsers.formatDuration(600), "10m")
        XCTAssertEqual(ConfigParsers.formatDuration(7_200), "2h")
        XCTAssertEqual(ConfigParsers.formatDuration(604_800), "7d")
        XCTAssertEqual(ConfigParsers.formatDuration(0), "0s")
    }

    func testURLs() throws {
        let url = try reader(["U": "https://segment.internal:8443/v1"]).url("U", schemes: ["http", "https"])
        XCTAssertEqual(url.host, "segment.internal")
        XCTAssertEqual(url.port, 8443)
        XCTAssertNotNil(try reader(["U": "postgresql:///lattice?host=/run/pg"]).url("U", schemes: ["postgres", "postgresql"], requireHost: false))
        XCTAssertEqual(error { () throws(ConfigError) in try reader(["U": "ftp://h/x"]).url("U", schemes: ["http", "https"]) }?.expected,
                       "an absolute URL with scheme http or https and a host")
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["U": "not a url"]).url("U") })
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["U": "/relative/path"]).url("U") })
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["U": "http:///nohost"]).url("U") })
        XCTAssertNil(try reader([:]).optionalURL("U"))
    }

    func testCredentialsNeverAppearInMessages() {
        let url = error { () throws(ConfigError) in
            try reader(["DATABASE_URL": "mysql://admin:hunter2@db.bank.example/lattice"]).url("DATABASE_URL", schemes: ["postgres"])
        }
        XCTAssertEqual(url?.description, #"DATABASE_URL: expected an absolute URL with scheme postgres and a host, got "mysql://***@db.bank.example/lattice""#)
        let slashy = error { () throws(ConfigError) in
            try reader(["U": "ftp://u:pa/ss@h/x"]).url("U", schemes: ["http"])
        }
        XCTAssertFalse(slashy?.description.contains("pa/ss") ?? true)
        let secret = error { () throws(ConfigError) in
            try reader(["LATTICE_INTERNAL_SECRET": "short-secret"]).secret("LATTICE_INTERNAL_SECRET", minimumLength: 32)
        }
        XCTAssertEqual(secret?.description, "LATTICE_INTERNAL_SECRET: expected a secret of at least 32 characters, got a value of 12 characters")
        XCTAssertEqual(try reader(["S": String(repeating: "k", count: 32) + "\n"]).secret("S", minimumLength: 32).count, 32)
    }

    func testLists() throws {
        XCTAssertEqual(try reader(["L": " a, b,,c ,"]).list("L"), ["a", "b", "c"])
        XCTAssertEqual(try reader([:]).list("L", default: ["x"]), ["x"])
        XCTAssertNotNil(error { () throws(ConfigError) in try reader(["L": " , ,"]).list("L") }, "a list of nothing is not a list")
        XCTAssertEqual(try reader(["L": "1, 2,3"]).required("L", .list(of: .integer(in: 1...5))), [1, 2, 3])
        let bad = error { () throws(ConfigError) in try reader(["L": "1,9"]).required("L", .list(of: .integer(in: 1...5))) }
        XCTAssertEqual(bad?.expected, #"a list separated by "," of an integer 1–5"#)
        let urls = try reader(["L": "http://a:1,http://b:2"]).required("L", .list(of: .url()))
        XCTAssertEqual(urls.map(\.host), ["a", "b"])
    }

    func testAllowedValuesAndEnums() throws {
        XCTAssertEqual(try reader(["M": "Live"]).oneOf("M", ["dry-run", "live"]), "live", "matched without case, returned as spelled")
        XCTAssertEqual(error { () throws(ConfigError) in try reader(["M": "test"]).oneOf("M", ["dry-run", "live"]) }?.description,
                       #"M: expected one of dry-run, live, got "test""#)
        XCTAssertEqual(try reader([:]).oneOf("M", ["a", "b"], default: "b"), "b")
        XCTAssertEqual(try reader(["LATTICE_LOG_LEVEL": "WARNING"]).choice("LATTICE_LOG_LEVEL", as: LogLevel.self), .warning)
        XCTAssertEqual(try reader([:]).choice("LATTICE_LOG_LEVEL", default: LogLevel.debug), .debug)
        XCTAssertEqual(error { () throws(ConfigError) in try reader(["L": "loud"]).choice("L", as: LogLevel.self) }?.expected,
                       "one of trace, debug, info, warning, error")
    }

    func testCustomParser() throws {
        let evenNumber = ConfigParser<Int>(expected: "an even number", placeholder: { 0 }) { text in
            Int(text).flatMap { $0 % 2 == 0 ? $0 : nil }
        }
        XCTAssertEqual(try reader(["E": "4"]).required("E", evenNumber), 4)
        XCTAssertEqual(error { () throws(ConfigError) in try reader(["E": "3"]).required("E", evenNumber) }?.description,
                       #"E: expected an even number, got "3""#)
    }

    func testReadsTheProcessEnvironmentByDefault() throws {
        let path = try XCTUnwrap(ProcessInfo.processInfo.environment["PATH"])
        XCTAssertEqual(try ConfigReader().string("PATH"), path.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: Accumulating every problem

    func testAccumulatingReaderReportsEveryProblemAtOnce() throws {
        let config = reader(["LATTICE_PORT": "abc", "LATTICE_TIMEOUT": "soon", "LATTICE_NAME": "segment"]).accumulatingErrors()
        XCTAssertTrue(config.isAccumulating)
        let port = try config.int("LATTICE_PORT", in: 1...65535)
        let timeout = try config.duration("LATTICE_TIMEOUT")
        let url = try config.url("DATABASE_URL")
        let name = try config.string("LATTICE_NAME")
        _ = try config.int("LATTICE_PORT", in: 1...65535)  // read twice, reported once
        XCTAssertEqual(port, 1, "a placeholder is returned so that reading goes on")
        XCTAssertEqual(timeout, 0)
        XCTAssertEqual(url, URL(fileURLWithPath: "/"))
        XCTAssertEqual(name, "segment")
        XCTAssertThrowsError(try config.validate()) { error in
            guard let errors = error as? ConfigErrors else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(errors.errors.map(\.variable), ["LATTICE_PORT", "LATTICE_TIMEOUT", "DATABASE_URL"])
            XCTAssertEqual(errors.description, """
                LATTICE_PORT: expected an integer 1–65535, got "abc"
                LATTICE_TIMEOUT: expected a duration such as 500ms, 30s, 10m, 2h or 7d, between 0s and \(ConfigParsers.formatDuration(TimeInterval(Int32.max))), got "soon"
                DATABASE_URL: expected an absolute URL and a host, but it is not set
                """)
        }
    }

    func testAccumulatingReaderWithoutProblemsValidates() throws {
        let config = reader(["A": "1"]).accumulatingErrors()
        XCTAssertEqual(try config.int("A"), 1)
        XCTAssertNoThrow(try config.validate())
        XCTAssertTrue(config.recordedErrors.isEmpty)
        XCTAssertNoThrow(try reader([:]).validate(), "a throwing reader has nothing left to report")
    }

    private struct Settings {
        let port: Int
        let database: URL
        let logLevel: LogLevel
        init(config: ConfigReader) throws {
            port = try config.int("LATTICE_PORT", in: 1...65535, default: 8080)
            database = try config.url("DATABASE_URL", schemes: ["postgres", "postgresql"])
            logLevel = try LogLevel.configured(by: config)
        }
    }

    func testLoadConfigurationCollectsAllProblems() throws {
        let good = loadConfiguration(environment: ["DATABASE_URL": "postgres://db/lattice"]) { try Settings(config: $0) }
        let settings = try good.get()
        XCTAssertEqual(settings.port, 8080)
        XCTAssertEqual(settings.logLevel, .info)

        let bad = loadConfiguration(environment: ["LATTICE_PORT": "70000", "LATTICE_LOG_LEVEL": "loud"]) { try Settings(config: $0) }
        guard case .failure(let error) = bad, let errors = error as? ConfigErrors else { return XCTFail("expected ConfigErrors, got \(bad)") }
        XCTAssertEqual(errors.errors.map(\.variable), ["LATTICE_PORT", "DATABASE_URL", "LATTICE_LOG_LEVEL"])
        XCTAssertEqual(ConfigurationFailure.message(service: "segment", error: errors), """
            segment: 3 configuration errors:
              LATTICE_PORT: expected an integer 1–65535, got "70000"
              DATABASE_URL: expected an absolute URL with scheme postgres or postgresql and a host, but it is not set
              LATTICE_LOG_LEVEL: expected one of trace, debug, info, warning, error, got "loud"

            """)
    }

    func testLoadConfigurationReportsTheLoadersOwnChecks() {
        struct Inconsistent: Error, CustomStringConvertible { var description: String { "pool minimum above maximum" } }
        let derived = loadConfiguration(environment: [:]) { _ -> Int in throw Inconsistent() }
        guard case .failure(let error) = derived else { return XCTFail("expected a failure") }
        XCTAssertEqual(ConfigurationFailure.message(service: "canvas", error: error),
                       "canvas: configuration error:\n  pool minimum above maximum\n")

        let cross = loadConfiguration(environment: ["A": "x"]) { config -> Int in
            _ = try config.int("A")
            throw ConfigError(variable: "B", expected: "a value when A is set", problem: .missing)
        }
        guard case .failure(let both) = cross, let errors = both as? ConfigErrors else { return XCTFail("expected ConfigErrors") }
        XCTAssertEqual(errors.errors.map(\.variable), ["A", "B"])
        XCTAssertEqual(ConfigurationFailure.exitCode, 78)
    }

    // MARK: Exiting with status 78

    /// Runs in a child process started by `testStartUpFailureExitsWithStatus78`; does nothing otherwise.
    func testStartUpFailureChild() {
        guard ProcessInfo.processInfo.environment["LATTICE_TEST_CONFIG_EXIT_CHILD"] == "1" else { return }
        let settings = loadConfigurationOrExit(service: "segment", environment: ["LATTICE_PORT": "abc"]) { config in
            (try config.int("LATTICE_PORT", in: 1...65535), try config.string("DATABASE_URL"))
        }
        XCTFail("loadConfigurationOrExit returned \(settings) instead of exiting")
    }

    func testStartUpFailureExitsWithStatus78() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0])
        child.arguments = ["ServiceKitTests.ConfigurationTests/testStartUpFailureChild"]
        child.environment = ProcessInfo.processInfo.environment.merging(["LATTICE_TEST_CONFIG_EXIT_CHILD": "1"]) { $1 }
        let errorPipe = Pipe()
        child.standardError = errorPipe
        child.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try child.run()
        let stderr = String(decoding: errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        XCTAssertEqual(child.terminationReason, .exit)
        XCTAssertEqual(child.terminationStatus, 78, stderr)
        XCTAssertTrue(stderr.contains("""
            segment: 2 configuration errors:
              LATTICE_PORT: expected an integer 1–65535, got "abc"
              DATABASE_URL: expected a non-empty value, but it is not set

            """), stderr)
    }
}
