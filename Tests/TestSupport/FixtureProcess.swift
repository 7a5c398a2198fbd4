import Foundation

/// A test fixture or service executable started as a real process, with its output captured.
///
/// Fixtures are built by `swift build --build-tests` (scripts/test does this) next to the test bundle.
public final class FixtureProcess: @unchecked Sendable {
    // Thread-safety: `output` is appended by the pipe's handler and read by the test under `lock`.
    public let process = Process()
    private let lock = NSLock()
    private var stdoutText = ""
    private var stderrText = ""

    /// The directory holding the test bundle and the fixture executables.
    public static var productsDirectory: URL {
        let candidates = [Bundle.main.bundleURL, Bundle(for: FixtureProcess.self).bundleURL]
        for c in candidates {
            var url = c
            while url.pathComponents.count > 1 {
                if url.lastPathComponent.hasSuffix(".xctest") { return url.deletingLastPathComponent() }
                url = url.deletingLastPathComponent()
            }
        }
        return Bundle.main.bundleURL
    }

    public static func executable(_ name: String) throws -> URL {
        let url = productsDirectory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw TestSetupFailure("fixture \(name) not found at \(url.path): build with `swift build --build-tests` (scripts/test does)")
        }
        return url
    }

    public init(_ name: String, environment: [String: String]) throws {
        process.executableURL = try Self.executable(name)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        out.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.stdoutText += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.stderrText += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    public var standardOutput: String { lock.lock(); defer { lock.unlock() }; return stdoutText }
    public var standardError: String { lock.lock(); defer { lock.unlock() }; return stderrText }

    /// Waits until standard output contains `text`; false on timeout or exit.
    public func waitForOutput(_ text: String, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if standardOutput.contains(text) { return true }
            if !process.isRunning { return standardOutput.contains(text) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Waits for the process to exit; its status, or nil on timeout.
    public func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return process.isRunning ? nil : process.terminationStatus
    }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }
}
