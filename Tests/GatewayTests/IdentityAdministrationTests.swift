import Contracts
import Foundation
@testable import Gateway
import HTTP
import TestSupport
import XCTest

/// Orgs, users and API keys through the API: validation, conflicts, paging, the last-admin rule.
final class IdentityAdministrationTests: XCTestCase {
    private var harness: IdentityHarness!
    private var admin = ""

    override func setUpWithError() throws {
        harness = try IdentityHarness()
        admin = try harness.token("admin", IdentityHarness.adminPassword)
    }

    override func tearDown() {
        harness?.close()
        harness = nil
        super.tearDown()
    }

    private func post(_ path: String, _ body: JSONValue) throws -> TestResponse {
        try harness.request(.POST, path, token: admin, json: body)
    }

    func testOrgTreeKindsPathsAndValidation() throws {
        let branch = try post("/api/v1/orgs", ["id": "sh", "parentId": "hq", "kind": "branch", "name": " Shanghai "])
        XCTAssertEqual(branch.status, 201, branch.text)
        XCTAssertEqual(branch.object["path"]?.stringValue, "/hq/sh/")
        XCTAssertEqual(branch.object["name"]?.stringValue, "Shanghai")
        XCTAssertEqual(branch.object["parentId"]?.stringValue, "hq")
        let sub = try post("/api/v1/orgs", ["id": "pd", "parentId": "sh", "kind": "sub_branch", "name": "Pudong"])
        XCTAssertEqual(sub.object["path"]?.stringValue, "/hq/sh/pd/")
        let generated = try post("/api/v1/orgs", ["parentId": "sh", "kind": "sub_branch", "name": "Jingan"])
        XCTAssertEqual(generated.status, 201)
        let generatedId = try XCTUnwrap(generated.object["id"]?.stringValue)
        XCTAssertEqual(generated.object["path"]?.stringValue, "/hq/sh/\(generatedId)/")

        let cases: [(JSONValue, Int, String)] = [
            (["id": "x1", "parentId": "hq", "kind": "sub_branch", "name": "n"], 422, "parentId"),
            (["id": "x2", "parentId": "pd", "kind": "sub_branch", "name": "n"], 422, "parentId"),
            (["id": "x3", "parentId": "sh", "kind": "branch", "name": "n"], 422, "parentId"),
            (["id": "x4", "parentId": "hq", "kind": "head_office", "name": "n"], 422, "kind"),
            (["id": "x5", "parentId": "hq", "kind": "region", "name": "n"], 422, "kind"),
            (["id": "Bad/Id", "parentId": "hq", "kind": "branch", "name": "n"], 422, "id"),
            (["id": "x6", "parentId": "hq", "kind": "branch", "name": "   "], 422, "name"),
            (["id": "x7", "parentId": "hq", "kind": "branch", "name": "a\u{0}b"], 422, "name"),
            (["id": "x8", "parentId": "nowhere", "kind": "branch", "name": "n"], 404, "parentId"),
            (["id": "x9", "parentId": "hq", "kind": "branch"], 400, "name"),
            (["id": 7, "parentId": "hq", "kind": "branch", "name": "n"], 400, "id"),
            (["id": "sh", "parentId": "hq", "kind": "branch", "name": "again"], 409, "id"),
        ]
        for (body, status, field) in cases {
            let r = try post("/api/v1/orgs", body)
            XCTAssertEqual(r.status, status, "\(body) → \(r.text)")
            XCTAssertEqual(r.errorField, field, "\(body) → \(r.text)")
        }
        let renamed = try harness.request(.PATCH, "/api/v1/orgs/sh", token: admin, json: ["name": "Shanghai Branch"])
        XCTAssertEqual(renamed.object["name"]?.stringValue, "Shanghai Branch")
    }

