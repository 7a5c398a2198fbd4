import Foundation

/// Group commit: concurrent callers' items of one group are gathered into batches, and one of the
/// callers — the leader — processes a whole batch (one statement, one commit) for all of them.
///
/// A hot row's rate is bounded by one commit at a time; a batch pays that commit once for many items.
/// No thread of its own and no timer: the first caller of an idle group leads at once (an item alone
/// costs what it cost before), and while a batch is processed the items arriving meanwhile queue for the
/// next one, so batches grow exactly as fast as the load does.
///
/// Within a batch, items never share a key of `keys` (two grants of one customer, one idempotency key):
/// an item whose key is taken waits for a later batch, so `process` never sees two of them together.
///
/// Thread-safety: all state is guarded by `lock`; each waiting caller blocks on its own semaphore, and
/// `process` runs outside the lock on the leader's thread.
public final class GroupCommit<Item: Sendable, Outcome: Sendable>: @unchecked Sendable {
    public typealias Process = @Sendable ([Item]) -> [Outcome]

    /// One caller's item and, once it is known, its outcome or its role.
    private final class Waiter {
        enum State { case queued, leading, done(Outcome) }
        let item: Item
        let keys: [String]
        var state = State.queued
        let wake = DispatchSemaphore(value: 0)
        init(_ item: Item, keys: [String]) { self.item = item; self.keys = keys }
    }

    private struct Group {
        var queue: [Waiter] = []
        var leaders = 0
    }

    private let lock = NSLock()
    private var groups: [String: Group] = [:]
    private let maxBatch: Int
    private let maxLeaders: Int
    private let keys: @Sendable (Item) -> [String]
    private let process: Process

    /// - Parameters:
    ///   - maxBatch: the most items in one batch; 1 turns gathering off (each caller processes its
    ///     own item at once, with no leader limit).
    ///   - maxLeaders: batches of one group processed at once (more overlap one batch's commit with
    ///     the next one's work; 1 serializes the group).
    ///   - keys: keys no two items of one batch may share.
    ///   - process: answers one outcome per item, in the items' order. It must not throw: a failed batch
    ///     answers each item with an outcome that says so (for example, "do it alone").
    public init(maxBatch: Int, maxLeaders: Int = 1, keys: @escaping @Sendable (Item) -> [String] = { _ in [] },
                process: @escaping Process) {
        precondition(maxBatch > 0 && maxLeaders > 0)
        self.maxBatch = maxBatch
        self.maxLeaders = maxLeaders
        self.keys = keys
        self.process = process
    }

    /// Adds `item` to `group`'s next batch and blocks until its outcome is known, leading batches
    /// itself when the group has fewer than `maxLeaders` leaders.
    public func submit(_ item: Item, group: String) -> Outcome {
        // Batches of one gather nothing: each caller processes its own at once, as many at a time as
        // there are callers (a leader limit would only serialize them).
        if maxBatch == 1 { return process([item])[0] }
        let me = Waiter(item, keys: keys(item))
        lock.lock()
        groups[group, default: Group()].queue.append(me)
        if groups[group]!.leaders < maxLeaders {
            groups[group]!.leaders += 1
            me.state = .leading
        }
        lock.unlock()
        while true {
            lock.lock()
            let state = me.state
            lock.unlock()
            switch state {
            case .done(let outcome): return outcome
            case .leading: lead(group, me)
            case .queued: me.wake.wait()
            }
        }
    }

    /// Processes one batch of `group` as its leader, then either stays leader (its own item was not in
    /// the batch), hands leadership to the next queued caller, or gives it up when nothing is queued.
    private func lead(_ group: String, _ me: Waiter) {
        lock.lock()
        let batch = takeBatch(group, leader: me)
        lock.unlock()
        let outcomes = process(batch.map(\.item))
        precondition(outcomes.count == batch.count, "GroupCommit.process answered \(outcomes.count) outcomes for \(batch.count) items")
        var woken: [Waiter] = []
        lock.lock()
        for (waiter, outcome) in zip(batch, outcomes) {
            waiter.state = .done(outcome)
            if waiter !== me { woken.append(waiter) }
        }
        if case .done = me.state {
            if let next = groups[group]!.queue.first(where: { if case .queued = $0.state { return true } else { return false } }) {
                next.state = .leading
                woken.append(next)
            } else {
                groups[group]!.leaders -= 1
                if groups[group]!.leaders == 0 && groups[group]!.queue.isEmpty { groups[group] = nil }
            }
        }
        lock.unlock()
        for waiter in woken { waiter.wake.signal() }
    }

    /// Removes up to `maxBatch` items from the head of the group's queue, skipping those whose keys an
    /// item already taken holds (they stay queued in order), and other leaders' own items: a caller
    /// handed leadership must find its item still queued, or its leadership would be lost with it.
    /// Called with `lock` held.
    private func takeBatch(_ group: String, leader: Waiter) -> [Waiter] {
        var taken: [Waiter] = []
        var used = Set<String>()
        var left: [Waiter] = []
        for waiter in groups[group]!.queue {
            let otherLeader: Bool
            if case .leading = waiter.state { otherLeader = waiter !== leader } else { otherLeader = false }
            guard !otherLeader, taken.count < maxBatch, waiter.keys.allSatisfy({ !used.contains($0) }) else {
                left.append(waiter)
                continue
            }
            used.formUnion(waiter.keys)
            taken.append(waiter)
        }
        groups[group]!.queue = left
        return taken
    }
}
