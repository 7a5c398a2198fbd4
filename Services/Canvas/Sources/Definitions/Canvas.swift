import Contracts
import Foundation
import Postgres

/// Where a canvas is in its life (DESIGN.md §3): a draft is written, submitted, approved or rejected;
/// an approved canvas is scheduled (its window has not begun) or running; it may be paused (journeys
/// hold where they are) and resumed; stopped is final.
public enum CanvasStatus: String, Sendable, Codable, CaseIterable {
    case draft, submitted, rejected, scheduled, running, paused, stopped

    /// Approved at least once: it has a live version.
    var isLive: Bool { [.scheduled, .running, .paused].contains(self) }
}

/// The review state of the document being prepared (the first version, or the next one of a live canvas).
public enum DraftState: String, Sendable, Codable {
    case editing, submitted, rejected
}

/// A canvas as the API shows it: its live version's document (once approved) and the draft in work.
public struct Canvas: Sendable, Encodable {
    public var id: String
    public var name: String
    public var orgId: String
    public var orgPath: String
    public var createdBy: String
    public var status: CanvasStatus
    /// Head-office canvases marked as templates are readable and copyable by the units below.
    public var isTemplate: Bool
    public var copiedFrom: String?
    /// The live version (nil before the first approval).
    public var version: Int?
    public var document: JSONValue?
    public var draft: Draft?
    public var entries: Int64
    public var createdAt: Date
    public var updatedAt: Date
    /// Changes with every write.
    public var revision: Int64

    public struct Draft: Sendable, Encodable {
        public var document: JSONValue
        public var state: DraftState
        /// Who last wrote the draft: its author, who may not approve it.
        public var author: String
        public var reviewNote: String?
    }

    static let columns = """
        c.id, c.name, c.org_id, c.org_path, c.created_by, c.status, c.is_template, c.copied_from, c.live_version,
        v.document::text AS live_document, c.draft::text AS draft, c.draft_state, c.draft_by, c.review_note, c.entries,
        c.created_at, c.updated_at, c.revision
        """
    /// The FROM clause that goes with `columns`.
    static let from = "canvases c LEFT JOIN canvas_versions v ON v.canvas_id = c.id AND v.version = c.live_version"

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        orgId = try row.decode("org_id")
        orgPath = try row.decode("org_path")
        createdBy = try row.decode("created_by")
        let s: String = try row.decode("status")
        guard let status = CanvasStatus(rawValue: s) else { throw APIError.internalError("canvas \(id) has an unknown status") }
        self.status = status
        isTemplate = try row.decode("is_template")
        copiedFrom = try row.decode("copied_from")
        version = try row.decode("live_version", as: Int?.self)
        document = try (row.decode("live_document", as: String?.self)).map { try Self.parse($0) }
        if let text = try row.decode("draft", as: String?.self), let state = DraftState(rawValue: try row.decode("draft_state")) {
            draft = Draft(document: try Self.parse(text), state: state, author: try row.decode("draft_by"), reviewNote: try row.decode("review_note"))
        }
        entries = try row.decode("entries")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        revision = try row.decode("revision")
    }

    static func parse(_ text: String) throws -> JSONValue {
        try JSONCoding.decoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// The live version's document, parsed (it was validated when approved).
    func liveDocument() throws -> CanvasDocument? {
        try document.map { try CanvasDocument(json: $0) }
    }
}
