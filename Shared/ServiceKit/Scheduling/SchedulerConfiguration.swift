import Foundation

/// How a `Scheduler` looks for due ticks.
public struct SchedulerConfiguration: Sendable {
    /// The service schema holding `schedules`.
    public var schema: String
    /// Written into `last_run_by`.
    public var instanceId: String
    /// Longest sleep between looks at the schedule table; a tick starts at most this late.
    public var pollInterval: TimeInterval
    /// Delay before a failed tick is tried again (capped by the tick's own interval).
    public var failureBackoff: RetryBackoff

    public init(schema: String, instanceId: String = InstanceName.make("scheduler"), pollInterval: TimeInterval = 1,
                failureBackoff: RetryBackoff = RetryBackoff(base: 1, maximum: 300)) {
        self.schema = schema
        self.instanceId = instanceId
        self.pollInterval = pollInterval
        self.failureBackoff = failureBackoff
    }

    func validated() throws(SchedulerError) -> SchedulerConfiguration {
        guard DataPlaneText.isName(instanceId, maxLength: 200, allowsAt: true) else {
            throw .invalidConfiguration("instanceId must be 1…200 characters of A-Z a-z 0-9 _ . : - @")
        }
        guard pollInterval >= 0.01, pollInterval <= 600 else {
            throw .invalidConfiguration("pollInterval must be 10 ms…10 min")
        }
        return self
    }
}

/// One run of a periodic schedule, as its handler sees it.
public struct ScheduledTick: Sendable {
    /// The schedule's name.
    public let name: String
    /// The grid time this run is for (`next_run_at` when it was claimed).
    public let scheduledAt: Date
    /// Whole ticks that were due but skipped because no replica ran them in time (all down, say);
    /// they are folded into this one run.
    public let missedTicks: Int
}
