import Foundation
import XCTest
@testable import Postgres

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
}

/// Access to the throwaway PostgreSQL cluster that `scripts/test` starts.
enum TestDatabase {
    static func environment(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw TestSetupError(description: "\(name) is not set: run the tests with scripts/test (it starts PostgreSQL)")
        }
        return value
    }

    /// The test database configuration, optionally with `searchPath = [schema]`.
    static func configuration(schema: String? = nil, poolSize: Int = 4, acquireTimeout: TimeInterval = 2) throws -> PostgresConfiguration {
        var config = try PostgresConfiguration(url: environment("LATTICE_TEST_DATABASE_URL"))
        config.poolSize = poolSize
        config.acquireTimeout = acquireTimeout
        config.statementTimeout = 30
        config.applicationName = "lattice-postgres-tests"
        if let schema { config.searchPath = [schema, "public"] }
        return config
    }

    /// A fresh schema name, unique per test run.
    static func uniqueSchema(_ prefix: String) -> String {
        "t_\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Creates `schema` and returns a connection that uses it.
    static func connection(schema: String) throws -> PostgresConnection {
        let admin = try PostgresConnection.connect(configuration())
        defer { admin.close() }
        try admin.execute("CREATE SCHEMA \(PostgresIdentifier.quoted(schema))")
        return try PostgresConnection.connect(configuration(schema: schema))
    }

    /// Creates `schema` and returns a pool whose connections use it.
    static func pool(schema: String, poolSize: Int = 4, acquireTimeout: TimeInterval = 2) throws -> PostgresPool {
        let admin = try PostgresConnection.connect(configuration())
        defer { admin.close() }
        try admin.execute("CREATE SCHEMA \(PostgresIdentifier.quoted(schema))")
        return PostgresPool(configuration: try configuration(schema: schema, poolSize: poolSize, acquireTimeout: acquireTimeout))
    }

    static func dropSchema(_ schema: String) {
        guard let config = try? configuration(), let admin = try? PostgresConnection.connect(config) else { return }
        defer { admin.close() }
        _ = try? admin.execute("DROP SCHEMA IF EXISTS \(PostgresIdentifier.quoted(schema)) CASCADE")
    }

    /// Restarts the test cluster with pg_ctl (fast mode: sessions are terminated), waiting until it
    /// accepts connections again.
    static func restartServer() throws {
        let data = try environment("LATTICE_TEST_PGDATA")
        let bin = try environment("LATTICE_TEST_PG_BINDIR")
        let port = try environment("LATTICE_TEST_PG_PORT")
        let pgCtl = ["\(bin)/pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "-l", "\(data)/server.log", "restart",
                     "-o", "-p \(port) -k \(data) -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off"]
        let arguments = getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + pgCtl : pgCtl
        let status = try spawnAndWait(arguments)
        guard status == 0 else {
            throw TestSetupError(description: "pg_ctl restart exited with \(status)")
        }
    }
}

/// Runs a program (looked up in PATH) with stdin/stdout/stderr on /dev/null and every other descriptor
/// closed, and waits for it.
///
/// Not Foundation.Process: on Linux it watches a socket inherited by the child to notice its exit, and
/// the postmaster that pg_ctl leaves running inherits that socket too, so `waitUntilExit` never
/// returns. Closing all descriptors from 3 up also keeps our libpq sockets and pipes out of it.
func spawnAndWait(_ arguments: [String]) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    // glibc ignores close actions for descriptors that are not open.
    for fd in 3..<Int32(4096) { posix_spawn_file_actions_addclose(&actions, fd) }
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
    guard rc == 0 else { throw TestSetupError(description: "posix_spawnp \(arguments[0]) failed: \(rc)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw TestSetupError(description: "waitpid failed: \(errno)") }
    }
    // WIFEXITED / WEXITSTATUS by hand (macros are not imported).
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
}

/// Waits until `condition` holds or `timeout` passes; returns whether it held.
func eventually(timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return condition()
}

/// Runs `count` bodies on threads of our own and waits for all of them.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}

/// A lock-protected box for collecting results from threads.
final class Locked<Value>: @unchecked Sendable {
    // Thread-safety: `value` is guarded by `lock`.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withValue<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
    var current: Value { withValue { $0 } }
}
