import Contracts
import Foundation
import HTTP
import ServiceKit

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
        // Answers as an `InboxReceiver` would: a batch (one envelope a line) with a result per event.
        router.post("/events") { request, _ in
            var results: [OutboxEnvelope.BatchResult] = []
            for line in try request.collectBody().split(separator: 0x0A) {
                let event = try JSONDecoder().decode(JSONValue.self, from: Data(line))
                store.append(event)
                results.append(.init(eventId: event["id"]?.stringValue, outcome: "processed"))
            }
            return try .json(OutboxEnvelope.BatchAnswer(results: results))
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
