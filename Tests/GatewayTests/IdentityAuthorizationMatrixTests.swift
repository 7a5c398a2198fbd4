import Contracts
import Foundation
@testable import Gateway
import HTTP
import TestSupport
import XCTest

/// The authorization matrix of issue 3, table-driven so that later resources add rows:
///
/// Tree: hq → branches a, b → sub-branches a1, b1. For every resource type, an actor sees, lists,
/// changes and creates records only in its own subtree: elsewhere it gets 404 (never data); a role
/// without the route's right gets 403 from the gateway's middleware; the head office sees all.
final class IdentityAuthorizationMatrixTests: XCTestCase {
    /// A resource type in the matrix: how to find, list, change and create its records.
    struct ScopedResource: Sendable {
        let name: String
        let listPath: String
        /// The record owned by an org unit, made by the fixture (its id).
        let record: @Sendable (MatrixFixture, _ org: String) throws -> String
        let readPath: @Sendable (_ id: String) -> String
        /// A harmless change of the record.
        let change: @Sendable (_ id: String) -> (HTTPMethod, String, JSONValue?)
        /// A create whose target is the org unit, or nil when the unit's kind does not allow one.
        let create: @Sendable (_ org: String, _ kind: OrgUnit.Kind, _ serial: Int) -> (String, JSONValue)?
    }

    static let resources: [ScopedResource] = [
        ScopedResource(
            name: "users", listPath: "/api/v1/users",
            record: { fixture, org in fixture.userIds[org]! },
            readPath: { "/api/v1/users/\($0)" },
            change: { (.PATCH, "/api/v1/users/\($0)", ["rights": ["pii"]]) },
            create: { org, _, n in ("/api/v1/users", ["username": .string("new.\(org).\(n)"), "password": "password-1234",
                                                      "orgId": .string(org), "roles": ["viewer"]]) }),
        ScopedResource(
            name: "orgs", listPath: "/api/v1/orgs",
            record: { _, org in org },
            readPath: { "/api/v1/orgs/\($0)" },
            change: { (.PATCH, "/api/v1/orgs/\($0)", ["name": "Renamed"]) },
            create: { org, kind, n in
                kind == .branch ? ("/api/v1/orgs", ["id": .string("n\(n)"), "parentId": .string(org), "kind": "sub_branch",
                                                    "name": "New"]) : nil
            }),
        ScopedResource(
            name: "api-keys", listPath: "/api/v1/api-keys",
            record: { fixture, org in fixture.apiKeyIds[org]! },
            readPath: { "/api/v1/api-keys/\($0)" },
            change: { (.POST, "/api/v1/api-keys/\($0):revoke", nil) },
            create: { org, _, _ in ("/api/v1/api-keys", ["name": "system", "orgId": .string(org), "rights": ["view"]]) }),
    ]

    /// Who acts, from which unit.
    static let actors: [(username: String, orgPath: String)] = [
        ("admin", "/hq/"), ("a.admin", "/hq/a/"), ("b.admin", "/hq/b/"), ("a1.admin", "/hq/a/a1/"),
    ]

    static let units: [(id: String, path: String, kind: OrgUnit.Kind)] = [
        ("hq", "/hq/", .headOffice), ("a", "/hq/a/", .branch), ("b", "/hq/b/", .branch),
        ("a1", "/hq/a/a1/", .subBranch), ("b1", "/hq/b/b1/", .subBranch),
    ]

    private var fixture: MatrixFixture!

    override func setUpWithError() throws {
        fixture = try MatrixFixture()
    }

    override func tearDown() {
        fixture?.harness.close()
        fixture = nil
        super.tearDown()
    }

    func testOrgScopeMatrix() throws {
        let h = fixture.harness
        var serial = 0
        for resource in Self.resources {
            for actor in Self.actors {
                let token = fixture.tokens[actor.username]!
                // List: only the subtree, whatever else exists.
                let list = try h.request(.GET, resource.listPath + "?limit=200", token: token)
                XCTAssertEqual(list.status, 200, "\(actor.username) list \(resource.name): \(list.text)")
                let listed = list.object.items
                XCTAssertFalse(listed.isEmpty, "\(actor.username) list \(resource.name)")
                for item in listed {
                    let path = item["orgPath"]?.stringValue ?? item["path"]?.stringValue ?? ""
                    XCTAssertTrue(path.hasPrefix(actor.orgPath), "\(actor.username) listed \(resource.name) at \(path)")
                }
                for unit in Self.units {
                    let visible = unit.path.hasPrefix(actor.orgPath)
                    let id = try resource.record(fixture, unit.id)
                    let what = "\(actor.username) → \(resource.name) of \(unit.id)"
                    XCTAssertEqual(listed.contains { $0["id"]?.stringValue == id }, visible, "\(what) listed")

                    let read = try h.request(.GET, resource.readPath(id), token: token)
                    XCTAssertEqual(read.status, visible ? 200 : 404, "\(what) read: \(read.text)")
                    if !visible {
                        XCTAssertFalse(read.text.contains(unit.path), "\(what): a refusal carries no data")
                    }

                    serial += 1
                    if let (path, body) = resource.create(unit.id, unit.kind, serial) {
                        let created = try h.request(.POST, path, token: token, json: body)
                        XCTAssertEqual(created.status, visible ? 201 : 404, "\(what) create: \(created.text)")
                    }

                    // Changes last: for API keys the change is a revocation.
                    let (method, path, body) = resource.change(id)
                    let changed = try h.request(method, path, token: token, json: body)
                    XCTAssertEqual(changed.status, visible ? 200 : 404, "\(what) change: \(changed.text)")
                    if !visible {
                        XCTAssertFalse(changed.text.contains(unit.path), "\(what): a refusal carries no data")
                    }
                }
                fixture.restoreAPIKeys()
            }
        }
    }

