import Contracts
import Foundation
import HTTP
import ServiceKit

/// Asks every upstream's `/healthz` every few seconds on its own thread, so the gateway's `/healthz`
/// answers at once from the last round instead of waiting on slow services.
///
/// Thread-safety: `snapshot` is guarded by `lock`; the polling thread is the only writer.
final class UpstreamHealthMonitor: BackgroundTask, @unchecked Sendable {
    var taskName: String { "upstream-health" }
    private let table: UpstreamTable
    private let client: HTTPClient
    private let interval: TimeInterval
    private let lock = NSCondition()
    private var snapshot: [String: JSONValue] = [:]
    private var running = false
    private var finished = true

    init(table: UpstreamTable, interval: TimeInterval = 5) {
        self.table = table
        self.interval = interval
        var configuration = HTTPClient.Configuration()
        configuration.retry = .none
        configuration.connectTimeoutMs = 500
        configuration.timeoutMs = 1500
        client = HTTPClient(configuration: configuration)
        for name in table.services.keys { snapshot[name] = .object(["status": "unknown"]) }
    }

    /// The last known state of each upstream.
    var report: [String: JSONValue] {
        lock.lock()
        defer { lock.unlock() }
        let degraded = snapshot.values.contains { $0["status"]?.stringValue != "ok" }
        return ["upstreams": .object(snapshot), "status": .string(degraded ? "degraded" : "ok")]
    }

    func start() throws {
        lock.lock()
        running = true
        finished = false
        lock.unlock()
        let thread = Thread { [self] in loop() }
        thread.name = "upstream-health"
        thread.start()
    }

    @discardableResult
    func stop(timeout: TimeInterval) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        running = false
        lock.broadcast()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !finished { if !lock.wait(until: deadline) { return false } }
        return true
    }

    /// One round over every upstream (also used by tests).
    func poll() {
        var results: [String: JSONValue] = [:]
        for name in table.services.keys.sorted() {
            guard let base = table.baseURL(of: name) else { continue }
            let started = Date()
            do {
                let response = try client.send(HTTPClientRequest(method: "GET", url: base + "/healthz"))
                let ms = Int(Date().timeIntervalSince(started) * 1000)
                results[name] = .object(["status": .string(response.status == 200 ? "ok" : "failing"),
                                         "httpStatus": .number(Double(response.status)), "ms": .number(Double(ms))])
            } catch {
                results[name] = .object(["status": "down", "error": .string(String(describing: error))])
            }
        }
        lock.lock()
        snapshot = results
        lock.unlock()
    }

    private func loop() {
        while true {
            lock.lock()
            let keepGoing = running
            lock.unlock()
            guard keepGoing else { break }
            poll()
            lock.lock()
            if running { _ = lock.wait(until: Date(timeIntervalSinceNow: interval)) }
            lock.unlock()
        }
        lock.lock()
        finished = true
        lock.broadcast()
        lock.unlock()
    }
}
