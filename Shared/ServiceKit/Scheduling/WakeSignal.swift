import Foundation

/// Wakes sleeping worker threads early: a NOTIFY arrived, work was enqueued in-process, or the owner
/// is stopping.
///
/// A generation counter rather than a flag: a thread remembers the generation it saw before looking
/// for work and sleeps only while it is unchanged, so a wake-up that arrives while the thread is busy
/// querying is never lost, and one `signal()` wakes every waiting thread.
///
/// Thread-safety: all mutable state is guarded by `condition`.
public final class WakeSignal: @unchecked Sendable {
    public init() {}
    private let condition = NSCondition()
    private var generation: UInt64 = 0
    private var stopped = false

    /// The current generation; pass it to `wait(since:timeout:)`.
    public var current: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return generation
    }

    public var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    /// Wakes every thread waiting now, and makes the next wait of a thread that has not yet waited
    /// return at once.
    public func signal() {
        condition.lock()
        generation &+= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Marks the owner as stopping and wakes everybody; every later wait returns at once.
    public func stop() {
        condition.lock()
        stopped = true
        generation &+= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Sleeps until the generation differs from `seen`, the signal is stopped, or `timeout` passes.
    public func wait(since seen: UInt64, timeout: TimeInterval) {
        let deadline = Date().addingTimeInterval(max(0, timeout))
        condition.lock()
        while generation == seen, !stopped {
            if !condition.wait(until: deadline) { break }
        }
        condition.unlock()
    }

    /// Sleeps for `seconds` unless stopped meanwhile (signals do not end this sleep).
    public func sleepUnlessStopped(_ seconds: TimeInterval) {
        let deadline = Date().addingTimeInterval(max(0, seconds))
        condition.lock()
        while !stopped {
            if !condition.wait(until: deadline) { break }
        }
        condition.unlock()
    }
}
