import Foundation

/// The start/stop life shared by the components that run on threads of their own (`JobWorker`,
/// `Scheduler`, `OutboxRelay`): idle → running → stopped, never back, with the wake-up signal their
/// loops watch and the threads `stop` joins.
///
/// Thread-safety: `state` is guarded by `lock`. Owners guard the state that must change together with
/// it (handlers registered before `start`, a listener) with the same `lock`.
final class WorkerLifecycle: @unchecked Sendable {
    enum State { case idle, running, stopped }

    let lock = NSLock()
    let wake = WakeSignal()
    let threads = OwnedThreads()
    /// Read and written only while holding `lock`.
    private(set) var state = State.idle

    /// Under `lock`: does nothing while running, throws `stoppedError` once stopped, and otherwise runs
    /// `begin` (checks, spawning threads, logging) and marks the component running. When `begin`
    /// throws, the component stays idle.
    func start<E: Error>(stoppedError: E, _ begin: () throws(E) -> Void) throws(E) {
        lock.lock()
        defer { lock.unlock() }
        switch state {
        case .running: return
        case .stopped: throw stoppedError
        case .idle: break
        }
        try begin()
        state = .running
    }

    /// Marks the component stopped (running `detach` under `lock`, to take out what the owner closes
    /// after the join), stops the wake-up signal and waits up to `timeout` for the threads.
    /// `wasRunning` tells whether this call stopped a running component; `finished`, whether every
    /// thread returned in time.
    func stop(timeout: TimeInterval, detach: () -> Void = {}) -> (wasRunning: Bool, finished: Bool) {
        lock.lock()
        let wasRunning = state == .running
        state = .stopped
        detach()
        lock.unlock()
        wake.stop()
        return (wasRunning, threads.join(timeout: timeout))
    }
}
