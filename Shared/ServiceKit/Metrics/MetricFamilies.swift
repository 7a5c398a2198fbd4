import Foundation

/// A counter with labels; `labels(...)` returns the counter of one label combination.
///
/// Look a combination up once and keep it where the label values are fixed (a route's counter), since
/// each lookup takes the family's lock and hashes the values.
public final class CounterFamily: Sendable {
    public let name: String
    public let labelNames: [String]
    let series: LabelledSeries<Counter>

    init(name: String, labelNames: [String], limit: Int) {
        self.name = name
        self.labelNames = labelNames
        self.series = LabelledSeries(metric: name, labelNames: labelNames, limit: limit) { Counter() }
    }

    /// The counter for these label values, in the order of `labelNames`; created on first use.
    public func labels(_ values: String...) throws(MetricsError) -> Counter { try series.child(values) }
    public func labels(_ values: [String]) throws(MetricsError) -> Counter { try series.child(values) }
}

/// A gauge with labels; see `CounterFamily`.
public final class GaugeFamily: Sendable {
    public let name: String
    public let labelNames: [String]
    let series: LabelledSeries<Gauge>

    init(name: String, labelNames: [String], limit: Int) {
        self.name = name
        self.labelNames = labelNames
        self.series = LabelledSeries(metric: name, labelNames: labelNames, limit: limit) { Gauge() }
    }

    public func labels(_ values: String...) throws(MetricsError) -> Gauge { try series.child(values) }
    public func labels(_ values: [String]) throws(MetricsError) -> Gauge { try series.child(values) }
}

/// A histogram with labels, every combination sharing the same buckets; see `CounterFamily`.
public final class HistogramFamily: Sendable {
    public let name: String
    public let labelNames: [String]
    public let upperBounds: [Double]
    let series: LabelledSeries<Histogram>

    init(name: String, labelNames: [String], upperBounds: [Double], limit: Int) {
        self.name = name
        self.labelNames = labelNames
        self.upperBounds = upperBounds
        self.series = LabelledSeries(metric: name, labelNames: labelNames, limit: limit) { Histogram(upperBounds: upperBounds) }
    }

    public func labels(_ values: String...) throws(MetricsError) -> Histogram { try series.child(values) }
    public func labels(_ values: [String]) throws(MetricsError) -> Histogram { try series.child(values) }
}

/// One sample of a gauge or counter computed at scrape time: its label values and value.
public struct LabelledSample: Sendable, Equatable {
    /// In the order of the metric's label names.
    public let labelValues: [String]
    public let value: Double

    public init(labelValues: [String], value: Double) {
        self.labelValues = labelValues
        self.value = value
    }
}

/// The children of a labelled metric, by label values, up to `limit` combinations.
///
/// Thread-safety: all mutable state is guarded by `lock`.
final class LabelledSeries<Child: AnyObject & Sendable>: @unchecked Sendable {
    let metric: String
    let labelNames: [String]
    let limit: Int
    private let make: @Sendable () -> Child
    private let lock = NSLock()
    private var children: [[String]: Child] = [:]

    init(metric: String, labelNames: [String], limit: Int, make: @escaping @Sendable () -> Child) {
        self.metric = metric
        self.labelNames = labelNames
        self.limit = limit
        self.make = make
    }

    func child(_ values: [String]) throws(MetricsError) -> Child {
        guard values.count == labelNames.count else {
            throw .labelCountMismatch(metric: metric, expected: labelNames.count, got: values.count)
        }
        lock.lock()
        defer { lock.unlock() }
        if let existing = children[values] { return existing }
        guard children.count < limit else { throw .tooManySeries(metric: metric, limit: limit) }
        let created = make()
        children[values] = created
        return created
    }

    /// Every child sorted by label values, so that output is stable from one scrape to the next.
    func all() -> [(labelValues: [String], child: Child)] {
        lock.lock()
        let entries = children.map { (labelValues: $0.key, child: $0.value) }
        lock.unlock()
        return entries.sorted { $0.labelValues.lexicographicallyPrecedes($1.labelValues) }
    }
}
