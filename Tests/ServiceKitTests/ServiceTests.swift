import Contracts
import Foundation
import HTTP
import Postgres
import TestSupport
import XCTest
@testable import ServiceKit

/// A whole service on ServiceKit: real PostgreSQL, real sockets, the standard middleware.
final class ServiceTests: XCTestCase {
    static let secret = "test-internal-secret-0123456789"

    func databaseURL() throws -> String { try TestEnvironment.databaseURL() }

    func environment(schema: String) throws -> [String: String] {
        ["DATABASE_URL": try databaseURL(), "LATTICE_DB_SCHEMA": schema, "LATTICE_INTERNAL_SECRET": Self.secret,
         "LATTICE_PORT": "0", "LATTICE_HTTP_EVENT_LOOPS": "1", "LATTICE_HTTP_WORKERS": "4", "LATTICE_LOG_LEVEL": "debug"]
    }

    func schemaName() -> String { "svc_" + UUID().uuidString.prefix(8).lowercased() }

    func makeService(schema: String, sink: InMemoryLogSink) throws -> Service {
        let settings = try ServiceSettings(service: "testsvc", config: ConfigReader(environment: try environment(schema: schema)), defaultPort: 0)
        let service = try Service(name: "testsvc", settings: settings, migrations: [
            Migration(version: 1, name: "create_items", sql: "CREATE TABLE items (id text PRIMARY KEY)"),
        ], logSink: sink)
        service.router.get("/whoami") { _, context in try .json(try context.requireIdentity()) }
        service.router.get("/fails") { _, _ in throw NSError(domain: "boom", code: 1) }
        return service
    }

    func dropSchema(_ schema: String) {
        guard let url = try? databaseURL(), let config = try? PostgresConfiguration(url: url),
              let c = try? PostgresConnection.connect(config) else { return }
        _ = try? c.execute("DROP SCHEMA IF EXISTS \(PostgresIdentifier.quoted(schema)) CASCADE")
        c.close()
    }

