import Foundation

/// How to reach PostgreSQL and how the pool behaves, usually parsed from `DATABASE_URL`.
///
/// URL form: `postgres://user:password@host:port/database?option=value&…` (`postgresql://` too).
/// User, password, host, database and option values are percent-decoded; a host may be a bracketed
/// IPv6 address or a percent-encoded Unix socket directory (`%2Fvar%2Frun%2Fpostgresql`).
///
/// Options understood in the query string (anything else is rejected, so a typo cannot be ignored):
/// - `pool_size` (1…1000), `acquire_timeout` (seconds, the pool wait), `connect_timeout` (seconds),
///   `statement_timeout` (milliseconds; 0 disables), `application_name`, `search_path` or `schema`
///   (comma-separated schema names)
/// - passed to libpq unchanged: `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `sslcrl`,
///   `target_session_attrs`
public struct PostgresConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// Host name, IP address, or Unix socket directory (starts with `/`).
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    public var database: String?

    /// Maximum number of open connections in a `PostgresPool`.
    public var poolSize: Int
    /// How long `PostgresPool` waits for a free connection before throwing `.poolExhausted`.
    public var acquireTimeout: TimeInterval
    /// Deadline for establishing one connection (TCP, TLS, authentication).
    public var connectTimeout: TimeInterval
    /// Server-side `statement_timeout`; nil leaves the server default. Also bounds how long a query
    /// can block the calling thread while the server is alive.
    public var statementTimeout: TimeInterval?
    /// Shown in `pg_stat_activity`.
    public var applicationName: String
    /// Schemas set as the session `search_path` after connecting; nil leaves the server default.
    public var searchPath: [String]?
    /// Extra libpq connection keywords from the allow-list above (e.g. `sslmode`).
    public var libpqOptions: [String: String]

    public init(host: String = "127.0.0.1", port: Int = 5432, user: String? = nil, password: String? = nil,
                database: String? = nil, poolSize: Int = 10, acquireTimeout: TimeInterval = 5,
                connectTimeout: TimeInterval = 5, statementTimeout: TimeInterval? = 30,
                applicationName: String = "lattice", searchPath: [String]? = nil,
                libpqOptions: [String: String] = [:]) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.poolSize = poolSize
        self.acquireTimeout = acquireTimeout
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
        self.applicationName = applicationName
        self.searchPath = searchPath
        self.libpqOptions = libpqOptions
    }

    static let passThroughOptions: Set<String> = [
        "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "target_session_attrs",
    ]

    /// Parses a `DATABASE_URL`. Throws `PostgresConfigurationError` naming what is wrong.
    public init(url: String) throws(PostgresConfigurationError) {
        self.init()
        guard let schemeEnd = url.range(of: "://") else {
            throw .malformedURL("missing scheme: expected postgres://user:password@host:port/database")
        }
        let scheme = url[url.startIndex..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw .unsupportedScheme(String(scheme))
        }
        var rest = String(url[schemeEnd.upperBound...])
        if rest.contains(where: { $0.isWhitespace }) {
            throw .malformedURL("the URL contains whitespace")
        }

        // Split off the query string first: '?' cannot appear un-encoded in the other parts.
        var query: String?
        if let q = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: q)...])
            rest = String(rest[..<q])
        }
        if rest.contains("#") { throw .malformedURL("fragments ('#') are not allowed") }
        var path: String?
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[rest.index(after: slash)...])
            rest = String(rest[..<slash])
        }
        // The last '@' separates credentials: an '@' in a password should be encoded, but tolerate it.
        var hostPort = rest
        if let at = rest.lastIndex(of: "@") {
            let credentials = String(rest[..<at])
            hostPort = String(rest[rest.index(after: at)...])
            if let colon = credentials.firstIndex(of: ":") {
                user = try Self.decode(String(credentials[..<colon]), component: "user")
                password = try Self.decode(String(credentials[credentials.index(after: colon)...]), component: "password")
            } else {
                user = try Self.decode(credentials, component: "user")
            }
            if user?.isEmpty == true { user = nil }
        }

        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw .malformedURL("unterminated '[' in IPv6 host")
            }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw .malformedURL("unexpected characters after IPv6 host") }
                port = try Self.parsePort(String(after.dropFirst()))
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = try Self.decode(String(hostPort[..<colon]), component: "host")
            port = try Self.parsePort(String(hostPort[hostPort.index(after: colon)...]))
        } else if !hostPort.isEmpty {
            host = try Self.decode(hostPort, component: "host")
        }
        if host.isEmpty { host = "127.0.0.1" }
        if host.contains(",") { throw .malformedURL("multiple hosts are not supported") }

        if let path, !path.isEmpty {
            if path.contains("/") { throw .malformedURL("the database name contains '/'") }
            database = try Self.decode(path, component: "database")
        }

        guard let query, !query.isEmpty else { return }
        var seen = Set<String>()
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let eq = pair.firstIndex(of: "=") else {
                throw .malformedURL("query option '\(pair)' has no '=value'")
            }
            let name = try Self.decode(String(pair[..<eq]), component: "option name")
            let value = try Self.decode(String(pair[pair.index(after: eq)...]), component: "option \(name)")
            guard seen.insert(name).inserted else { throw .duplicateOption(name) }
            try apply(option: name, value: value)
        }
    }

    private mutating func apply(option name: String, value: String) throws(PostgresConfigurationError) {
        switch name {
        case "pool_size", "pool_max":
            guard let n = Int(value), (1...1000).contains(n) else {
                throw .invalidOptionValue(name: name, value: value, expected: "an integer from 1 to 1000")
            }
            poolSize = n
        case "acquire_timeout", "pool_timeout":
            acquireTimeout = try Self.seconds(value, name: name, allowZero: false)
        case "connect_timeout":
            connectTimeout = try Self.seconds(value, name: name, allowZero: false)
        case "statement_timeout":
            guard let ms = Int(value), ms >= 0, ms <= 86_400_000 else {
                throw .invalidOptionValue(name: name, value: value, expected: "milliseconds from 0 to 86400000")
            }
            statementTimeout = ms == 0 ? nil : TimeInterval(ms) / 1000
        case "application_name":
            guard value.utf8.count <= 63, !value.contains("\0") else {
                throw .invalidOptionValue(name: name, value: value, expected: "at most 63 bytes")
            }
            applicationName = value
        case "search_path", "schema", "currentSchema":
            let schemas = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !schemas.isEmpty, schemas.allSatisfy({ PostgresIdentifier.isValid($0) }) else {
                throw .invalidOptionValue(name: name, value: value,
                                          expected: "comma-separated schema names (letters, digits, '_', '$')")
            }
            searchPath = schemas
        default:
            guard Self.passThroughOptions.contains(name) else { throw .unknownOption(name) }
            guard !value.contains("\0") else {
                throw .invalidOptionValue(name: name, value: value, expected: "no NUL characters")
            }
            libpqOptions[name] = value
        }
    }

    private static func seconds(_ value: String, name: String, allowZero: Bool) throws(PostgresConfigurationError) -> TimeInterval {
        guard let s = Double(value), s.isFinite, allowZero ? s >= 0 : s > 0, s <= 3600 else {
            throw .invalidOptionValue(name: name, value: value, expected: "seconds, greater than 0 and at most 3600")
        }
        return s
    }

    private static func parsePort(_ text: String) throws(PostgresConfigurationError) -> Int {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let p = Int(text), (1...65535).contains(p) else {
            throw .invalidPort(text)
        }
        return p
    }

    /// Strict percent-decoding: a '%' must be followed by two hex digits and the result must be UTF-8.
    static func decode(_ text: String, component: String) throws(PostgresConfigurationError) -> String {
        guard text.contains("%") else {
            if text.contains("\0") { throw .invalidPercentEncoding(component: component) }
            return text
        }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else {
                    throw .invalidPercentEncoding(component: component)
                }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        guard !out.contains(0), let decoded = String(validating: out, as: UTF8.self) else {
            throw .invalidPercentEncoding(component: component)
        }
        return decoded
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The configuration without the password, safe to log.
    public var description: String {
        let who = user.map { "\($0)\(password == nil ? "" : ":***")@" } ?? ""
        return "postgres://\(who)\(host):\(port)/\(database ?? "") pool_size=\(poolSize)"
    }

    /// libpq keywords and values for `PQconnectStartParams`.
    func connectionParameters() -> [(String, String)] {
        var params: [(String, String)] = [
            ("host", host), ("port", String(port)),
            ("application_name", applicationName),
            ("client_encoding", "UTF8"),
            // Session settings the decoders rely on: ISO dates in UTC and hex bytea.
            ("options", "-c DateStyle=ISO,MDY -c TimeZone=UTC -c bytea_output=hex -c extra_float_digits=1"
                + (statementTimeout.map { " -c statement_timeout=\(max(1, Int(($0 * 1000).rounded())))" } ?? "")),
            // Detect a silently dead peer instead of blocking forever on a read.
            ("keepalives", "1"), ("keepalives_idle", "30"), ("keepalives_interval", "10"), ("keepalives_count", "3"),
            ("connect_timeout", String(max(2, Int(connectTimeout.rounded(.up))))),
        ]
        if let user { params.append(("user", user)) }
        if let password { params.append(("password", password)) }
        if let database { params.append(("dbname", database)) }
        for (k, v) in libpqOptions.sorted(by: { $0.key < $1.key }) { params.append((k, v)) }
        return params
    }
}

/// Why a `DATABASE_URL` (or configuration) was refused.
public enum PostgresConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupportedScheme(String)
    case malformedURL(String)
    case invalidPercentEncoding(component: String)
    case invalidPort(String)
    case unknownOption(String)
    case duplicateOption(String)
    case invalidOptionValue(name: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .unsupportedScheme(let s): return "DATABASE_URL: unsupported scheme '\(s)' (expected postgres:// or postgresql://)"
        case .malformedURL(let why): return "DATABASE_URL: malformed URL: \(why)"
        case .invalidPercentEncoding(let c): return "DATABASE_URL: invalid percent-encoding in the \(c)"
        case .invalidPort(let p): return "DATABASE_URL: invalid port '\(p)' (expected 1-65535)"
        case .unknownOption(let o): return "DATABASE_URL: unknown option '\(o)'"
        case .duplicateOption(let o): return "DATABASE_URL: option '\(o)' given twice"
        case .invalidOptionValue(let n, let v, let e): return "DATABASE_URL: option \(n)='\(v)' is invalid: expected \(e)"
        }
    }
}
