import Contracts
import Foundation
import HTTP

/// A subscriber for outbox deliveries: an HTTP server in the test process keeping every event body.
final class EventSink: @unchecked Sendable {
    /// Thread-safety: `events` is guarded by `lock` (the server's workers append).
    private final class Store: @unchecked Sendable {
        let lock = NSLock()
        var events: [JSONValue] = []
        func append(_ event: JSONValue) { lock.lock(); events.append(event); lock.unlock() }
        var all: [JSONValue] { lock.lock(); defer { lock.unlock() }; return events }
    }
    private let store: Store
    let server: HTTPServer

    init() throws {
        let router = Router()
        let store = Store()
        router.post("/events") { request, _ in
            store.append(try request.decode(JSONValue.self))
            return .status(204)
        }
        self.store = store
        server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), router: router, log: { _ in })
        try server.start()
    }

    var url: String { "http://127.0.0.1:\(server.port)/events" }

    /// (type, segmentId, customerId) of every event received so far.
    var received: [(type: String, segment: String, customer: String)] {
        store.all.map {
            ($0["type"]?.stringValue ?? "", $0["payload"]?["segmentId"]?.stringValue ?? "", $0["payload"]?["customerId"]?.stringValue ?? "")
        }
    }

    func stop() { server.shutdown() }
}
