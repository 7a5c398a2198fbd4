import Contracts
import Foundation
import Postgres
import ServiceKit

/// The canvas API's decisions: validation on save, org scope, the lifecycle and template copies.
public struct CanvasService: Sendable {
    let store: CanvasStore
    let references: ReferenceCheck
    let orgs: OrgDirectory
    let waves: EntryWaves
    let tests: TestRuns
    let wake: @Sendable () -> Void

    /// A body `{…canvas document, orgId?, isTemplate?}`.
    func create(body: JSONValue, caller: CallerIdentity) throws -> Canvas {
        let document = try CanvasDocument(json: body)
        let (orgId, orgPath) = try owner(body, caller: caller)
        let isTemplate = try Self.templateFlag(body) ?? false
        try references.check(document, caller: caller)
        return try store.create(document: document, orgId: orgId, orgPath: orgPath, isTemplate: isTemplate, copiedFrom: nil, caller: caller)
    }

    func update(id: String, body: JSONValue, caller: CallerIdentity) throws -> Canvas {
        let current = try store.owned(id: id, caller: caller)
        if case .object(let o) = body, let orgId = o["orgId"], orgId.stringValue != current.orgId {
            throw APIError.badRequest("a canvas keeps its org unit; copy it to another", field: "orgId")
        }
        let document = try CanvasDocument(json: body)
        try references.check(document, caller: caller)
        return try store.update(current, document: document, isTemplate: try Self.templateFlag(body), caller: caller)
    }

    func submit(id: String, caller: CallerIdentity) throws -> Canvas {
        let current = try store.owned(id: id, caller: caller)
        if let draft = current.draft { try references.check(try CanvasDocument(json: draft.document), caller: caller) }
        return try store.submit(current, caller: caller)
    }

    func approve(id: String, caller: CallerIdentity) throws -> Canvas {
        let current = try store.owned(id: id, caller: caller)
        guard let draft = current.draft else { throw APIError.conflict("nothing is waiting for approval", code: "canvas_state") }
        let document = try CanvasDocument(json: draft.document)
        // Templates may have been withdrawn since the draft was written.
        try references.check(document, caller: caller)
        let now = Date()
        let approved = try store.approve(current, document: document, caller: caller, now: now) { canvas, document, conn in
            try waves.plan(canvas: canvas, document: document, now: now, on: conn)
        }
        wake()
        return approved
    }

    func reject(id: String, body: JSONValue?, caller: CallerIdentity) throws -> Canvas {
        var note: String?
        if case .object(let o)? = body {
            note = try Fields(o, path: "", allowed: ["reason"]).optionalString("reason", length: 1...500)
            try Fields(o, path: "", allowed: ["reason"]).checkKeys()
        }
        return try store.reject(try store.owned(id: id, caller: caller), note: note, caller: caller)
    }

    func pause(id: String, caller: CallerIdentity) throws -> Canvas { try store.pause(try store.owned(id: id, caller: caller), caller: caller) }

    func resume(id: String, caller: CallerIdentity) throws -> Canvas {
        let c = try store.resume(try store.owned(id: id, caller: caller), caller: caller, now: Date())
        wake()
        return c
    }

    func stop(id: String, caller: CallerIdentity) throws -> Canvas { try store.stop(try store.owned(id: id, caller: caller), caller: caller) }

    /// `:test`: rehearses the draft (or, without one, the live version) on the body's test customers,
    /// who receive its messages for real. Anyone who may edit the canvas may test it, in any status but
    /// stopped; references are checked as on submit, since a draft may name a template withdrawn since.
    func test(id: String, body: JSONValue?, caller: CallerIdentity) throws -> TestRuns.Run {
        let customers = try TestRuns.customerIds(body)
        let current = try store.owned(id: id, caller: caller)
        guard current.status != .stopped else { throw APIError.conflict("a stopped canvas does not run, not even as a test", code: "canvas_stopped") }
        let json: JSONValue, version: Int?
        if let draft = current.draft {
            (json, version) = (draft.document, nil)
        } else if let live = current.document {
            (json, version) = (live, current.version)
        } else {
            throw APIError.conflict("the canvas has no document to test", code: "canvas_state")
        }
        let document = try CanvasDocument(json: json)
        try references.check(document, caller: caller)
        let run = try tests.start(canvas: current, document: document, version: version, customers: customers, caller: caller)
        wake()
        return run
    }

    /// A branch's own draft from a template of its unit or one above (or any canvas of its subtree).
    func copy(id: String, body: JSONValue?, caller: CallerIdentity) throws -> Canvas {
        let source = try store.canvas(id: id, caller: caller)
        guard source.isTemplate || caller.covers(orgPath: source.orgPath) else { throw CanvasStore.notFound }
        guard var json = source.document ?? source.draft?.document, case .object(var o) = json else {
            throw APIError.conflict("the canvas has no document to copy", code: "canvas_state")
        }
        if case .object(let b)? = body {
            try Fields(b, path: "", allowed: ["name", "orgId"]).checkKeys()
            if let name = try Fields(b, path: "").optionalString("name", length: 1...100) { o["name"] = .string(name) }
            if let org = b["orgId"] { o["orgId"] = org }
        }
        json = .object(o)
        let document = try CanvasDocument(json: json)
        let (orgId, orgPath) = try owner(json, caller: caller)
        try references.check(document, caller: caller)
        return try store.create(document: document, orgId: orgId, orgPath: orgPath, isTemplate: false, copiedFrom: source.id, caller: caller)
    }

    private func owner(_ body: JSONValue, caller: CallerIdentity) throws -> (String, String) {
        guard case .object(let o) = body, let value = o["orgId"], value != .null else { return (caller.orgId, caller.orgPath) }
        guard case .string(let orgId) = value, (1...64).contains(orgId.count) else {
            throw APIError.badRequest("orgId must be an org unit id", field: "orgId")
        }
        if orgId == caller.orgId { return (orgId, caller.orgPath) }
        return (orgId, try orgs.path(of: orgId, for: caller))
    }

    static func templateFlag(_ body: JSONValue) throws -> Bool? {
        guard case .object(let o) = body else { return nil }
        return try Fields(o, path: "").optionalBool("isTemplate")
    }
}
