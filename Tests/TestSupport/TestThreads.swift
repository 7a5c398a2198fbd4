import Foundation

/// Truly concurrent callers for tests.
public enum TestThreads {
    /// Runs `body(i)` for each `i` in `0..<count`, each on a thread of its own, and waits for all of them.
    /// `DispatchQueue.concurrentPerform` runs only as many at once as there are cores (two in CI), too
    /// few to make callers queue behind one another.
    public static func run(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            Thread {
                body(i)
                group.leave()
            }.start()
        }
        group.wait()
    }
}
