import Foundation
import Postgres

/// The settings every service reads from its environment. Each variable is named in the error when it
/// is missing or malformed; `loadConfigurationOrExit` reports all of them at once.
public struct ServiceSettings: Sendable {
    public var host: String
    public var port: Int
    public var eventLoops: Int
    public var workers: Int
    public var maxBodyBytes: Int
    public var shutdownGracePeriod: TimeInterval
    /// The service's own schema; by default the service name (or `defaultSchema`).
    public var databaseSchema: String
    public var database: PostgresConfiguration
    /// Shared secret that services require on every internal call (`x-lattice-internal`).
    public var internalSecret: String
    public var logLevel: LogLevel
    /// The bank's time zone; rules about days and hours use it.
    public var timeZone: TimeZone
    /// Where the gateway listens, for the internal calls services make to it (the org directory).
    public var gatewayURL: String

    /// Reads `LATTICE_HOST`, `LATTICE_PORT`, `LATTICE_HTTP_EVENT_LOOPS`, `LATTICE_HTTP_WORKERS`,
    /// `LATTICE_MAX_BODY_BYTES`, `LATTICE_SHUTDOWN_GRACE`, `DATABASE_URL`, `LATTICE_DB_SCHEMA`,
    /// `LATTICE_DB_POOL_SIZE`, `LATTICE_DB_ACQUIRE_TIMEOUT`, `LATTICE_INTERNAL_SECRET`, `LATTICE_LOG_LEVEL`,
    /// `LATTICE_TIMEZONE`, `LATTICE_GATEWAY_URL`.
    public init(service: String, config: ConfigReader, defaultPort: Int, defaultSchema: String? = nil) throws(ConfigError) {
        host = try config.string("LATTICE_HOST", default: "127.0.0.1")
        port = try config.int("LATTICE_PORT", in: 0...65535, default: defaultPort)
        eventLoops = try config.int("LATTICE_HTTP_EVENT_LOOPS", in: 1...64,
                                    default: max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4)))
        workers = try config.int("LATTICE_HTTP_WORKERS", in: 1...1024, default: 32)
        maxBodyBytes = try config.int("LATTICE_MAX_BODY_BYTES", in: 1024...(1 << 34), default: 10 << 20)
        shutdownGracePeriod = try config.duration("LATTICE_SHUTDOWN_GRACE", in: 0...600, default: 10)
        databaseSchema = try config.value("LATTICE_DB_SCHEMA", ConfigParser<String>.schemaName, default: defaultSchema ?? service)
        let url = try config.required("DATABASE_URL", ConfigParser<PostgresConfiguration>.databaseURL)
        var db = url
        db.poolSize = try config.int("LATTICE_DB_POOL_SIZE", in: 1...500, default: 16)
        db.acquireTimeout = try config.duration("LATTICE_DB_ACQUIRE_TIMEOUT", in: 0.01...600, default: 5)
        db.applicationName = "lattice-\(service)"
        db.searchPath = [databaseSchema]
        database = db
        internalSecret = try config.secret("LATTICE_INTERNAL_SECRET", minimumLength: 16)
        logLevel = try config.value(LogLevel.variable, .choice(LogLevel.self), default: .info)
        timeZone = try config.value("LATTICE_TIMEZONE", ConfigParser<TimeZone>.timeZone, default: TimeZone(identifier: "Asia/Shanghai")!)
        gatewayURL = try config.value("LATTICE_GATEWAY_URL", .url(schemes: ["http", "https"]),
                                      default: URL(string: "http://127.0.0.1:8080")!).absoluteString
    }
}

extension ConfigParser where Value == PostgresConfiguration {
    /// A `postgres://` URL; the password never appears in an error.
    public static var databaseURL: ConfigParser<PostgresConfiguration> {
        ConfigParser(expected: "a postgres:// or postgresql:// URL", placeholder: { PostgresConfiguration() },
                     show: ConfigParsers.quotedRedactingCredentials) { text in
            try? PostgresConfiguration(url: text)
        }
    }
}

extension ConfigParser where Value == String {
    /// A PostgreSQL schema name: lower-case letters, digits and `_`, starting with a letter.
    public static var schemaName: ConfigParser<String> {
        ConfigParser(expected: "a schema name ([a-z][a-z0-9_]{0,62})", placeholder: { "placeholder" }) { text in
            let ok = text.utf8.count <= 63 && text.first.map { $0 >= "a" && $0 <= "z" } == true
                && text.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
            return ok ? text : nil
        }
    }
}

extension ConfigParser where Value == TimeZone {
    /// An IANA time-zone name such as `Asia/Shanghai`.
    public static var timeZone: ConfigParser<TimeZone> {
        ConfigParser(expected: "an IANA time zone such as Asia/Shanghai", placeholder: { TimeZone(identifier: "UTC")! }) {
            TimeZone(identifier: $0)
        }
    }
}