    func testHealthReadinessMetricsAndInternalAuth() throws {
        let schema = schemaName()
        defer { dropSchema(schema) }
        let sink = InMemoryLogSink()
        let service = try makeService(schema: schema, sink: sink)
        try service.start()
        defer { service.stop() }
        let base = "http://127.0.0.1:\(service.port)"
        let client = HTTPClient()   // no credential: like an outsider

        XCTAssertEqual(try client.send(HTTPClientRequest(method: "GET", url: base + "/healthz")).status, 200)
        XCTAssertEqual(try client.send(HTTPClientRequest(method: "GET", url: base + "/readyz")).status, 200)

        let anonymous = try client.send(HTTPClientRequest(method: "GET", url: base + "/whoami"))
        XCTAssertEqual(anonymous.status, 401)
        XCTAssertEqual(anonymous.apiError?.code, "unauthorized")

        var forged = HTTPClientRequest(method: "GET", url: base + "/whoami")
        forged.headers.add(InternalHeader.credential, "test-internal-secret-0123456788")
        forged.headers.add(InternalHeader.userId, "u1")
        XCTAssertEqual(try client.send(forged).status, 401, "a wrong credential is refused")

        var insider = HTTPClient.Configuration()
        insider.internalCredential = Self.secret
        let insiderClient = HTTPClient(configuration: insider)
        XCTAssertEqual(try insiderClient.send(HTTPClientRequest(method: "GET", url: base + "/whoami")).status, 401,
                       "a service call without a forwarded user has no identity")
        let caller = CallerIdentity(userId: "u-7", orgId: "sh", orgPath: "/hq/sh/", roles: ["operator"], rights: ["edit", "view"])
        let me = try insiderClient.get(base + "/whoami", as: CallerIdentity.self, context: .init(requestId: "req-42", identity: caller))
        XCTAssertEqual(me, caller)

        var incomplete = HTTPClientRequest(method: "GET", url: base + "/whoami")
        incomplete.headers.add(InternalHeader.userId, "u1")
        XCTAssertEqual(try insiderClient.send(incomplete).status, 401, "an identity without an org path is refused")

        let failure = try insiderClient.send(HTTPClientRequest(method: "GET", url: base + "/fails"))
        XCTAssertEqual(failure.status, 500)
        XCTAssertEqual(failure.apiError?.code, "internal")

        let metrics = try client.send(HTTPClientRequest(method: "GET", url: base + "/metrics")).bodyText
        XCTAssertTrue(metrics.contains(#"http_requests_total{method="GET",route="/whoami",status="401"}"#), metrics)
        XCTAssertTrue(metrics.contains("db_pool_connections_open"))
        XCTAssertTrue(metrics.contains("http_request_duration_seconds_bucket"))

        // The access log carries the request id that came in.
        let lines = try sink.objects()
        XCTAssertTrue(lines.contains { $0["requestId"] as? String == "req-42" && $0["msg"] as? String == "request" && $0["status"] as? Int == 200 },
                      "\(lines.suffix(5))")
        XCTAssertTrue(lines.contains { $0["msg"] as? String == "unhandled error" }, "a 500 is logged with its cause")
    }

    func testReadinessReportsAFailingCheck() throws {
        let schema = schemaName()
        defer { dropSchema(schema) }
        let service = try makeService(schema: schema, sink: InMemoryLogSink())
        service.addReadinessCheck("profile-feed") { throw APIError.unavailable("feed not caught up") }
        try service.start()
        defer { service.stop() }
        var noRetry = HTTPClient.Configuration()
        noRetry.retry = .none
        let r = try HTTPClient(configuration: noRetry).send(HTTPClientRequest(method: "GET", url: "http://127.0.0.1:\(service.port)/readyz"))
        XCTAssertEqual(r.status, 503)
        XCTAssertTrue(r.bodyText.contains("profile-feed"))
        XCTAssertEqual(try HTTPClient().send(HTTPClientRequest(method: "GET", url: "http://127.0.0.1:\(service.port)/healthz")).status, 200,
                       "liveness stays green")
    }

    func testStartFailsCleanlyWhenTheDatabaseIsUnreachable() throws {
        var env = try environment(schema: schemaName())
        env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
        let settings = try ServiceSettings(service: "testsvc", config: ConfigReader(environment: env), defaultPort: 0)
        let service = try Service(name: "testsvc", settings: settings, migrations: [], logSink: InMemoryLogSink())
        XCTAssertThrowsError(try service.start())
        XCTAssertEqual(service.port, 0, "nothing listens after a failed start")
    }

    func testSettingsNameEveryMissingOrMalformedVariable() {
        let result = loadConfiguration(environment: ["LATTICE_PORT": "http", "LATTICE_TIMEZONE": "Mars/Olympus"]) { config in
            try ServiceSettings(service: "x", config: config, defaultPort: 1)
        }
        guard case .failure(let error) = result else { return XCTFail("expected failure") }
        let text = String(describing: error)
        for name in ["DATABASE_URL", "LATTICE_INTERNAL_SECRET", "LATTICE_PORT", "LATTICE_TIMEZONE"] {
            XCTAssertTrue(text.contains(name), "\(name) missing from: \(text)")
        }
        let secretLeak = loadConfiguration(environment: ["DATABASE_URL": "postgres://u:hunter2@h/db", "LATTICE_INTERNAL_SECRET": "short"]) { config in
            try ServiceSettings(service: "x", config: config, defaultPort: 1)
        }
        guard case .failure(let e2) = secretLeak else { return XCTFail("a short secret must be refused") }
        XCTAssertFalse(String(describing: e2).contains("short"), "secrets are never echoed")
    }

    // MARK: As a real process

    func testSIGTERMFinishesInFlightRequestsThenExits() throws {
        let schema = schemaName()
        defer { dropSchema(schema) }
        let fixture = try FixtureProcess("ServiceFixture", environment: try environment(schema: schema))
        XCTAssertTrue(fixture.waitForOutput("\"msg\":\"started\""), fixture.standardError + fixture.standardOutput)
        let port = try XCTUnwrap(Self.port(in: fixture.standardOutput))
        var insider = HTTPClient.Configuration()
        insider.internalCredential = Self.secret
        insider.timeoutMs = 10_000
        let client = HTTPClient(configuration: insider)
        XCTAssertEqual(try client.post("http://127.0.0.1:\(port)/notes", body: ["text": "hello"], as: [String: Int].self)["id"], 1)

        let answered = expectation(description: "slow request answered")
        let results = ResultBox()
        DispatchQueue.global().async {
            results.set(try? client.send(HTTPClientRequest(method: "GET", url: "http://127.0.0.1:\(port)/slow?s=1")))
            answered.fulfill()
        }
        Thread.sleep(forTimeInterval: 0.3)
        fixture.signal(SIGTERM)
        wait(for: [answered], timeout: 10)
        XCTAssertEqual(results.value?.status, 200, "the in-flight request finishes")
        XCTAssertEqual(results.value?.bodyText, "done")
        XCTAssertEqual(fixture.waitForExit(timeout: 10), 0)
        XCTAssertTrue(fixture.standardOutput.contains("\"msg\":\"stopped\""))
    }

    func testMissingConfigurationStopsStartWithExitCode78() throws {
        let fixture = try FixtureProcess("ServiceFixture", environment: ["DATABASE_URL": "", "LATTICE_INTERNAL_SECRET": "", "LATTICE_PORT": "99999"])
        XCTAssertEqual(fixture.waitForExit(timeout: 10), 78)
        for name in ["DATABASE_URL", "LATTICE_INTERNAL_SECRET", "LATTICE_PORT"] {
            XCTAssertTrue(fixture.standardError.contains(name), "stderr should name \(name): \(fixture.standardError)")
        }
    }

    static func port(in output: String) -> Int? {
        for line in output.split(separator: "\n") where line.contains("\"msg\":\"started\"") {
            if let data = line.data(using: .utf8), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                return obj["port"] as? Int
            }
        }
        return nil
    }

    final class ResultBox: @unchecked Sendable {
        // Thread-safety: guarded by `lock`.
        private let lock = NSLock()
        private var stored: HTTPClientResponse?
        func set(_ v: HTTPClientResponse?) { lock.lock(); stored = v; lock.unlock() }
        var value: HTTPClientResponse? { lock.lock(); defer { lock.unlock() }; return stored }
    }
}
