import Foundation
import Postgres
import ServiceKit

/// First start: makes sure the head office (`hq`, path `/hq/`) and the `admin` user exist.
///
/// The admin's password is `LATTICE_ADMIN_PASSWORD` when set, otherwise generated and announced once,
/// on the start that creates the admin: a JSON log line without the secret, then one human line with
/// it on standard output. An existing `admin` is never changed (setting the variable later does not
/// reset a password). Replicas starting together are safe: inserts use ON CONFLICT, and only the one
/// whose insert created the admin announces its password.
///
/// A `BackgroundTask` only so that `Service` runs it after migrations and before the server accepts;
/// it has nothing to stop.
public final class IdentityBootstrap: BackgroundTask, Sendable {
    public static let headOfficeId = "hq"
    public static let adminUsername = "admin"

    /// What a run did.
    public enum Outcome: Sendable, Equatable {
        case adminExisted
        case adminCreated(passwordGenerated: Bool)
    }

    public var taskName: String { "identity-bootstrap" }

    private let database: PostgresPool
    private let adminPassword: String?
    private let logger: Logger
    private let announce: @Sendable (String) -> Void

    /// - Parameters:
    ///   - announce: where the human line with a generated password goes (standard output by default).
    public init(database: PostgresPool, adminPassword: String?, logger: Logger,
                announce: @escaping @Sendable (String) -> Void = IdentityBootstrap.writeToStandardOutput) {
        self.database = database
        self.adminPassword = adminPassword
        self.logger = logger
        self.announce = announce
    }

    public convenience init(store: IdentityStore, settings: GatewaySettings, logger: Logger) {
        self.init(database: store.database, adminPassword: settings.adminPassword, logger: logger)
    }

    public func start() throws {
        _ = try run()
    }

    public func stop(timeout: TimeInterval) -> Bool { true }

    /// Creates what is missing; safe to run any number of times, concurrently.
    @discardableResult
    public func run() throws -> Outcome {
        try database.execute("""
            INSERT INTO org_units (id, parent_id, path, kind, name) VALUES ($1, NULL, $2, 'head_office', 'Head office')
            ON CONFLICT DO NOTHING
            """, Self.headOfficeId, "/\(Self.headOfficeId)/")
        // The head office may have been created under another id by an earlier installation.
        let head = try database.query("SELECT id FROM org_units WHERE kind = 'head_office'")
        guard let headOfficeId: String = try head.first?.decode("id") else {
            throw PostgresError.invalidState("no head office org unit after bootstrap")
        }
        let existing = try database.query("SELECT 1 FROM users WHERE username = $1", Self.adminUsername)
        if !existing.isEmpty { return .adminExisted }

        let generated = adminPassword == nil
        let password = adminPassword ?? IdentitySecrets.newPassword()
        let inserted = try database.query("""
            INSERT INTO users (id, username, password_hash, org_id, roles)
            VALUES ($1, $2, password_hash($3), $4, ARRAY['admin'])
            ON CONFLICT DO NOTHING
            RETURNING id
            """, IdentitySecrets.newId(prefix: "u"), Self.adminUsername, password, headOfficeId)
        guard !inserted.isEmpty else { return .adminExisted }
        if generated {
            logger.warning("admin password generated", [
                "username": .string(Self.adminUsername),
                "note": .string("printed once on the next line of standard output; set LATTICE_ADMIN_PASSWORD to choose it"),
            ])
            announce("Lattice first start: sign in as \(Self.adminUsername) with password \(password) (shown once; change it after signing in)")
        } else {
            logger.info("admin created", ["username": .string(Self.adminUsername), "password": .string("from LATTICE_ADMIN_PASSWORD")])
        }
        return .adminCreated(passwordGenerated: generated)
    }

    /// Writes one line to standard output, whole (the log sink writes there too).
    public static let writeToStandardOutput: @Sendable (String) -> Void = { line in
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}
