import Foundation

/// A value that only goes up: requests served, events delivered, bytes sent.
///
/// Recording takes this counter's own lock for a few nanoseconds; there is no registry-wide lock on the
/// hot path. Look labelled children up once (`CounterFamily.labels`) and keep them.
///
/// Thread-safety: all mutable state is guarded by `lock`.
public final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Double = 0

    init() {}

    /// Adds `amount` (1 by default). A negative, NaN or infinite amount is ignored: a counter that went
    /// down or became NaN would corrupt every rate computed from it.
    public func increment(by amount: Double = 1) {
        guard amount >= 0, amount.isFinite else { return }
        lock.lock()
        current += amount
        lock.unlock()
    }

    /// Adds an integer amount; negative amounts are ignored.
    public func increment(by amount: Int) {
        increment(by: Double(amount))
    }

    /// The current total.
    public var value: Double {
        lock.lock()
        defer { lock.unlock() }
        return current
    }
}

/// A value that goes up and down: connections open, queue depth, pool size in use.
///
/// Thread-safety: all mutable state is guarded by `lock`.
public final class Gauge: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Double = 0

    init() {}

    public func set(_ value: Double) {
        lock.lock()
        current = value
        lock.unlock()
    }

    public func increment(by amount: Double = 1) {
        lock.lock()
        current += amount
        lock.unlock()
    }

    public func decrement(by amount: Double = 1) {
        increment(by: -amount)
    }

    /// Sets the gauge to the current real time in seconds since 1970 (e.g. "last successful run").
    public func setToCurrentTime() {
        set(Date().timeIntervalSince1970)
    }

    /// The current value.
    public var value: Double {
        lock.lock()
        defer { lock.unlock() }
        return current
    }
}