    /// Route-level rights per role (the gateway's first check), for users of branch a and an API key.
    func testRoleMatrix() throws {
        let h = fixture.harness
        let adminOnly: Set<String> = ["admin"]
        let rows: [(String, HTTPMethod, String, JSONValue?, Set<String>)] = [
            ("read orgs", .GET, "/api/v1/orgs", nil, Set(AccessPolicy.roles).union(["key:view"])),
            ("me", .GET, "/api/v1/me", nil, Set(AccessPolicy.roles).union(["key:view"])),
            ("create org", .POST, "/api/v1/orgs", ["parentId": "a", "kind": "sub_branch", "name": "x"], adminOnly),
            ("rename org", .PATCH, "/api/v1/orgs/a1", ["name": "x"], adminOnly),
            ("list users", .GET, "/api/v1/users", nil, adminOnly),
            ("read user", .GET, "/api/v1/users/\(fixture.userIds["a1"]!)", nil, adminOnly),
            ("create user", .POST, "/api/v1/users", nil, adminOnly),
            ("change user", .PATCH, "/api/v1/users/\(fixture.userIds["a1"]!)", ["rights": []], adminOnly),
            ("list keys", .GET, "/api/v1/api-keys", nil, adminOnly),
            ("create key", .POST, "/api/v1/api-keys", ["name": "k", "orgId": "a", "rights": ["view"]], adminOnly),
        ]
        var serial = 0
        for role in AccessPolicy.roles + ["key:view"] {
            let token = role == "key:view" ? fixture.viewKey : fixture.tokens["a.\(role)"]!
            for (name, method, path, body, allowed) in rows {
                serial += 1
                let json = body ?? (name == "create user"
                    ? ["username": .string("role.\(serial)"), "password": "password-1234", "orgId": "a1", "roles": ["viewer"]]
                    : nil)
                let r = try h.request(method, path, token: token, json: json)
                if allowed.contains(role) {
                    XCTAssertTrue((200..<300).contains(r.status), "\(role) \(name): \(r.status) \(r.text)")
                } else {
                    XCTAssertEqual(r.status, 403, "\(role) \(name): \(r.text)")
                    XCTAssertEqual(r.errorCode, "forbidden", "\(role) \(name)")
                    XCTAssertNil(r.object["items"], "\(role) \(name): a refusal carries no data")
                }
            }
        }
        // Without a token nothing but login answers.
        XCTAssertEqual(try h.request(.GET, "/api/v1/orgs").status, 401)
        XCTAssertEqual(try h.request(.GET, "/api/v1/users", token: "lts_" + String(repeating: "A", count: 43)).status, 401)
    }
}

/// The bank of the matrix: units, one admin per unit, one user per role in branch a, a user and an
/// API key owned by every unit.
final class MatrixFixture {
    let harness: IdentityHarness
    var tokens: [String: String] = [:]
    /// A user record owned by each unit (not an actor, so changing it changes nobody's access).
    var userIds: [String: String] = [:]
    var apiKeyIds: [String: String] = [:]
    var viewKey = ""

    init() throws {
        harness = try IdentityHarness()
        for unit in IdentityAuthorizationMatrixTests.units where unit.kind != .headOffice {
            let parent = unit.kind == .branch ? "hq" : String(unit.id.prefix(1))
            try harness.createOrg(unit.id, parent: parent, kind: unit.kind.rawValue)
        }
        for unit in IdentityAuthorizationMatrixTests.units {
            userIds[unit.id] = try harness.createUser("member.\(unit.id)", org: unit.id, roles: ["viewer"]).id
            apiKeyIds[unit.id] = try harness.store.createAPIKey(
                caller: harness.headOffice, input: CreateAPIKeyInput(name: "key \(unit.id)", orgId: unit.id, rights: ["view"])).id
        }
        for admin in ["a.admin", "b.admin", "a1.admin"] {
            try harness.createUser(admin, org: String(admin.split(separator: ".")[0]), roles: ["admin"])
        }
        for role in AccessPolicy.roles where role != "admin" {
            try harness.createUser("a.\(role.replacingOccurrences(of: "_", with: "-"))", org: "a", roles: [role])
        }
        let everyone = ["admin"] + ["a.admin", "b.admin", "a1.admin"]
            + AccessPolicy.roles.filter { $0 != "admin" }.map { "a.\($0.replacingOccurrences(of: "_", with: "-"))" }
        for user in everyone {
            tokens[user] = try harness.token(user, user == "admin" ? IdentityHarness.adminPassword : "password-1234")
        }
        // Role names map to usernames of branch a (the role matrix looks them up by `a.<role>`).
        for role in AccessPolicy.roles {
            tokens["a.\(role)"] = tokens["a.\(role.replacingOccurrences(of: "_", with: "-"))"] ?? tokens["a.admin"]
        }
        viewKey = try XCTUnwrap(try harness.store.createAPIKey(
            caller: harness.headOffice, input: CreateAPIKeyInput(name: "viewer system", orgId: "a", rights: ["view"])).key)
    }

    /// Un-revokes the fixture's keys after a pass of the matrix revoked them.
    func restoreAPIKeys() {
        _ = try? harness.pool.execute("UPDATE api_keys SET revoked_at = NULL")
    }
}
