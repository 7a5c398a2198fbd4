/// The value of a field in a log line: JSON string, number or boolean.
///
/// Literals convert on their own: `logger.info("sent", ["count": 3, "channel": "sms", "dryRun": false])`.
public enum LogValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByStringInterpolation,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    case string(String)
    case int(Int)
    /// Written as a JSON number; NaN and infinities, which JSON cannot hold, are written as strings.
    case double(Double)
    case bool(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    /// An error as its description, for an `error` field.
    public static func error(_ error: any Error) -> LogValue { .string(String(describing: error)) }
}

/// One named field of a log line.
public struct LogField: Sendable, Equatable {
    public let key: String
    public let value: LogValue

    public init(_ key: String, _ value: LogValue) {
        self.key = key
        self.value = value
    }
}
