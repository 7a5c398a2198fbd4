import Foundation

/// Observations counted into buckets by upper bound, with their sum and count: latencies, sizes.
///
/// Exposed as cumulative `_bucket{le="…"}` series plus `_sum` and `_count`; each observation increments
/// exactly one (non-cumulative) slot under this histogram's own lock, and rendering accumulates.
///
/// Thread-safety: all mutable state is guarded by `lock`.
public final class Histogram: @unchecked Sendable {
    /// Latency buckets in seconds, from 1 ms to 10 s.
    public static let defaultLatencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// The finite upper bounds, strictly increasing; the `+Inf` bucket is implicit.
    public let upperBounds: [Double]

    private let lock = NSLock()
    /// One slot per bound, plus the last for values above every bound.
    private var slots: [UInt64]
    private var total: Double = 0
    private var observations: UInt64 = 0

    init(upperBounds: [Double]) {
        self.upperBounds = upperBounds
        self.slots = Array(repeating: 0, count: upperBounds.count + 1)
    }

    /// Records one value. NaN is ignored: it would make `_sum` NaN forever.
    public func observe(_ value: Double) {
        guard !value.isNaN else { return }
        // First bound ≥ value (Prometheus buckets are "less than or equal").
        var low = 0
        var high = upperBounds.count
        while low < high {
            let middle = (low + high) / 2
            if upperBounds[middle] < value { low = middle + 1 } else { high = middle }
        }
        lock.lock()
        slots[low] &+= 1
        total += value
        observations &+= 1
        lock.unlock()
    }

    /// Runs `body` and records how long it took, in seconds, on the monotonic clock.
    public func time<T>(_ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { observe(Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9) }
        return try body()
    }

    /// Records the seconds elapsed since `start` (a `DispatchTime.now()` taken earlier).
    public func observeElapsed(since start: DispatchTime) {
        let now = DispatchTime.now().uptimeNanoseconds
        let begin = start.uptimeNanoseconds
        observe(now >= begin ? Double(now - begin) / 1e9 : 0)
    }

    /// A consistent copy of the histogram's state.
    public var snapshot: HistogramSnapshot {
        lock.lock()
        let copy = slots
        let sum = total
        let count = observations
        lock.unlock()
        var cumulative: [UInt64] = []
        cumulative.reserveCapacity(copy.count)
        var running: UInt64 = 0
        for slot in copy {
            running &+= slot
            cumulative.append(running)
        }
        return HistogramSnapshot(upperBounds: upperBounds + [.infinity], cumulativeCounts: cumulative, sum: sum, count: count)
    }

    /// Checks bounds given at registration: finite, strictly increasing; a trailing `+Inf` is dropped.
    static func validatedBounds(_ buckets: [Double]) -> [Double]? {
        var bounds = buckets
        if bounds.last == .infinity { bounds.removeLast() }
        for (index, bound) in bounds.enumerated() {
            guard bound.isFinite else { return nil }
            if index > 0 && !(bounds[index - 1] < bound) { return nil }
        }
        return bounds
    }
}

/// A histogram's state at one moment.
public struct HistogramSnapshot: Sendable, Equatable {
    /// Every bucket's upper bound, the last being `+Inf`.
    public let upperBounds: [Double]
    /// For each bound, how many observations were less than or equal to it; the last equals `count`.
    public let cumulativeCounts: [UInt64]
    public let sum: Double
    public let count: UInt64
}
