/// Work a service runs beside its HTTP server: outbox relays, job workers, schedulers.
///
/// `start` is called after migrations, before the server accepts requests; `stop` during shutdown,
/// after the server stopped accepting. `stop` must return only when the task holds no claimed work.
public protocol BackgroundTask: AnyObject, Sendable {
    var name: String { get }
    func start() throws
    func stop()
}
