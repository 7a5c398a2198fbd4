import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit
import XCTest

/// The PostgreSQL side of the outbox, job and scheduler tests: a fresh, migrated schema per test on the
/// cluster `scripts/test` starts. Without `LATTICE_TEST_DATABASE_URL` the tests fail, naming it.
enum DataPlaneTestDatabase {
    struct Missing: Error, CustomStringConvertible {
        var description: String { "LATTICE_TEST_DATABASE_URL is not set: run the tests with scripts/test (it starts PostgreSQL)" }
    }

    static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["LATTICE_TEST_DATABASE_URL"], !url.isEmpty else { throw Missing() }
        return url
    }

    static func configuration(poolSize: Int = 6) throws -> PostgresConfiguration {
        var config = try PostgresConfiguration(url: url())
        config.poolSize = poolSize
        config.acquireTimeout = 5
        config.statementTimeout = 30
        config.applicationName = "lattice-servicekit-tests"
        return config
    }

    /// Creates and migrates a new schema (ServiceKit tables plus `extra` SQL); returns its name.
    static func makeSchema(_ prefix: String, extra: String? = nil) throws -> String {
        let schema = "dp_\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        var migrations = DataPlaneSchema.migrations
        if let extra { migrations.append(Migration(version: 1, name: "test_tables", sql: extra)) }
        try Migrator(schema: schema, migrations: migrations).migrate(configuration: configuration())
        return schema
    }

    /// A pool whose sessions use `schema` (the ServiceKit code qualifies its tables anyway).
    static func pool(schema: String, size: Int = 6) throws -> PostgresPool {
        var config = try configuration(poolSize: size)
        config.searchPath = [schema]
        return PostgresPool(configuration: config)
    }

    static func drop(_ schema: String) {
        guard let config = try? configuration(), let admin = try? PostgresConnection.connect(config) else { return }
        defer { admin.close() }
        _ = try? admin.execute("DROP SCHEMA IF EXISTS \(PostgresIdentifier.quoted(schema)) CASCADE")
    }

    /// One integer from a query (`count(*)` and the like).
    static func integer(_ pool: PostgresPool, _ sql: String, _ binds: (any PostgresEncodable)?...) throws -> Int {
        try pool.withConnection { conn in
            guard let row = try conn.query(sql, binds: binds).first else { return 0 }
            return try row.decode(0, as: Int.self)
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func dataPlaneWait(timeout: TimeInterval = 15, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

/// A lock-protected value shared between a test and its handlers.
final class DataPlaneBox<Value>: @unchecked Sendable {
    // Thread-safety: `value` is guarded by `lock`.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func update<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
    var current: Value { update { $0 } }
}

/// A quiet logger for components under test (warnings and errors kept in memory for inspection).
func dataPlaneLogger(_ sink: InMemoryLogSink = InMemoryLogSink()) -> Logger {
    Logger(service: "dataplane-test", minimumLevel: .warning, sink: sink)
}

/// A subscriber on a real loopback `HTTPServer`: `POST /events` runs an `InboxReceiver` whose handler
/// records the event in the `received` table of `schema`. It counts raw deliveries per event id, can
/// fail on purpose, and can be slow.
final class TestSubscriber: @unchecked Sendable {
    // Thread-safety: the mutable state lives in `DataPlaneBox`es, each with its own lock.
    let server: HTTPServer
    let deliveries = DataPlaneBox<[UUID: Int]>([:])
    let duplicatesAnswered = DataPlaneBox(0)
    let inFlight = DataPlaneBox(0)
    let lastHeaders = DataPlaneBox<HTTPHeaders?>(nil)
    /// When set, every delivery is answered with this status before touching the database.
    let failWithStatus = DataPlaneBox<Int?>(nil)
    /// Time the handler sleeps inside its transaction.
    let handlerDelay = DataPlaneBox<TimeInterval>(0)
    /// Events whose payload `n` is in this set make the handler throw (a poison event).
    let poison = DataPlaneBox<Set<Int>>([])
    /// POSTs received (one per batch).
    let requests = DataPlaneBox(0)

    var url: String { "http://127.0.0.1:\(server.port)/events" }

    init(schema: String, pool: PostgresPool) throws {
        let router = Router()
        let delay = handlerDelay, poison = self.poison, requests = self.requests
        let receiver = try InboxReceiver(schema: schema, consumer: "test.subscriber", pool: pool) { event, conn, _ in
            let seconds = delay.current
            if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
            let payload = try event.payload(as: [String: Int].self)
            if poison.current.contains(payload["n"] ?? -1) {
                throw APIError(status: 422, code: "poison", message: "event \(payload["n"] ?? -1) cannot be applied")
            }
            try conn.execute("INSERT INTO received (event_id, type, n) VALUES ($1, $2, $3)",
                             event.id, event.type, payload["n"] ?? -1)
        }
        let (deliveries, duplicates, inFlight, headers, fail) = (self.deliveries, duplicatesAnswered, self.inFlight, lastHeaders, failWithStatus)
        router.post("/events") { request, context in
            inFlight.update { $0 += 1 }
            defer { inFlight.update { $0 -= 1 } }
            headers.update { $0 = request.headers }
            requests.update { $0 += 1 }
            struct Head: Decodable { let id: UUID }
            var ids: [UUID] = []
            if let id = request.headers.first(OutboxEnvelope.eventIdHeader).flatMap(UUID.init(uuidString:)) {
                ids = [id]
            } else if request.headers.first("content-type") == OutboxEnvelope.batchContentType {
                let body = try request.collectBody()
                ids = body.split(separator: 0x0A).compactMap { try? JSONDecoder().decode(Head.self, from: Data($0)).id }
            }
            deliveries.update { for id in ids { $0[id, default: 0] += 1 } }
            if let status = fail.current { return Response(status: status) }
            let response = try receiver.handle(request, context: context)
            if let text = response.body.bytes.map({ String(decoding: $0, as: UTF8.self) }) {
                let answered = text.components(separatedBy: "\"duplicate\"").count - 1
                duplicates.update { $0 += answered }
            }
            return response
        }
        var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        config.eventLoops = 1
        config.workers = 8
        server = HTTPServer(configuration: config, router: router, log: { _ in })
        try server.start()
    }

    /// SQL creating the table the subscriber writes into.
    static let tableSQL = """
        CREATE TABLE received (event_id uuid NOT NULL, type text NOT NULL, n integer NOT NULL,
                               received_at timestamptz NOT NULL DEFAULT now());
        """

    func shutdown() { server.shutdown() }
}
