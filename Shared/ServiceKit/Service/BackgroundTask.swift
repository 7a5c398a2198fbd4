import Foundation

/// Work a service runs beside its HTTP server: outbox relays, job workers, schedulers.
///
/// `start` is called after migrations, before the server accepts requests; `stop` during shutdown,
/// after the server stopped accepting. `stop` returns once the task holds no claimed work (true), or
/// when the timeout passed (false: leases then hand the work to another replica).
public protocol BackgroundTask: AnyObject, Sendable {
    var taskName: String { get }
    func start() throws
    @discardableResult func stop(timeout: TimeInterval) -> Bool
}

extension OutboxRelay: BackgroundTask {
    public var taskName: String { "outbox-relay" }
}

extension JobWorker: BackgroundTask {
    public var taskName: String { "job-worker" }
}

extension Scheduler: BackgroundTask {
    public var taskName: String { "scheduler" }
}