    func testUserValidationAndConflicts() throws {
        try harness.createOrg("a", parent: "hq", kind: "branch")
        let good: JSONValue = ["username": "a.operator", "password": "long-enough-1", "orgId": "a", "roles": ["operator", "operator"],
                               "rights": ["pii"]]
        let created = try post("/api/v1/users", good)
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(created.object["roles"], .array(["operator"]))
        XCTAssertEqual(created.object["effectiveRights"], .array(["edit", "pii", "view"]))
        XCTAssertEqual(created.object["orgPath"]?.stringValue, "/hq/a/")
        XCTAssertFalse(created.text.contains("long-enough-1"))
        XCTAssertFalse(created.text.lowercased().contains("hash"))

        func body(_ change: (inout [String: JSONValue]) -> Void) -> JSONValue {
            var o: [String: JSONValue] = ["username": "someone", "password": "long-enough-1", "orgId": "a", "roles": ["viewer"]]
            change(&o)
            return .object(o)
        }
        let cases: [(JSONValue, Int, String?)] = [
            (body { $0["username"] = "ab" }, 422, "username"),
            (body { $0["username"] = "Has Space" }, 422, "username"),
            (body { $0["username"] = .string(String(repeating: "a", count: 65)) }, 422, "username"),
            (body { $0["password"] = "short" }, 422, "password"),
            (body { $0["password"] = .string(String(repeating: "é", count: 40)) }, 422, "password"),
            (body { $0["password"] = "with\u{0}nul-inside" }, 422, "password"),
            (body { $0["roles"] = [] }, 422, "roles"),
            (body { $0["roles"] = ["viewer", "root"] }, 422, "roles[1]"),
            (body { $0["rights"] = ["everything"] }, 422, "rights[0]"),
            (body { $0["orgId"] = "nowhere" }, 404, "orgId"),
            (body { $0["roles"] = "viewer" }, 400, "roles"),
            (body { $0["username"] = nil }, 400, "username"),
            (body { $0["username"] = "a.operator" }, 409, "username"),
        ]
        for (b, status, field) in cases {
            let r = try post("/api/v1/users", b)
            XCTAssertEqual(r.status, status, "\(b) → \(r.text)")
            XCTAssertEqual(r.errorField, field, "\(b) → \(r.text)")
        }
        let notJSON = harness.client.execute(.POST, "/api/v1/users", headers: ["authorization": "Bearer \(admin)"],
                                             body: Array("{nope".utf8))
        XCTAssertEqual(notJSON.status, 400)

        let id = try XCTUnwrap(created.object["id"]?.stringValue)
        let patched = try harness.request(.PATCH, "/api/v1/users/\(id)", token: admin,
                                          json: ["roles": ["approver", "viewer"], "rights": []])
        XCTAssertEqual(patched.status, 200, patched.text)
        XCTAssertEqual(patched.object["roles"], .array(["approver", "viewer"]))
        XCTAssertEqual(patched.object["effectiveRights"], .array(["publish", "view"]))
        XCTAssertEqual(try harness.request(.PATCH, "/api/v1/users/\(id)", token: admin, json: ["roles": ["god"]]).errorField, "roles[0]")
        XCTAssertEqual(try harness.request(.PATCH, "/api/v1/users/\(id)", token: admin, json: ["orgId": "zz"]).status, 404)
        XCTAssertEqual(try harness.request(.PATCH, "/api/v1/users/u_nope", token: admin, json: ["disabled": true]).status, 404)
        XCTAssertEqual(try harness.request(.GET, "/api/v1/users/..%2F..", token: admin).status, 404)
    }

    func testTheHeadOfficeKeepsAnEnabledAdmin() throws {
        let me = try harness.request(.GET, "/api/v1/me", token: admin)
        let adminId = try XCTUnwrap(me.object["id"]?.stringValue)
        let demote = try harness.request(.PATCH, "/api/v1/users/\(adminId)", token: admin, json: ["roles": ["viewer"]])
        XCTAssertEqual(demote.status, 422, demote.text)
        XCTAssertEqual(demote.errorCode, "last_head_office_admin")
        let disable = try harness.request(.PATCH, "/api/v1/users/\(adminId)", token: admin, json: ["disabled": true])
        XCTAssertEqual(disable.errorCode, "cannot_disable_self")
        try harness.createOrg("a", parent: "hq", kind: "branch")
        let move = try harness.request(.PATCH, "/api/v1/users/\(adminId)", token: admin, json: ["orgId": "a"])
        XCTAssertEqual(move.errorCode, "last_head_office_admin")
        // Nothing was half-changed.
        let after = try harness.request(.GET, "/api/v1/users/\(adminId)", token: admin)
        XCTAssertEqual(after.object["roles"], .array(["admin"]))
        XCTAssertEqual(after.object["orgId"]?.stringValue, "hq")

        // With a second head-office admin, the first may step down.
        try harness.createUser("second.admin", org: "hq", roles: ["admin"])
        XCTAssertEqual(try harness.request(.PATCH, "/api/v1/users/\(adminId)", token: admin, json: ["roles": ["viewer"]]).status, 200)
    }

    func testListsPageWithCursors() throws {
        try harness.createOrg("a", parent: "hq", kind: "branch")
        for n in 1...4 { try harness.createOrg("a\(n)", parent: "a", kind: "sub_branch") }
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let target = "/api/v1/orgs?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try harness.request(.GET, target, token: admin)
            XCTAssertEqual(page.status, 200, page.text)
            seen += page.object.items.compactMap { $0["path"]?.stringValue }
            cursor = page.object["nextCursor"]?.stringValue
            pages += 1
        } while cursor != nil && pages < 10
        XCTAssertEqual(seen, ["/hq/", "/hq/a/", "/hq/a/a1/", "/hq/a/a2/", "/hq/a/a3/", "/hq/a/a4/"])
        XCTAssertEqual(pages, 3)
        let last = try harness.request(.GET, "/api/v1/orgs?limit=200", token: admin)
        XCTAssertEqual(last.object["nextCursor"], .null)

        XCTAssertEqual(try harness.request(.GET, "/api/v1/orgs?limit=0", token: admin).errorField, "limit")
        XCTAssertEqual(try harness.request(.GET, "/api/v1/users?limit=abc", token: admin).errorField, "limit")
        XCTAssertEqual(try harness.request(.GET, "/api/v1/api-keys?cursor=%25%25", token: admin).errorField, "cursor")
    }
}
