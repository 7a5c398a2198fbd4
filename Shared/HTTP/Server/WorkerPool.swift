import Foundation

/// A fixed set of threads that run blocking handlers, fed by a bounded queue.
///
/// Bounded on purpose: when every worker is busy and the queue is full, `submit` refuses and the
/// server answers 503 with `Retry-After` instead of queueing without end.
///
/// Thread-safety: `queue`, `running` and `stopping` are guarded by `condition`.
final class WorkerPool: @unchecked Sendable {
    typealias Job = @Sendable () -> Void

    private let condition = NSCondition()
    private var queue: [Job?] = []
    private var head = 0
    private var stopping = false
    private var threads: [Thread] = []
    private let queueLimit: Int
    private var idle = 0
    private var finished = 0
    private let threadCount: Int

    init(threads count: Int, queueLimit: Int, name: String) {
        precondition(count > 0 && queueLimit > 0)
        self.queueLimit = queueLimit
        self.threadCount = count
        for i in 0..<count {
            let t = Thread { [unowned self] in self.workLoop() }
            t.name = "\(name)-\(i)"
            t.stackSize = 1 << 20
            threads.append(t)
        }
        threads.forEach { $0.start() }
    }

    /// Queues a job; false when the queue is full or the pool is stopping.
    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, queue.count - head < queueLimit else { return false }
        queue.append(job)
        condition.signal()
        return true
    }

    var pending: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - head
    }

    /// Runs what is queued, then stops every thread; waits up to `timeout` seconds for them.
    func shutdown(timeout: TimeInterval) {
        condition.lock()
        stopping = true
        condition.broadcast()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while finished < threadCount {
            if !condition.wait(until: deadline) { break }
        }
        condition.unlock()
    }

    private func workLoop() {
        while true {
            condition.lock()
            while head == queue.count && !stopping { condition.wait() }
            if head == queue.count && stopping {
                finished += 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = queue[head]!
            queue[head] = nil
            head += 1
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
