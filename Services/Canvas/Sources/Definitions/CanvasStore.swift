import Contracts
import Foundation
import Postgres
import ServiceKit

/// Canvases, their versions and their lifecycle, through the caller's org scope: a caller sees the
/// canvases of its unit and the units below, plus the templates of the units above it (read and copy
/// only); any other canvas does not exist for it (404).
public struct CanvasStore: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let notFound = APIError.notFound("no such canvas", code: "canvas_not_found")
    static let visible = "(starts_with(c.org_path, $2) OR (c.is_template AND starts_with($2, c.org_path)))"

    static func newId() -> String { RecordId.make("cnv_") }

    static func isId(_ id: String) -> Bool {
        id.hasPrefix("cnv_") && (5...64).contains(id.utf8.count)
            && id.utf8.dropFirst(4).allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
    }

    static func text(_ json: JSONValue) throws -> String { String(decoding: try JSONCoding.encoder().encode(json), as: UTF8.self) }

    public func canvas(id: String, caller: CallerIdentity) throws -> Canvas {
        guard Self.isId(id) else { throw Self.notFound }
        let rows = try database.query("SELECT \(Canvas.columns) FROM \(Canvas.from) WHERE c.id = $1 AND \(Self.visible)", id, caller.orgPath)
        guard let row = rows.first else { throw Self.notFound }
        return try Canvas(row: row)
    }

    /// A canvas the caller may change: in its own subtree (a template of a unit above is read-only).
    func owned(id: String, caller: CallerIdentity) throws -> Canvas {
        let c = try canvas(id: id, caller: caller)
        guard caller.covers(orgPath: c.orgPath) else {
            throw APIError.forbidden("the canvas is a template of a unit above yours: copy it to change it")
        }
        return c
    }

    /// Any canvas by id, whoever owns it (the engine's reads).
    func canvas(id: String) throws -> Canvas? {
        try database.query("SELECT \(Canvas.columns) FROM \(Canvas.from) WHERE c.id = $1", id).first.map { try Canvas(row: $0) }
    }

    public func list(caller: CallerIdentity, page: PageRequest, status: CanvasStatus?, templates: Bool?) throws -> Page<Canvas> {
        let rows = try database.query("""
            SELECT \(Canvas.columns) FROM \(Canvas.from)
             WHERE \(Self.visible) AND ($1::text IS NULL OR c.id > $1) AND ($4::text IS NULL OR c.status = $4)
               AND ($5::boolean IS NULL OR c.is_template = $5)
             ORDER BY c.id LIMIT $3
            """, page.after, caller.orgPath, page.limit + 1, status?.rawValue, templates)
        return PageRequest.page(try rows.map { try Canvas(row: $0) }, limit: page.limit, key: \.id)
    }

    func create(document: CanvasDocument, orgId: String, orgPath: String, isTemplate: Bool, copiedFrom: String?,
                caller: CallerIdentity) throws -> Canvas {
        let id = Self.newId()
        return try database.transaction { conn in
            try conn.execute("""
                INSERT INTO canvases (id, name, org_id, org_path, created_by, status, draft, draft_state, draft_by, is_template, copied_from)
                VALUES ($1, $2, $3, $4, $5, 'draft', $6::jsonb, 'editing', $5, $7, $8)
                """, id, document.name, orgId, orgPath, caller.userId, try Self.text(document.json), isTemplate, copiedFrom)
            return try Self.read(id, on: conn)
        }
    }

    static func read(_ id: String, on conn: PostgresConnection) throws -> Canvas {
        guard let row = try conn.query("SELECT \(Canvas.columns) FROM \(Canvas.from) WHERE c.id = $1", id).first else { throw notFound }
        return try Canvas(row: row)
    }

    /// Replaces the draft (of the first version, or the next version of a live canvas). A draft under
    /// review changes only after a rejection; a stopped canvas never.
    func update(_ current: Canvas, document: CanvasDocument?, isTemplate: Bool?, caller: CallerIdentity) throws -> Canvas {
        guard current.status != .stopped else { throw APIError.conflict("a stopped canvas does not change", code: "canvas_stopped") }
        if current.draft?.state == .submitted || current.status == .submitted {
            throw APIError.conflict("the draft is waiting for approval; it changes after a rejection", code: "canvas_in_review")
        }
        let rows = try database.query("""
            UPDATE canvases c SET
                   draft = coalesce($3::jsonb, c.draft, v.document),
                   name = coalesce($4, c.name),
                   draft_state = 'editing', draft_by = $5, review_note = NULL,
                   status = CASE WHEN c.status = 'rejected' THEN 'draft' ELSE c.status END,
                   is_template = coalesce($6, c.is_template), updated_at = now(), revision = c.revision + 1
              FROM canvases c0 LEFT JOIN canvas_versions v ON v.canvas_id = c0.id AND v.version = c0.live_version
             WHERE c.id = $1 AND c0.id = c.id AND c.revision = $2
            RETURNING c.id
            """, current.id, current.revision, try document.map { try Self.text($0.json) }, document?.name, caller.userId, isTemplate)
        guard !rows.isEmpty else { throw APIError.conflict("the canvas changed meanwhile; read it again", code: "canvas_revision_conflict") }
        return try canvas(id: current.id, caller: caller)
    }

    func submit(_ current: Canvas, caller: CallerIdentity) throws -> Canvas {
        guard let draft = current.draft, draft.state != .submitted else {
            throw APIError.conflict(current.draft == nil ? "there is no draft to submit: change the canvas first (PUT)"
                                                         : "the draft is already waiting for approval", code: "canvas_state")
        }
        _ = draft
        return try transition(current, caller: caller, set: """
            draft_state = 'submitted', status = CASE WHEN c.status IN ('draft', 'rejected') THEN 'submitted' ELSE c.status END
            """)
    }

    func reject(_ current: Canvas, note: String?, caller: CallerIdentity) throws -> Canvas {
        guard current.draft?.state == .submitted else { throw APIError.conflict("nothing is waiting for approval", code: "canvas_state") }
        try checkReviewer(current, caller: caller)
        return try transition(current, caller: caller, set: """
            draft_state = 'rejected', review_note = $3, status = CASE WHEN c.status = 'submitted' THEN 'rejected' ELSE c.status END
            """, [note])
    }

    /// Four eyes, in the hierarchy: an approver of the canvas's unit or one above it, never the draft's author.
    func checkReviewer(_ current: Canvas, caller: CallerIdentity) throws {
        guard caller.covers(orgPath: current.orgPath) else { throw APIError.forbidden("the canvas belongs to a unit above yours") }
        guard current.draft?.author != caller.userId else {
            throw APIError.unprocessable("a canvas is approved by someone other than the author of its draft", code: "canvas_self_approval")
        }
    }

    /// Publishes the submitted draft as the next version. `plan` runs in the same transaction with the
    /// canvas as approved (entry waves of a segment canvas).
    func approve(_ current: Canvas, document: CanvasDocument, caller: CallerIdentity, now: Date,
                 plan: (Canvas, CanvasDocument, PostgresConnection) throws -> Void) throws -> Canvas {
        guard let draft = current.draft, draft.state == .submitted else {
            throw APIError.conflict("nothing is waiting for approval", code: "canvas_state")
        }
        try checkReviewer(current, caller: caller)
        let version = (current.version ?? 0) + 1
        let firstStatus: CanvasStatus = (document.window.startAt.map { $0 > now } ?? false) ? .scheduled : .running
        return try database.transaction { conn in
            try conn.execute("""
                INSERT INTO canvas_versions (canvas_id, version, document, authored_by, approved_by) VALUES ($1, $2, $3::jsonb, $4, $5)
                """, current.id, version, try Self.text(document.json), draft.author, caller.userId)
            let n = try conn.execute("""
                UPDATE canvases c SET live_version = $3, draft = NULL, draft_state = NULL, review_note = NULL, name = $5,
                       status = CASE WHEN c.status = 'submitted' THEN $4 ELSE c.status END, updated_at = now(), revision = c.revision + 1
                 WHERE c.id = $1 AND c.revision = $2
                """, current.id, current.revision, version, firstStatus.rawValue, document.name)
            guard n == 1 else { throw APIError.conflict("the canvas changed meanwhile; read it again", code: "canvas_revision_conflict") }
            let approved = try Self.read(current.id, on: conn)
            try plan(approved, document, conn)
            return approved
        }
    }

    func pause(_ current: Canvas, caller: CallerIdentity) throws -> Canvas {
        guard [.scheduled, .running].contains(current.status) else {
            throw APIError.conflict("only a scheduled or running canvas pauses (it is \(current.status.rawValue))", code: "canvas_state")
        }
        return try transition(current, caller: caller, set: "status = 'paused'")
    }

    func resume(_ current: Canvas, caller: CallerIdentity, now: Date) throws -> Canvas {
        guard current.status == .paused else { throw APIError.conflict("only a paused canvas resumes", code: "canvas_state") }
        let notYet = try current.liveDocument()?.window.startAt.map { $0 > now } ?? false
        return try transition(current, caller: caller, set: "status = $3", [notYet ? "scheduled" : "running"])
    }

    /// Stops the canvas for good: no more entries, and every journey still inside ends (`stopped`).
    func stop(_ current: Canvas, caller: CallerIdentity) throws -> Canvas {
        guard current.status.isLive || current.status == .submitted || current.status == .draft || current.status == .rejected else {
            throw APIError.conflict("the canvas is already stopped", code: "canvas_state")
        }
        return try database.transaction { conn in
            let n = try conn.execute("UPDATE canvases c SET status = 'stopped', draft = NULL, draft_state = NULL, updated_at = now(), revision = c.revision + 1 WHERE c.id = $1 AND c.revision = $2",
                                     current.id, current.revision)
            guard n == 1 else { throw APIError.conflict("the canvas changed meanwhile; read it again", code: "canvas_revision_conflict") }
            try conn.execute("""
                UPDATE journeys SET state = 'done', exited_at = now(), exit_reason = 'stopped', node = NULL, wait_event = NULL
                 WHERE canvas_id = $1 AND state <> 'done'
                """, current.id)
            try conn.execute("UPDATE entry_waves SET done = true WHERE canvas_id = $1", current.id)
            try conn.execute("DELETE FROM recall_candidates WHERE canvas_id = $1", current.id)
            return try Self.read(current.id, on: conn)
        }
    }

    private func transition(_ current: Canvas, caller: CallerIdentity, set: String, _ extra: [(any PostgresEncodable)?] = []) throws -> Canvas {
        let binds: [(any PostgresEncodable)?] = [current.id, current.revision] + extra
        let rows = try database.withConnection { conn in
            try conn.query("""
                UPDATE canvases c SET \(set), updated_at = now(), revision = c.revision + 1 WHERE c.id = $1 AND c.revision = $2 RETURNING c.id
                """, binds: binds)
        }
        guard !rows.isEmpty else { throw APIError.conflict("the canvas changed meanwhile; read it again", code: "canvas_revision_conflict") }
        return try canvas(id: current.id, caller: caller)
    }

    /// Moves scheduled canvases whose window has begun to running; returns how many.
    func startDue(now: Date) throws -> Int {
        try database.execute("""
            UPDATE canvases c SET status = 'running', updated_at = now(), revision = c.revision + 1
              FROM canvas_versions v
             WHERE c.status = 'scheduled' AND v.canvas_id = c.id AND v.version = c.live_version
               AND coalesce((v.document #>> '{schedule,startAt}')::timestamptz, '-infinity') <= $1
            """, now)
    }
}
