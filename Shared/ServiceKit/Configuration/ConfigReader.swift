import Foundation

/// The one way a service reads its configuration: typed values from environment variables.
///
/// A missing or malformed variable is a `ConfigError` naming the variable and what was expected.
/// Values are trimmed of surrounding whitespace (secrets mounted from files often end in a newline),
/// and an empty value counts as unset, as `FOO=` in a compose file usually means "not configured".
///
/// Two modes, same calls, so one `init(config:) throws` of a service's settings serves both:
/// - the plain reader throws at the first problem (handy in tests);
/// - `accumulatingErrors()` records every problem, returns a placeholder instead of throwing, and
///   `validate()` then throws them all as `ConfigErrors`. `loadConfigurationOrExit` uses this mode so
///   that start-up fails once with the complete list.
///
/// ```swift
/// let config = ConfigReader().accumulatingErrors()
/// let port = try config.int("LATTICE_PORT", in: 1...65535, default: 8080)
/// let database = try config.url("DATABASE_URL", schemes: ["postgres", "postgresql"], requireHost: false)
/// try config.validate()
/// ```
///
/// Thread-safety: the reader is an immutable value; the error list of the accumulating mode is a
/// shared `ConfigErrorLog` guarded by its own lock.
public struct ConfigReader: Sendable {
    /// The variables this reader sees.
    public let environment: [String: String]
    private let errorLog: ConfigErrorLog?

