/// The severity of a log line, from the chattiest to the most serious.
///
/// The minimum level of a service comes from `LATTICE_LOG_LEVEL` (see `LogLevel.configured(by:)`).
public enum LogLevel: String, Sendable, CaseIterable, Comparable, Codable {
    case trace, debug, info, warning, error

    /// The environment variable holding a service's minimum level.
    public static let variable = "LATTICE_LOG_LEVEL"

    var severity: Int {
        switch self {
        case .trace: return 0
        case .debug: return 1
        case .info: return 2
        case .warning: return 3
        case .error: return 4
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.severity < rhs.severity }

    /// The minimum level configured in `LATTICE_LOG_LEVEL`, `info` when unset.
    public static func configured(by config: ConfigReader) throws(ConfigError) -> LogLevel {
        try config.choice(variable, default: .info)
    }
}
