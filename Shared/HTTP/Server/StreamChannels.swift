import Foundation

/// Carries a streamed response body from the producing worker to the connection's loop.
///
/// Thread-safety: `pendingBytes` and `cancelled` are guarded by `condition`; the connection is only
/// touched through `loop.execute`.
final class ResponseStreamChannel: ResponseBodyWriter, @unchecked Sendable {
    private let connection: Connection
    private let condition = NSCondition()
    private var pendingBytes = 0
    private var cancelled = false
    /// Counts socket writes of this body; the producer's wait restarts its timeout while it moves.
    private var progress = 0
    private let timeoutSeconds: Double
    /// The producer waits while this much is queued but not yet written to the socket.
    static let highWater = 512 * 1024

    init(connection: Connection, timeout: UInt64) {
        self.connection = connection
        self.timeoutSeconds = Double(timeout) / 1e9
    }

    func write(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        condition.lock()
        var deadline = Date(timeIntervalSinceNow: timeoutSeconds)
        var seen = progress
        while pendingBytes > Self.highWater && !cancelled {
            if !condition.wait(until: deadline) {
                // A slow client that still reads is not a stalled one: only give up without progress.
                if progress != seen {
                    seen = progress
                    deadline = Date(timeIntervalSinceNow: timeoutSeconds)
                    continue
                }
                cancelled = true
                break
            }
        }
        if cancelled {
            condition.unlock()
            throw HTTPServerError.connectionClosed
        }
        pendingBytes += bytes.count
        condition.unlock()
        let c = connection
        c.loop.execute { c.appendChunk(bytes) }
    }

    /// Loop side: the socket took everything queued.
    func drained() {
        condition.lock()
        pendingBytes = 0
        condition.broadcast()
        condition.unlock()
    }

    /// Loop side: some of the queued bytes reached the socket.
    func progressed() {
        condition.lock()
        progress &+= 1
        condition.unlock()
    }

    /// Loop side: the connection is gone; the producer's next write throws.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// Producer side: the body is complete (or failed).
    func finish(_ error: (any Error)?) {
        let c = connection
        let message = error.map { "\($0)" }
        c.loop.execute { c.finishStream(message.map { StreamFailure(description: $0) }) }
    }

    struct StreamFailure: Error, CustomStringConvertible { let description: String }
}

/// Carries a request body from the connection's loop to a handler that reads it while it arrives.
///
/// Thread-safety: every field is guarded by `condition`.
final class RequestStreamChannel: RequestBodyStream, @unchecked Sendable {
    private let connection: Connection
    private let condition = NSCondition()
    private var chunks: [[UInt8]] = []
    private var buffered = 0
    private var finished = false
    private var failure: HTTPServerError?
    private var loopPaused = false
    private let timeoutSeconds: Double
    static let highWater = 1 << 20
    static let lowWater = 256 * 1024

    init(connection: Connection, timeout: UInt64) {
        self.connection = connection
        self.timeoutSeconds = Double(timeout) / 1e9
    }

    func read() throws -> [UInt8]? {
        condition.lock()
        let deadline = Date(timeIntervalSinceNow: timeoutSeconds)
        while chunks.isEmpty && !finished && failure == nil {
            if !condition.wait(until: deadline) {
                failure = .timeout
            }
        }
        if chunks.isEmpty, let failure {
            condition.unlock()
            throw failure
        }
        if chunks.isEmpty {
            condition.unlock()
            return nil
        }
        let chunk = chunks.removeFirst()
        buffered -= chunk.count
        let resume = loopPaused && buffered < Self.lowWater
        if resume { loopPaused = false }
        condition.unlock()
        if resume {
            let c = connection
            c.loop.execute { c.resumeReading() }
        }
        return chunk
    }

    /// Loop side: more body. True when the reader lags and the loop should stop reading the socket.
    func push(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        condition.lock()
        defer { condition.unlock() }
        chunks.append(bytes)
        buffered += bytes.count
        condition.signal()
        if buffered > Self.highWater {
            loopPaused = true
            return true
        }
        return false
    }

    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    func fail(_ error: HTTPServerError) {
        condition.lock()
        if failure == nil && !finished { failure = error }
        condition.broadcast()
        condition.unlock()
    }
}
