import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a service does when its configuration is unusable: a complete message on stderr and exit
/// status 78 (`EX_CONFIG` of sysexits.h), so that an orchestrator shows the cause rather than a crash loop
/// of stack traces.
public enum ConfigurationFailure {
    /// `EX_CONFIG`: configuration error.
    public static let exitCode: Int32 = 78

    /// The text written to stderr for `error`: a headline naming the service and one problem per line.
    public static func message(service: String, error: any Error) -> String {
        let problems: [String]
        switch error {
        case let errors as ConfigErrors: problems = errors.errors.map(\.description)
        case let single as ConfigError: problems = [single.description]
        default: problems = [String(describing: error)]
        }
        let headline = problems.count == 1
            ? "\(service): configuration error:"
            : "\(service): \(problems.count) configuration errors:"
        return ([headline] + problems.map { "  " + $0 }).joined(separator: "\n") + "\n"
    }

    /// Writes the message for `error` to stderr and exits with status 78.
    public static func exit(service: String, error: any Error) -> Never {
        let text = message(service: service, error: error)
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written > 0 {
                bytes = bytes.dropFirst(written)
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                break  // stderr is gone; the exit status still tells the cause.
            }
        }
        Glibc.exit(exitCode)
    }
}

/// Reads a service's settings at start-up, collecting every configuration problem; on any problem
/// prints them all to stderr and exits with status 78 (`EX_CONFIG`).
///
/// ```swift
/// let settings = loadConfigurationOrExit(service: "segment") { config in try SegmentSettings(config: config) }
/// ```
/// `load` receives an accumulating reader (see `ConfigReader.accumulatingErrors()`); any other error it
/// throws is reported the same way, since it happened while loading configuration.
public func loadConfigurationOrExit<Settings>(
    service: String,
    environment: [String: String] = ProcessInfo.processInfo.environment,
    _ load: (ConfigReader) throws -> Settings
) -> Settings {
    switch loadConfiguration(environment: environment, load) {
    case .success(let settings): return settings
    case .failure(let error): ConfigurationFailure.exit(service: service, error: error)
    }
}

/// The testable core of `loadConfigurationOrExit`: every problem found, as one error.
public func loadConfiguration<Settings>(
    environment: [String: String],
    _ load: (ConfigReader) throws -> Settings
) -> Result<Settings, any Error> {
    let config = ConfigReader(environment: environment).accumulatingErrors()
    do {
        let settings = try load(config)
        try config.validate()
        return .success(settings)
    } catch {
        // Something the loader threw itself (a derived check) comes after the variables it read.
        let recorded = config.recordedErrors
        if recorded.isEmpty { return .failure(error) }
        if let single = error as? ConfigError, !recorded.contains(single) {
            return .failure(ConfigErrors(recorded + [single]))
        }
        return .failure(ConfigErrors(recorded))
    }
}
