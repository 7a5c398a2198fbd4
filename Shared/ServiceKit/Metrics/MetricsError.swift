/// A metric that cannot be registered or a series that cannot be created.
public enum MetricsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    case invalidMetricName(String)
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*`, starts with the reserved `__`, is `le` on a
    /// histogram, or is repeated.
    case invalidLabelName(metric: String, label: String)
    /// Histogram bounds must be finite and strictly increasing (`+Inf` is added on its own).
    case invalidBuckets(metric: String)
    /// The name (or one of the series names it exposes, such as a histogram's `_count`) is already
    /// registered with a different kind, help text, labels or buckets.
    case conflictingRegistration(String)
    /// `labels(...)` got a different number of values than the metric has label names.
    case labelCountMismatch(metric: String, expected: Int, got: Int)
    /// The metric already has its maximum number of label combinations; an unbounded label (a user id, a
    /// raw path) would otherwise exhaust memory.
    case tooManySeries(metric: String, limit: Int)

    public var description: String {
        switch self {
        case .invalidMetricName(let name): return "invalid metric name \"\(name)\""
        case .invalidLabelName(let metric, let label): return "\(metric): invalid label name \"\(label)\""
        case .invalidBuckets(let metric): return "\(metric): histogram buckets must be finite and strictly increasing"
        case .conflictingRegistration(let name): return "\(name): already registered differently"
        case .labelCountMismatch(let metric, let expected, let got): return "\(metric): expected \(expected) label values, got \(got)"
        case .tooManySeries(let metric, let limit): return "\(metric): more than \(limit) label combinations"
        }
    }
}
