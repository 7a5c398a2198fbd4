import Foundation

/// Threads that a component starts and later joins with a deadline.
///
/// Blocking work (libpq, libcurl) must run on threads we own, never on Dispatch's global pool, which
/// grows slowly and starves. Foundation's `Thread` has no join, so each body reports its end here.
///
/// Thread-safety: `running` is guarded by `condition`.
final class OwnedThreads: @unchecked Sendable {
    private let condition = NSCondition()
    private var running = 0

    /// Starts a named thread running `body`.
    func spawn(name: String, _ body: @escaping @Sendable () -> Void) {
        condition.lock()
        running += 1
        condition.unlock()
        let thread = Thread { [self] in
            body()
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }
        thread.name = name
        thread.start()
    }

    /// Waits until every spawned body has returned, at most `timeout`; true when all did.
    @discardableResult
    func join(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(max(0, timeout))
        condition.lock()
        defer { condition.unlock() }
        while running > 0 {
            if !condition.wait(until: deadline) { break }
        }
        return running == 0
    }

    /// Bodies that have not returned yet.
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return running
    }
}
