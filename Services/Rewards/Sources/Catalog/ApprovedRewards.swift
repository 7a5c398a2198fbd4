import Foundation

/// Approved rewards by id, so the grant path does not read the catalog row on every grant. An approved
/// reward's terms never change (there is no edit after approval), so a cached copy is only ever stale in
/// its `remaining`, which grants do not use; entries still expire after `ttl` to bound memory and drift.
///
/// Thread-safety: `entries` is guarded by `lock`.
final class ApprovedRewards: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: (reward: Reward, until: Date)] = [:]
    let ttl: TimeInterval
    let capacity: Int

    init(ttl: TimeInterval = 30, capacity: Int = 10_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    func get(_ id: String) -> Reward? {
        lock.lock(); defer { lock.unlock() }
        guard let e = entries[id], e.until > Date() else { return nil }
        return e.reward
    }

    func put(_ reward: Reward) {
        guard reward.status == .approved else { return }
        lock.lock(); defer { lock.unlock() }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[reward.id] = (reward, Date().addingTimeInterval(ttl))
    }
}
