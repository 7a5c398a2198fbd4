import Foundation
import Synchronization
import Postgres

/// A test could not set itself up (a missing database, a missing binary): a failure, never a skip.
public struct TestSetupFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What `scripts/test` provides: the throwaway PostgreSQL cluster.
public enum TestEnvironment {
    /// `LATTICE_TEST_DATABASE_URL`, or a failure telling how to run the tests.
    public static func databaseURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["LATTICE_TEST_DATABASE_URL"], !url.isEmpty else {
            throw TestSetupFailure("LATTICE_TEST_DATABASE_URL is not set: run the tests with scripts/test (it starts PostgreSQL)")
        }
        return url
    }

    /// A fresh schema name for one test.
    public static func uniqueSchema(_ prefix: String) -> String {
        "\(prefix)_" + UUID().uuidString.prefix(8).lowercased()
    }

    /// Drops a schema and everything in it; errors are ignored (cleanup).
    public static func dropSchema(_ schema: String) {
        guard let url = try? databaseURL(), let config = try? PostgresConfiguration(url: url),
              let connection = try? PostgresConnection.connect(config),
              let quoted = try? PostgresIdentifier.quoted(schema) else { return }
        _ = try? connection.execute("DROP SCHEMA IF EXISTS \(quoted) CASCADE")
        connection.close()
    }

    /// A free TCP port on loopback, never the same twice in this process.
    ///
    /// Ports come from below the kernel's ephemeral range (32768 up), so neither another process's
    /// port-0 bind nor an outgoing connection takes one between this call and the service's bind; and
    /// a port handed out once is not handed out again, though it may be free again meanwhile.
    public static func freePort() -> Int {
        handedOut.withLock { used in
            while true {
                let port = Int.random(in: 20_000..<32_000)
                guard !used.contains(port), canBind(port) else { continue }
                used.insert(port)
                return port
            }
        }
    }

    private static let handedOut = Mutex<Set<Int>>([])

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