    /// A reader of `environment`, by default the process's environment. Tests pass a dictionary.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
        self.errorLog = nil
    }

    private init(environment: [String: String], errorLog: ConfigErrorLog) {
        self.environment = environment
        self.errorLog = errorLog
    }

    /// A reader of the same variables that records problems instead of throwing them; call
    /// `validate()` when every setting has been read. Values returned for faulty variables are
    /// placeholders and must not be used unless `validate()` passed.
    public func accumulatingErrors() -> ConfigReader {
        ConfigReader(environment: environment, errorLog: ConfigErrorLog())
    }

    /// Whether this reader records problems instead of throwing them.
    public var isAccumulating: Bool { errorLog != nil }

    /// The problems recorded so far (always empty for a reader that throws).
    public var recordedErrors: [ConfigError] { errorLog?.errors ?? [] }

    /// Throws every problem recorded by an accumulating reader at once; does nothing when there is none
    /// (and always for a reader that throws, since it already threw).
    public func validate() throws(ConfigErrors) {
        let errors = recordedErrors
        if !errors.isEmpty { throw ConfigErrors(errors) }
    }

    /// The trimmed text of a variable, or `nil` when it is unset or empty.
    public func text(_ name: String) -> String? {
        guard let raw = environment[name] else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    // MARK: Generic reads

    /// A variable that must be set and valid.
    public func required<Value>(_ name: String, _ parser: ConfigParser<Value>) throws(ConfigError) -> Value {
        guard let text = text(name) else {
            try fail(ConfigError(variable: name, expected: parser.expected, problem: .missing))
            return parser.placeholder()
        }
        return try parse(name, text, parser)
    }

    /// A variable that may be unset (`nil`), but must be valid when set.
    public func optional<Value>(_ name: String, _ parser: ConfigParser<Value>) throws(ConfigError) -> Value? {
        guard let text = text(name) else { return nil }
        return try parse(name, text, parser)
    }

    /// A variable that falls back to `defaultValue` when unset, but must be valid when set.
    public func value<Value>(_ name: String, _ parser: ConfigParser<Value>, default defaultValue: Value) throws(ConfigError) -> Value {
        guard let text = text(name) else { return defaultValue }
        return try parse(name, text, parser)
    }

    private func parse<Value>(_ name: String, _ text: String, _ parser: ConfigParser<Value>) throws(ConfigError) -> Value {
        if let value = parser.parse(text) { return value }
        try fail(ConfigError(variable: name, expected: parser.expected, problem: .malformed(shown: parser.show(text))))
        return parser.placeholder()
    }

    /// Throws, or records when accumulating.
    private func fail(_ error: ConfigError) throws(ConfigError) {
        guard let errorLog else { throw error }
        errorLog.record(error)
    }

    // MARK: Typed conveniences

    /// A required non-empty string.
    public func string(_ name: String) throws(ConfigError) -> String { try required(name, .string) }
    /// A string with a default.
    public func string(_ name: String, default defaultValue: String) throws(ConfigError) -> String {
        try value(name, .string, default: defaultValue)
    }
    /// A string that may be unset.
    public func optionalString(_ name: String) throws(ConfigError) -> String? { try optional(name, .string) }

    /// A required secret of at least `minimumLength` characters; its value never appears in errors.
    public func secret(_ name: String, minimumLength: Int = 1) throws(ConfigError) -> String {
        try required(name, .secret(minimumLength: minimumLength))
    }

    /// A required integer within `range`.
    public func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigError) -> Int {
        try required(name, .integer(in: range))
    }
    /// An integer within `range`, with a default.
    public func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max, default defaultValue: Int) throws(ConfigError) -> Int {
        try value(name, .integer(in: range), default: defaultValue)
    }
    /// An integer within `range` that may be unset.
    public func optionalInt(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigError) -> Int? {
        try optional(name, .integer(in: range))
    }

    /// A required boolean (`true`/`false`, `1`/`0`, `yes`/`no`).
    public func bool(_ name: String) throws(ConfigError) -> Bool { try required(name, .boolean) }
    /// A boolean with a default.
    public func bool(_ name: String, default defaultValue: Bool) throws(ConfigError) -> Bool {
        try value(name, .boolean, default: defaultValue)
    }

    /// A required duration (`500ms`, `30s`, `10m`, `2h`, `7d`, `1h30m`) in seconds.
    public func duration(_ name: String, in range: ClosedRange<TimeInterval> = 0...TimeInterval(Int32.max)) throws(ConfigError) -> TimeInterval {
        try required(name, .duration(in: range))
    }
    /// A duration in seconds with a default.
    public func duration(_ name: String, in range: ClosedRange<TimeInterval> = 0...TimeInterval(Int32.max), default defaultValue: TimeInterval) throws(ConfigError) -> TimeInterval {
        try value(name, .duration(in: range), default: defaultValue)
    }
    /// A duration in seconds that may be unset.
    public func optionalDuration(_ name: String, in range: ClosedRange<TimeInterval> = 0...TimeInterval(Int32.max)) throws(ConfigError) -> TimeInterval? {
        try optional(name, .duration(in: range))
    }

    /// A required absolute URL; see `ConfigParser.url(schemes:requireHost:)`.
    public func url(_ name: String, schemes: [String]? = nil, requireHost: Bool = true) throws(ConfigError) -> URL {
        try required(name, .url(schemes: schemes, requireHost: requireHost))
    }
    /// An absolute URL that may be unset.
    public func optionalURL(_ name: String, schemes: [String]? = nil, requireHost: Bool = true) throws(ConfigError) -> URL? {
        try optional(name, .url(schemes: schemes, requireHost: requireHost))
    }

    /// A required comma-separated list of words (trimmed, empty items skipped, at least one).
    public func list(_ name: String) throws(ConfigError) -> [String] { try required(name, .list(of: .string)) }
    /// A comma-separated list of words with a default.
    public func list(_ name: String, default defaultValue: [String]) throws(ConfigError) -> [String] {
        try value(name, .list(of: .string), default: defaultValue)
    }

    /// A required word among `allowed` (matched without regard to case, returned as spelled in `allowed`).
    public func oneOf(_ name: String, _ allowed: [String]) throws(ConfigError) -> String {
        try required(name, .oneOf(allowed))
    }
    /// A word among `allowed` with a default.
    public func oneOf(_ name: String, _ allowed: [String], default defaultValue: String) throws(ConfigError) -> String {
        try value(name, .oneOf(allowed), default: defaultValue)
    }

    /// A required case of a string-backed enum.
    public func choice<Choice>(_ name: String, as type: Choice.Type = Choice.self) throws(ConfigError) -> Choice
    where Choice: RawRepresentable & CaseIterable & Sendable, Choice.RawValue == String {
        try required(name, .choice(type))
    }
    /// A case of a string-backed enum with a default.
    public func choice<Choice>(_ name: String, default defaultValue: Choice) throws(ConfigError) -> Choice
    where Choice: RawRepresentable & CaseIterable & Sendable, Choice.RawValue == String {
        try value(name, .choice(Choice.self), default: defaultValue)
    }
}

/// The problems recorded by an accumulating `ConfigReader`, shared by its copies.
///
/// Thread-safety: all mutable state is guarded by `lock`.
final class ConfigErrorLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [ConfigError] = []

    var errors: [ConfigError] { lock.withLock { recorded } }

    /// Records `error` once: reading the same faulty variable twice reports it once.
    func record(_ error: ConfigError) {
        lock.withLock {
            if !recorded.contains(error) { recorded.append(error) }
        }
    }
}
