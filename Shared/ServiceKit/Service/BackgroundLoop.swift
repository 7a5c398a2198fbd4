import Contracts
import Foundation

/// A worker's own thread, running its loop until stopped: the start / stop-with-deadline / pause
/// protocol every background worker shares (the profile's rule-tag worker, the segment service's feed
/// follower and membership watcher). Blocking work (libpq, libcurl) runs on threads we own, never on
/// Dispatch's pool.
///
/// The loop body asks `isStopping` between steps and sleeps with `pause`, which `stop` cuts short.
///
/// Thread-safety: `state` and `threadRunning` are guarded by `condition`.
public final class BackgroundLoop: @unchecked Sendable {
    public let name: String

    private enum State { case idle, running, stopping, stopped }
    private let condition = NSCondition()
    private var state = State.idle
    private var threadRunning = false

    public init(name: String) { self.name = name }

    /// Runs `body` on a new thread named `name`. Starting a running loop does nothing; a stopped
    /// loop cannot start again (500: a wiring mistake).
    public func start(_ body: @escaping @Sendable () -> Void) throws {
        condition.lock()
        defer { condition.unlock() }
        switch state {
        case .running, .stopping: return
        case .stopped: throw APIError.internalError("\(name) was stopped and cannot start again")
        case .idle: break
        }
        state = .running
        threadRunning = true
        let thread = Thread { [self] in
            body()
            condition.lock()
            threadRunning = false
            condition.broadcast()
            condition.unlock()
        }
        thread.name = name
        thread.start()
    }

    /// Asks the loop to stop and waits for its body to return, at most `timeout`; true when it did
    /// (or never started).
    @discardableResult
    public func stop(timeout: TimeInterval) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if state == .idle { state = .stopped; return true }
        if state == .running { state = .stopping }
        condition.broadcast()
        let deadline = Date().addingTimeInterval(max(0, timeout))
        while threadRunning {
            if !condition.wait(until: deadline) { break }
        }
        if !threadRunning { state = .stopped }
        return !threadRunning
    }

    /// True unless the loop is running (before `start` too: the body has nothing to do then).
    public var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return state != .running
    }

    /// Whether `stop` was called (a loop never started, whose steps a test drives, is not stopping).
    public var stopRequested: Bool {
        condition.lock()
        defer { condition.unlock() }
        return state == .stopping || state == .stopped
    }

    /// Sleeps up to `seconds`, returning early when stopping (at once when not running).
    public func pause(_ seconds: TimeInterval) {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        while state == .running {
            if !condition.wait(until: deadline) { break }
        }
        condition.unlock()
    }
}
