import Foundation

/// A service's Prometheus metrics, rendered at `GET /metrics` in the text exposition format 0.0.4.
///
/// Register metrics once at start-up and keep the returned objects; recording (`increment`, `set`,
/// `observe`) touches only that metric's own lock, never the registry's. Registering the same name again
/// with the same kind, help, labels and buckets returns the existing metric; anything else is a
/// `MetricsError`, so that two parts of a service cannot silently mix two meanings under one name.
///
/// ```swift
/// let metrics = MetricsRegistry()
/// let requests = try metrics.counter("http_requests_total", help: "HTTP requests.", labelNames: ["method", "status"])
/// try requests.labels("GET", "200").increment()
/// let body = metrics.render()   // served with MetricsRegistry.contentType
/// ```
///
/// Thread-safety: the list of metrics is guarded by `lock`; each metric guards its own values. Computed
/// metrics' closures run during `render()`, outside `lock`, on the scraping thread.
public final class MetricsRegistry: @unchecked Sendable {
    /// The `Content-Type` of `render()`'s output.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The most label combinations one labelled metric may have.
    public let maximumSeriesPerMetric: Int

    private let lock = NSLock()
    private var registrations: [Registration] = []
    /// Every sample name in use (a histogram `x` uses `x`, `x_bucket`, `x_sum`, `x_count`) → its metric.
    private var sampleNames: [String: String] = [:]

    /// - Parameter maximumSeriesPerMetric: cap on label combinations per metric (see `MetricsError.tooManySeries`).
    public init(maximumSeriesPerMetric: Int = 10_000) {
        self.maximumSeriesPerMetric = max(1, maximumSeriesPerMetric)
    }

    // MARK: Counters

    /// A counter without labels.
    public func counter(_ name: String, help: String) throws(MetricsError) -> Counter {
        try register(name, help: help, kind: .counter, shape: .plain) { Counter() } render: { counter, name, help, writer in
            writer.header(name: name, help: help, type: "counter")
            writer.sample(name: name, labelNames: [], labelValues: [], value: counter.value)
        }
    }

    /// A counter with labels.
    public func counter(_ name: String, help: String, labelNames: [String]) throws(MetricsError) -> CounterFamily {
        try validateLabels(labelNames, metric: name, reserved: [])
        let limit = maximumSeriesPerMetric
        return try register(name, help: help, kind: .counter, shape: .labelled(labelNames)) {
            CounterFamily(name: name, labelNames: labelNames, limit: limit)
        } render: { family, name, help, writer in
            writer.header(name: name, help: help, type: "counter")
            for (values, counter) in family.series.all() {
                writer.sample(name: name, labelNames: family.labelNames, labelValues: values, value: counter.value)
            }
        }
    }

    /// A counter whose samples `compute` returns at scrape time, for totals kept elsewhere (CPU seconds,
    /// a pool's lifetime connections). Samples whose label values do not match `labelNames` are skipped.
    public func counter(_ name: String, help: String, labelNames: [String] = [],
                        compute: @escaping @Sendable () -> [LabelledSample]) throws(MetricsError) {
        try registerComputed(name, help: help, kind: .counter, labelNames: labelNames, compute: compute)
    }

    // MARK: Gauges

    /// A gauge without labels.
    public func gauge(_ name: String, help: String) throws(MetricsError) -> Gauge {
        try register(name, help: help, kind: .gauge, shape: .plain) { Gauge() } render: { gauge, name, help, writer in
            writer.header(name: name, help: help, type: "gauge")
            writer.sample(name: name, labelNames: [], labelValues: [], value: gauge.value)
        }
    }

    /// A gauge with labels.
    public func gauge(_ name: String, help: String, labelNames: [String]) throws(MetricsError) -> GaugeFamily {
        try validateLabels(labelNames, metric: name, reserved: [])
        let limit = maximumSeriesPerMetric
        return try register(name, help: help, kind: .gauge, shape: .labelled(labelNames)) {
            GaugeFamily(name: name, labelNames: labelNames, limit: limit)
        } render: { family, name, help, writer in
            writer.header(name: name, help: help, type: "gauge")
            for (values, gauge) in family.series.all() {
                writer.sample(name: name, labelNames: family.labelNames, labelValues: values, value: gauge.value)
            }
        }
    }

    /// A gauge without labels whose value `compute` returns at scrape time (queue depth read from a
    /// structure, pool connections in use).
    public func gauge(_ name: String, help: String, compute: @escaping @Sendable () -> Double) throws(MetricsError) {
        try registerComputed(name, help: help, kind: .gauge, labelNames: []) {
            [LabelledSample(labelValues: [], value: compute())]
        }
    }

    /// A gauge with labels whose samples `compute` returns at scrape time. Samples whose label values do
    /// not match `labelNames` are skipped.
    public func gauge(_ name: String, help: String, labelNames: [String],
                      compute: @escaping @Sendable () -> [LabelledSample]) throws(MetricsError) {
        try registerComputed(name, help: help, kind: .gauge, labelNames: labelNames, compute: compute)
    }

    // MARK: Histograms

    /// A histogram without labels. `buckets` are finite, strictly increasing upper bounds (a trailing
    /// `+Inf` is allowed and implied anyway); the default suits latencies in seconds.
    public func histogram(_ name: String, help: String,
                          buckets: [Double] = Histogram.defaultLatencyBuckets) throws(MetricsError) -> Histogram {
        guard let bounds = Histogram.validatedBounds(buckets) else { throw .invalidBuckets(metric: name) }
        return try register(name, help: help, kind: .histogram, shape: .plain, buckets: bounds) {
            Histogram(upperBounds: bounds)
        } render: { histogram, name, help, writer in
            writer.header(name: name, help: help, type: "histogram")
            Self.writeHistogram(histogram.snapshot, name: name, labelNames: [], labelValues: [], into: &writer)
        }
    }

