import Dispatch

/// Write-behind for one producer: each submitted write runs on a background thread while the producer
/// prepares the next one. At most one write is in flight, so a producer that outruns its writes waits
/// for them (back-pressure) and holds at most one piece of work ahead.
///
/// Writes run one after another, in submission order. A failed write fails the writer: the next
/// `submit` or `drain` rethrows its error, and nothing submitted after it runs. Call `drain` before
/// acting on the writes' outcome — and before cleaning up after a failure, so that no write lands
/// after the cleanup.
///
/// Thread-safety: one producer thread calls `submit` and `drain`. `failure` is written by a write
/// before it signals `idle` and read by the producer after waiting on `idle`: the semaphore orders them.
public final class WriteBehind: @unchecked Sendable {
    private let queue: DispatchQueue
    private let idle = DispatchSemaphore(value: 1)
    private var failure: (any Error)?

    /// - Parameter label: names the background thread's queue (seen in debuggers and crash reports).
    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Waits for the write in flight, then starts `write` in the background. Throws the error of an
    /// earlier write instead of starting this one.
    public func submit(_ write: @escaping @Sendable () throws -> Void) throws {
        idle.wait()
        if let failure {
            idle.signal()
            throw failure
        }
        queue.async { [self] in
            do { try write() } catch { failure = error }
            idle.signal()
        }
    }

    /// Waits until no write is in flight; throws the error of a failed one.
    public func drain() throws {
        idle.wait()
        defer { idle.signal() }
        if let failure { throw failure }
    }
}
