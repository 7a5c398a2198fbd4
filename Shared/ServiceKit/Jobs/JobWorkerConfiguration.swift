import Foundation

/// How a `JobWorker` claims, runs and retries jobs. The defaults suit production; tests shorten them.
public struct JobWorkerConfiguration: Sendable {
    /// The service schema holding `jobs`.
    public var schema: String
    /// Written into `locked_by` while this worker holds jobs.
    public var workerId: String
    /// Threads claiming and running jobs.
    public var threads: Int
    /// Jobs one thread claims per statement (batch claims are what makes the queue fast).
    public var batchSize: Int
    /// How long a claim holds a job without renewal. The worker renews the leases of the jobs it still
    /// holds every `lease / 3`, so a long job keeps its lease while a killed worker's jobs return after
    /// at most this long.
    public var lease: TimeInterval
    /// Longest sleep between looks for due jobs.
    public var pollInterval: TimeInterval
    /// How often expired leases are looked for (jobs of killed workers go back to `pending`).
    public var reapInterval: TimeInterval
    /// Completions are written in batches at least this often while a batch runs.
    public var completionFlushInterval: TimeInterval
    /// Delay between failed attempts.
    public var backoff: RetryBackoff
    /// How long done jobs are kept (for an operator, and as their dedupe keys) before the maintenance
    /// thread deletes them; dead jobs are kept until an operator deals with them.
    public var finishedRetention: TimeInterval = 7 * 86_400

    public init(schema: String, workerId: String = InstanceName.make("job-worker"), threads: Int = 2,
                batchSize: Int = 50, lease: TimeInterval = 60, pollInterval: TimeInterval = 1,
                reapInterval: TimeInterval = 10, completionFlushInterval: TimeInterval = 1,
                backoff: RetryBackoff = RetryBackoff(base: 2, maximum: 900)) {
        self.schema = schema
        self.workerId = workerId
        self.threads = threads
        self.batchSize = batchSize
        self.lease = lease
        self.pollInterval = pollInterval
        self.reapInterval = reapInterval
        self.completionFlushInterval = completionFlushInterval
        self.backoff = backoff
    }

    func validated() throws(JobQueueError) -> JobWorkerConfiguration {
        func require(_ ok: Bool, _ why: String) throws(JobQueueError) {
            if !ok { throw .invalidConfiguration(why) }
        }
        try require(DataPlaneText.isName(workerId, maxLength: 200, allowsAt: true), "workerId must be 1…200 characters of A-Z a-z 0-9 _ . : - @")
        try require((1...256).contains(threads), "threads must be 1…256")
        try require((1...1_000).contains(batchSize), "batchSize must be 1…1000")
        try require(lease >= 0.3 && lease <= 86_400, "lease must be 300 ms…1 day")
        try require(pollInterval >= 0.005 && pollInterval <= 3_600, "pollInterval must be 5 ms…1 h")
        try require(reapInterval >= 0.05 && reapInterval <= 3_600, "reapInterval must be 50 ms…1 h")
        try require(finishedRetention >= 0.05 && finishedRetention <= 3_650 * 86_400, "finishedRetention must be 50 ms…10 years")
        try require(completionFlushInterval >= 0.01 && completionFlushInterval < lease / 2,
                    "completionFlushInterval must be at least 10 ms and below half the lease")
        return self
    }
}
