import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where finished log lines go.
///
/// A sink receives one whole line (a JSON object followed by `\n`) per call and must write it without
/// interleaving it with other lines, from any thread.
public protocol LogSink: Sendable {
    func write(line: [UInt8])
}

/// Writes lines to standard output (file descriptor 1) with `write(2)`, bypassing stdio buffering.
///
/// Each line is written under `lock`, retrying partial writes, `EINTR` and a non-blocking stdout's
/// `EAGAIN`, so lines from different threads never interleave even beyond `PIPE_BUF`. A line that cannot
/// be written (stdout closed, or blocked for over a second) is dropped and counted: a service must not
/// stop because nobody reads its logs. Writing to a closed pipe raises SIGPIPE unless the process ignores
/// it, which the service bootstrap does. Do not mix with `print`, which buffers separately.
///
/// Thread-safety: all mutable state is guarded by `lock`.
public final class StandardOutputLogSink: LogSink, @unchecked Sendable {
    /// The process's one stdout sink; several would interleave.
    public static let shared = StandardOutputLogSink(fileDescriptor: STDOUT_FILENO)

    private let lock = NSLock()
    private let fileDescriptor: Int32
    private var dropped = 0

    /// A sink writing to `fileDescriptor`; for stdout use `shared`.
    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// How many lines could not be written.
    public var droppedLines: Int { lock.withLock { dropped } }

    public func write(line: [UInt8]) {
        lock.withLock {
            if !writeAll(line) { dropped += 1 }
        }
    }

    private func writeAll(_ line: [UInt8]) -> Bool {
        line.withUnsafeBytes { buffer -> Bool in
            guard let base = buffer.baseAddress else { return true }
            var offset = 0
            var waits = 0
            while offset < buffer.count {
                let written = Glibc.write(fileDescriptor, base + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                    continue
                }
                if written < 0 && errno == EINTR { continue }
                if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && waits < 10 {
                    waits += 1
                    var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&descriptor, 1, 100)
                    continue
                }
                return false
            }
            return true
        }
    }
}

/// Keeps lines in memory, for tests that check what was logged.
///
/// Thread-safety: all mutable state is guarded by `lock`.
public final class InMemoryLogSink: LogSink, @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []

    public init() {}

    public func write(line: [UInt8]) {
        var text = String(decoding: line, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        lock.withLock { stored.append(text) }
    }

    /// The lines written so far, without their trailing newline.
    public var lines: [String] { lock.withLock { stored } }

    /// The lines decoded as JSON objects; a line that is not one fails the decoding.
    public func objects() throws -> [[String: Any]] {
        try lines.map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw LogLineIsNotAnObject(line: line)
            }
            return object
        }
    }

    public func removeAll() { lock.withLock { stored.removeAll() } }
}

/// A captured line that does not decode to a JSON object.
public struct LogLineIsNotAnObject: Error, Sendable, CustomStringConvertible {
    public let line: String
    public var description: String { "log line is not a JSON object: \(line)" }
}
