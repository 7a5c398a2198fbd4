import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension MetricsRegistry {
    /// Registers the standard process metrics, read from `/proc/self` at scrape time:
    /// `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
    /// `process_max_fds`, `process_cpu_seconds_total` and `process_start_time_seconds`. A value that
    /// cannot be read is left out of the scrape rather than reported as zero.
    public func registerProcessMetrics() throws(MetricsError) {
        try gauge("process_resident_memory_bytes", help: "Resident memory size in bytes.", labelNames: []) {
            ProcessStatistics.read()?.residentBytes.map { [LabelledSample(labelValues: [], value: $0)] } ?? []
        }
        try gauge("process_virtual_memory_bytes", help: "Virtual memory size in bytes.", labelNames: []) {
            ProcessStatistics.read()?.virtualBytes.map { [LabelledSample(labelValues: [], value: $0)] } ?? []
        }
        try gauge("process_open_fds", help: "Number of open file descriptors.", labelNames: []) {
            ProcessStatistics.openFileDescriptors().map { [LabelledSample(labelValues: [], value: $0)] } ?? []
        }
        try gauge("process_max_fds", help: "Maximum number of open file descriptors.", labelNames: []) {
            var limit = rlimit()
            guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return [] }
            return [LabelledSample(labelValues: [], value: Double(limit.rlim_cur))]
        }
        try counter("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.") {
            ProcessStatistics.read()?.cpuSeconds.map { [LabelledSample(labelValues: [], value: $0)] } ?? []
        }
        let start = ProcessStatistics.read()?.startTimeSeconds
        try gauge("process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.", labelNames: []) {
            start.map { [LabelledSample(labelValues: [], value: $0)] } ?? []
        }
    }
}

/// Figures about this process from `/proc/self/stat` (see proc(5)).
struct ProcessStatistics {
    var residentBytes: Double?
    var virtualBytes: Double?
    var cpuSeconds: Double?
    var startTimeSeconds: Double?

    static func read() -> ProcessStatistics? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8) else { return nil }
        return parse(stat: stat, bootTime: bootTime(), ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
                     pageSize: Double(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// Parses the fields after the command name, which is in parentheses and may itself contain spaces
    /// and parentheses, hence the search for the last `)`.
    static func parse(stat: String, bootTime: Double?, ticksPerSecond: Double, pageSize: Double) -> ProcessStatistics? {
        guard let close = stat.lastIndex(of: ")"), ticksPerSecond > 0 else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // fields[0] is field 3 (state): field n of proc(5) is fields[n - 3].
        func field(_ n: Int) -> Double? { n - 3 < fields.count ? Double(fields[n - 3]) : nil }
        var result = ProcessStatistics()
        if let user = field(14), let system = field(15) { result.cpuSeconds = (user + system) / ticksPerSecond }
        if let start = field(22), let bootTime { result.startTimeSeconds = bootTime + start / ticksPerSecond }
        result.virtualBytes = field(23)
        if let pages = field(24) { result.residentBytes = pages * pageSize }
        return result
    }

    /// The system's boot time from the `btime` line of `/proc/stat`.
    static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    static func openFileDescriptors() -> Double? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        return Double(entries.count)
    }
}
