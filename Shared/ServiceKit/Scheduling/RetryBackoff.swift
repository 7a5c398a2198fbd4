import Foundation

/// Exponential backoff with jitter, for outbox deliveries, jobs and failed scheduler ticks.
///
/// The delay after the n-th failed attempt is `min(maximum, base · 2^(n-1))`, drawn uniformly from
/// the upper half of that value, so that many rows failing together (a receiver that was down) do
/// not all come back at the same instant.
public struct RetryBackoff: Sendable, Equatable {
    /// Delay after the first failure, in seconds.
    public var base: TimeInterval
    /// Upper bound of any delay, in seconds.
    public var maximum: TimeInterval

    /// Out-of-range values are clamped (base 1 ms…1 h, maximum base…7 days) so that a bad setting
    /// can never produce a zero, negative or absurd delay.
    public init(base: TimeInterval = 1, maximum: TimeInterval = 600) {
        self.base = base
        self.maximum = maximum
    }

    /// The delay before the attempt that follows `attempt` failed attempts (1-based).
    public func delay(afterAttempt attempt: Int) -> TimeInterval {
        let upper = ceiling(afterAttempt: attempt)
        return Double.random(in: (upper / 2)...upper)
    }

    /// The delay without jitter: `min(maximum, base · 2^(attempt-1))`.
    public func ceiling(afterAttempt attempt: Int) -> TimeInterval {
        let b = Self.clamp(base.isFinite ? base : 1, 0.001, 3_600)
        let m = Self.clamp(maximum.isFinite ? maximum : 600, b, 7 * 86_400)
        let exponent = Double(min(max(attempt - 1, 0), 40))
        return min(m, b * pow(2, exponent))
    }

    private static func clamp(_ value: Double, _ low: Double, _ high: Double) -> Double {
        min(max(value, low), high)
    }
}
