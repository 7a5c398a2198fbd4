/// Structured logging: one JSON object per line on stdout.
///
/// Each line holds `ts` (RFC 3339 UTC with milliseconds), `level`, `service`, `msg`, `requestId` when
/// known, then the logger's metadata and the call's fields:
///
/// ```
/// {"ts":"2025-03-01T08:15:30.123Z","level":"info","service":"segment","msg":"estimate done","requestId":"r-42","ms":12}
/// ```
///
/// A `Logger` is a small value: `with(requestId:)` and `with(_:)` return copies with more context that
/// share the same sink. Messages and fields are autoclosures, so a disabled level costs one comparison.
/// Field names that would collide with the fixed keys (`ts`, `level`, `service`, `msg`, `requestId`) are
/// written with a `field.` prefix instead; a call's field replaces metadata of the same name.
///
/// Thread-safety: a value type; the shared sink is responsible for writing each line whole.
public struct Logger: Sendable {
    /// The name of the service in every line.
    public let service: String
    /// Lines below this level are not built nor written.
    public let minimumLevel: LogLevel
    /// The request this logger is working for, if any.
    public let requestId: String?
    /// Fields added to every line, in order.
    public let metadata: [LogField]
    /// Where lines go.
    public let sink: any LogSink

    /// A logger for `service` writing lines at `minimumLevel` or above to `sink` (stdout by default).
    public init(service: String, minimumLevel: LogLevel = .info, sink: any LogSink = StandardOutputLogSink.shared) {
        self.init(service: service, minimumLevel: minimumLevel, requestId: nil, metadata: [], sink: sink)
    }

    /// A logger whose minimum level comes from `LATTICE_LOG_LEVEL` (default `info`).
    public init(service: String, config: ConfigReader, sink: any LogSink = StandardOutputLogSink.shared) throws(ConfigError) {
        self.init(service: service, minimumLevel: try LogLevel.configured(by: config), sink: sink)
    }

    private init(service: String, minimumLevel: LogLevel, requestId: String?, metadata: [LogField], sink: any LogSink) {
        self.service = service
        self.minimumLevel = minimumLevel
        self.requestId = requestId
        self.metadata = metadata
        self.sink = sink
    }

    // MARK: Context

    /// A copy that writes `requestId` on every line (`nil` removes it).
    public func with(requestId: String?) -> Logger {
        Logger(service: service, minimumLevel: minimumLevel, requestId: requestId, metadata: metadata, sink: sink)
    }

    /// A copy with more metadata on every line; a key already present takes the new value.
    public func with(_ fields: KeyValuePairs<String, LogValue>) -> Logger {
        var merged = metadata
        for (key, value) in fields {
            if let index = merged.firstIndex(where: { $0.key == key }) {
                merged[index] = LogField(key, value)
            } else {
                merged.append(LogField(key, value))
            }
        }
        return Logger(service: service, minimumLevel: minimumLevel, requestId: requestId, metadata: merged, sink: sink)
    }

    /// A copy with a different minimum level.
    public func with(minimumLevel: LogLevel) -> Logger {
        Logger(service: service, minimumLevel: minimumLevel, requestId: requestId, metadata: metadata, sink: sink)
    }

    // MARK: Writing

    /// Whether lines at `level` are written; check it before costly preparation that autoclosures cannot defer.
    @inlinable
    public func isEnabled(_ level: LogLevel) -> Bool { level >= minimumLevel }

    /// Writes one line at `level` if it is enabled.
    public func log(_ level: LogLevel, _ message: @autoclosure () -> String,
                    _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        guard isEnabled(level) else { return }
        sink.write(line: line(level: level, message: message(), fields: fields(), timestamp: LogTimestamp.now()))
    }

    public func trace(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        log(.trace, message(), fields())
    }
    public func debug(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        log(.debug, message(), fields())
    }
    public func info(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        log(.info, message(), fields())
    }
    public func warning(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        log(.warning, message(), fields())
    }
    public func error(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        log(.error, message(), fields())
    }

    /// The bytes of one line (object and newline); `timestamp` is the ASCII RFC 3339 time.
    func line(level: LogLevel, message: String, fields: KeyValuePairs<String, LogValue>, timestamp: [UInt8]) -> [UInt8] {
        var writer = JSONLineWriter()
        writer.rawStringField("ts", asciiValue: timestamp)
        writer.field("level", .string(level.rawValue))
        writer.field("service", .string(service))
        writer.field("msg", .string(message))
        if let requestId { writer.field("requestId", .string(requestId)) }
        for field in metadata where !fields.contains(where: { $0.key == field.key }) {
            writer.field(Self.safeKey(field.key), field.value)
        }
        var written: [String] = []
        for (key, value) in fields where !written.contains(key) {
            // A repeated key in one call: the first wins, so the object never has duplicate names.
            written.append(key)
            writer.field(Self.safeKey(key), value)
        }
        return writer.finish()
    }

    /// Renames a field that would collide with a fixed key; `field.` keys are renamed too, so that
    /// `ts` and `field.ts` from the caller stay two distinct names.
    private static func safeKey(_ key: String) -> String {
        switch key {
        case "ts", "level", "service", "msg", "requestId": return "field." + key
        default: return key.hasPrefix("field.") ? "field." + key : key
        }
    }
}
