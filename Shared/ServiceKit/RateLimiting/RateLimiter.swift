import Foundation
import HTTP

/// Token buckets per key (a token, a client IP): `ratePerSecond` sustained, `burst` at once.
///
/// Memory is bounded: beyond `maxKeys` per shard, buckets that have refilled completely (idle callers)
/// are dropped first, as they carry no state worth keeping.
///
/// Thread-safety: keys are spread over shards, each guarded by its own lock.
public final class RateLimiter: @unchecked Sendable {
    public enum Decision: Sendable, Equatable {
        case allowed
        /// Denied; the caller may retry after this many whole seconds.
        case limited(retryAfter: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updatedAt: UInt64
    }

    private final class Shard {
        let lock = NSLock()
        var buckets: [String: Bucket] = [:]
    }

    public let ratePerSecond: Double
    public let burst: Double
    private let maxKeysPerShard: Int
    private let shards: [Shard]

    public init(ratePerSecond: Double, burst: Int, maxKeys: Int = 100_000) {
        precondition(ratePerSecond > 0 && burst > 0)
        self.ratePerSecond = ratePerSecond
        self.burst = Double(burst)
        shards = (0..<16).map { _ in Shard() }
        maxKeysPerShard = max(16, maxKeys / 16)
    }

    /// Takes one token for `key` if there is one.
    public func acquire(_ key: String, now: UInt64 = MonotonicClock.nanoseconds()) -> Decision {
        let shard = shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
        shard.lock.lock()
        defer { shard.lock.unlock() }
        var bucket = shard.buckets[key] ?? Bucket(tokens: burst, updatedAt: now)
        let elapsed = Double(now &- bucket.updatedAt) / 1e9
        bucket.tokens = min(burst, bucket.tokens + elapsed * ratePerSecond)
        bucket.updatedAt = now
        let decision: Decision
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            decision = .allowed
        } else {
            decision = .limited(retryAfter: max(1, Int(((1 - bucket.tokens) / ratePerSecond).rounded(.up))))
        }
        if shard.buckets[key] == nil && shard.buckets.count >= maxKeysPerShard { evictIdle(shard, now: now) }
        shard.buckets[key] = bucket
        return decision
    }

    private func evictIdle(_ shard: Shard, now: UInt64) {
        let refillNanos = UInt64(burst / ratePerSecond * 1e9)
        shard.buckets = shard.buckets.filter { now &- $0.value.updatedAt < refillNanos }
        if shard.buckets.count >= maxKeysPerShard {
            // Everyone is active: drop the oldest half rather than grow without bound.
            let keep = shard.buckets.sorted { $0.value.updatedAt > $1.value.updatedAt }.prefix(maxKeysPerShard / 2)
            shard.buckets = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
