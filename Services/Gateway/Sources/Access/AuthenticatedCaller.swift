import Contracts

/// A caller the gateway recognised from its bearer token.
public struct AuthenticatedCaller: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        /// A console session (login); `id` is the session's id, never the token.
        case session(id: String)
        /// A machine credential of one of the bank's systems.
        case apiKey(id: String)
    }

    public var identity: CallerIdentity
    public var username: String
    public var credential: Credential

    public init(identity: CallerIdentity, username: String, credential: Credential) {
        self.identity = identity
        self.username = username
        self.credential = credential
    }
}

/// Turns a bearer token into a caller. Implemented by the identity store (sessions and API keys).
public protocol CallerAuthenticator: Sendable {
    /// The caller, or nil when the token is unknown, expired or revoked. Throws only when the answer
    /// cannot be known (database unavailable).
    func authenticate(bearerToken: String) throws -> AuthenticatedCaller?

    /// The caller if it can be told from memory alone (never blocks); nil when only `authenticate`
    /// can answer. Lets the gateway serve most reads on the event loop without a thread hop.
    func cachedCaller(bearerToken: String) -> AuthenticatedCaller?
}
