import Synchronization

/// A thread-safe counter.
public final class AtomicCounter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    /// Increments and returns the new value.
    @discardableResult
    public func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).newValue }
    public func add(_ n: Int) { value.wrappingAdd(n, ordering: .relaxed) }
    public var current: Int { value.load(ordering: .relaxed) }
}
