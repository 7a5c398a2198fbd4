/// A configuration variable that is missing or malformed.
///
/// The description names the variable and what was expected, so that a failed start-up tells the
/// operator exactly what to fix, e.g. `LATTICE_PORT: expected an integer 1–65535, got "abc"`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with the variable.
    public enum Problem: Sendable, Equatable {
        /// The variable is required and is not set (or is set to an empty value).
        case missing
        /// The variable is set but cannot be read. `shown` is how the value appears in messages: quoted
        /// and truncated, or a neutral phrase for secrets so that they never reach a log.
        case malformed(shown: String)
    }

    /// The environment variable's name, e.g. `LATTICE_PORT`.
    public let variable: String
    /// What a valid value looks like, e.g. `an integer 1–65535`.
    public let expected: String
    public let problem: Problem

    public init(variable: String, expected: String, problem: Problem) {
        self.variable = variable
        self.expected = expected
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .missing: return "\(variable): expected \(expected), but it is not set"
        case .malformed(let shown): return "\(variable): expected \(expected), got \(shown)"
        }
    }
}

/// Every configuration problem found while reading a service's settings, reported at once so that an
/// operator fixes them in one round instead of one restart per variable.
public struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    /// The problems in the order they were found; never empty when thrown.
    public let errors: [ConfigError]

    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    /// One problem per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