    /// A histogram with labels (not `le`, which the buckets use).
    public func histogram(_ name: String, help: String, labelNames: [String],
                          buckets: [Double] = Histogram.defaultLatencyBuckets) throws(MetricsError) -> HistogramFamily {
        guard let bounds = Histogram.validatedBounds(buckets) else { throw .invalidBuckets(metric: name) }
        try validateLabels(labelNames, metric: name, reserved: ["le"])
        let limit = maximumSeriesPerMetric
        return try register(name, help: help, kind: .histogram, shape: .labelled(labelNames), buckets: bounds) {
            HistogramFamily(name: name, labelNames: labelNames, upperBounds: bounds, limit: limit)
        } render: { family, name, help, writer in
            writer.header(name: name, help: help, type: "histogram")
            for (values, histogram) in family.series.all() {
                Self.writeHistogram(histogram.snapshot, name: name, labelNames: family.labelNames, labelValues: values, into: &writer)
            }
        }
    }

    // MARK: Rendering

    /// Every metric in the text exposition format 0.0.4, in registration order.
    public func render() -> String {
        let renderers = lock.withLock { registrations.map(\.render) }
        var writer = PrometheusTextWriter()
        for render in renderers { render(&writer) }
        return writer.text
    }

    // MARK: Registration

    enum Kind: String { case counter, gauge, histogram }

    /// What must match for a second registration to return the first one.
    enum Shape: Equatable {
        case plain
        case labelled([String])
        /// Computed metrics are never shared: their closure cannot be compared.
        case computed
    }

    private struct Registration {
        let name: String
        let help: String
        let kind: Kind
        let shape: Shape
        let buckets: [Double]
        let object: AnyObject?
        let render: @Sendable (inout PrometheusTextWriter) -> Void
    }

    private func register<Metric: AnyObject & Sendable>(
        _ name: String, help: String, kind: Kind, shape: Shape, buckets: [Double] = [],
        make: () -> Metric,
        render: @escaping @Sendable (Metric, String, String, inout PrometheusTextWriter) -> Void
    ) throws(MetricsError) -> Metric {
        guard PrometheusTextWriter.isValidMetricName(name) else { throw .invalidMetricName(name) }
        lock.lock()
        defer { lock.unlock() }
        if let existing = registrations.first(where: { $0.name == name }) {
            guard existing.kind == kind, existing.shape == shape, shape != .computed, existing.help == help,
                  existing.buckets == buckets, let metric = existing.object as? Metric else {
                throw .conflictingRegistration(name)
            }
            return metric
        }
        let exposed = Self.sampleNames(name, kind: kind)
        if exposed.contains(where: { sampleNames[$0] != nil }) { throw .conflictingRegistration(name) }
        let metric = make()
        for sample in exposed { sampleNames[sample] = name }
        registrations.append(Registration(name: name, help: help, kind: kind, shape: shape, buckets: buckets, object: metric) { writer in
            render(metric, name, help, &writer)
        })
        return metric
    }

    private func registerComputed(_ name: String, help: String, kind: Kind, labelNames: [String],
                                  compute: @escaping @Sendable () -> [LabelledSample]) throws(MetricsError) {
        try validateLabels(labelNames, metric: name, reserved: [])
        let marker = ComputedMetricMarker()
        _ = try register(name, help: help, kind: kind, shape: .computed) { marker } render: { _, name, help, writer in
            writer.header(name: name, help: help, type: kind.rawValue)
            var seen = Set<[String]>()
            for sample in compute() where sample.labelValues.count == labelNames.count {
                // A duplicate series would make the whole scrape invalid for Prometheus.
                guard seen.insert(sample.labelValues).inserted else { continue }
                writer.sample(name: name, labelNames: labelNames, labelValues: sample.labelValues, value: sample.value)
            }
        }
    }

    private func validateLabels(_ labelNames: [String], metric: String, reserved: Set<String>) throws(MetricsError) {
        var seen = Set<String>()
        for label in labelNames {
            guard PrometheusTextWriter.isValidLabelName(label), !reserved.contains(label), seen.insert(label).inserted else {
                throw .invalidLabelName(metric: metric, label: label)
            }
        }
    }

    private static func sampleNames(_ name: String, kind: Kind) -> [String] {
        kind == .histogram ? [name, name + "_bucket", name + "_sum", name + "_count"] : [name]
    }

    private static func writeHistogram(_ snapshot: HistogramSnapshot, name: String, labelNames: [String],
                                       labelValues: [String], into writer: inout PrometheusTextWriter) {
        let bucketName = name + "_bucket"
        for (bound, count) in zip(snapshot.upperBounds, snapshot.cumulativeCounts) {
            writer.sample(name: bucketName, labelNames: labelNames, labelValues: labelValues,
                          extraLabel: ("le", PrometheusTextWriter.formatValue(bound)), value: Double(count))
        }
        writer.sample(name: name + "_sum", labelNames: labelNames, labelValues: labelValues, value: snapshot.sum)
        writer.sample(name: name + "_count", labelNames: labelNames, labelValues: labelValues, value: Double(snapshot.count))
    }
}

/// Stands in the registry for a computed metric, which has no recording object.
private final class ComputedMetricMarker: Sendable {}
