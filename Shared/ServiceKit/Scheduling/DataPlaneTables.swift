import Postgres

/// The schema-qualified, quoted names of the ServiceKit tables in one service's schema.
///
/// Runtime statements always qualify their tables, so they work whatever the session's
/// `search_path` is; the schema comes from trusted configuration and is validated here.
struct DataPlaneTables: Sendable, Equatable {
    let schema: String
    let outbox: String
    let inbox: String
    let jobs: String
    let schedules: String

    init(schema: String) throws(PostgresError) {
        let quoted = try PostgresIdentifier.quoted(schema)
        self.schema = schema
        outbox = quoted + ".outbox_events"
        inbox = quoted + ".inbox_events"
        jobs = quoted + ".jobs"
        schedules = quoted + ".schedules"
    }

    /// The tables of `schema` for a component's initializer: a schema name that is not a valid
    /// identifier becomes that component's own configuration error (`invalidConfiguration`).
    static func make<E: Error>(schema: String, invalidConfiguration: (String) -> E) throws(E) -> DataPlaneTables {
        do {
            return try DataPlaneTables(schema: schema)
        } catch {
            throw invalidConfiguration("schema name '\(schema)' is not a valid identifier")
        }
    }
}

/// Text checks shared by the data-plane types.
enum DataPlaneText {
    /// A name of `[A-Za-z0-9_.:-]` (and `@` for instance names), 1…`maxLength` characters: queues,
    /// destinations, consumers, schedules.
    static func isName(_ text: String, maxLength: Int = 100, allowsAt: Bool = false) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: ":")
                || (allowsAt && b == UInt8(ascii: "@"))
        }
    }

    /// Printable text without control characters, 1…`maxLength` bytes: event types.
    static func isLabel(_ text: String, maxLength: Int = 200) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        return bytes.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
    }

    /// An error message cut to a size fit for a column and a log line, without NUL bytes.
    static func errorText(_ error: any Error, limit: Int = 2_000) -> String {
        let text = String(describing: error).replacingOccurrences(of: "\u{0}", with: "")
        return text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }
}
