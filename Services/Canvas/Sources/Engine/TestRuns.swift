import Contracts
import Foundation
import Postgres

/// Test runs of a canvas (`POST /api/v1/canvases/{id}:test`, DESIGN.md §3): the draft (or, without
/// one, the live version) rehearsed on a seed list of at most 50 customers of the canvas's unit.
///
/// The run copies the document and enters each test customer at the start node at once — no entry
/// trigger, audience, window, re-entry rule or control group: they are the recipients chosen to see
/// the journey. The engine then moves them like real journeys (`JourneyEngine`: messages sent for real,
/// other side effects skipped), and nothing of the run reaches the canvas's statistics, entries or the
/// journey facts analytics reads. `GET /api/v1/canvases/{id}/tests/{runId}` shows how far each got.
struct TestRuns: Sendable {
    let database: PostgresPool
    let peers: Peers

    static let maxCustomers = 50
    static let notFound = APIError.notFound("no such test run of this canvas", code: "test_run_not_found")

    /// A run as the API shows it.
    struct Run: Sendable, Encodable {
        struct Journey: Sendable, Encodable {
            var customerId: String
            var arm: String?
            var state: String
            /// Where the journey goes next (nil once done).
            var node: String?
            var exitReason: String?
        }
        var id: String
        var canvasId: String
        /// `draft`, or `version` with `version` the live version rehearsed.
        var tested: String
        var version: Int?
        var customerIds: [String]
        var createdBy: String
        var createdAt: Date
        /// With `GET …/tests/{runId}`: each test customer's journey and the run's counts per node.
        var journeys: [Journey]?
        var nodes: [CanvasStats.NodeCount]?
        /// How the run's journeys ended so far: reason → count.
        var exits: [String: Int64]?
    }

    static func newId() -> String { RecordId.make("tst_") }

    static func isId(_ id: String) -> Bool {
        id.hasPrefix("tst_") && (5...64).contains(id.utf8.count)
            && id.utf8.dropFirst(4).allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
    }

    /// The body `{"customerIds": [...]}`: 1 to 50 distinct customer ids, 400 naming the faulty one.
    static func customerIds(_ body: JSONValue?) throws -> [String] {
        guard case .object(let o)? = body else {
            throw APIError.badRequest("the body is {\"customerIds\": [...]}, 1 to \(maxCustomers) test customers", field: "customerIds")
        }
        try Fields(o, path: "", allowed: ["customerIds"]).checkKeys()
        guard case .array(let list)? = o["customerIds"], (1...maxCustomers).contains(list.count) else {
            throw APIError.badRequest("customerIds must be an array of 1 to \(maxCustomers) customer ids", field: "customerIds")
        }
        var seen = Set<String>()
        return try list.enumerated().map { i, v in
            guard case .string(let id) = v, (1...64).contains(id.utf8.count), !id.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw APIError.badRequest("customerIds[\(i)] must be a customer id (1 to 64 characters)", field: "customerIds[\(i)]")
            }
            guard seen.insert(id).inserted else { throw APIError.badRequest("customerIds[\(i)] repeats \(id)", field: "customerIds[\(i)]") }
            return id
        }
    }

    /// Enters `customers` into a new run of `document`; the caller wakes the engine.
    func start(canvas: Canvas, document: CanvasDocument, version: Int?, customers: [String], caller: CallerIdentity) throws -> Run {
        let profiles = try known(customers, in: canvas)
        let id = Self.newId()
        var arms: [String] = [], orgs: [String?] = []
        for c in customers {
            // The branch the real run would give the customer, so that a test shows that customer's path.
            arms.append(Assignment.arm(document: document, canvas: canvas.id, customer: c).0)
            orgs.append(profiles[c]?.orgPath)
        }
        return try database.transaction { conn in
            guard let row = try conn.query("""
                INSERT INTO test_runs (id, canvas_id, version, document, customer_ids, created_by) VALUES ($1, $2, $3, $4::jsonb, $5, $6)
                RETURNING created_at
                """, id, canvas.id, version, try CanvasStore.text(document.json), customers, caller.userId).first else {
                throw APIError.internalError("the test run was not stored")
            }
            try conn.execute("""
                INSERT INTO journeys (canvas_id, version, customer_id, customer_org_path, arm, state, node, due_at, entry_key, test_run)
                SELECT $1, $2, t.c, t.o, t.a, 'active', $3, now(), 'test:' || $4, $4
                  FROM unnest($5::text[], $6::text[], $7::text[]) AS t(c, o, a)
                """, canvas.id, version ?? 0, document.start, id, customers, orgs, arms)
            try NodeStats.add([NodeStats.key("$entry", "entered"): Int64(customers.count)], canvas: id, on: conn)
            return Run(id: id, canvasId: canvas.id, tested: version == nil ? "draft" : "version", version: version, customerIds: customers,
                       createdBy: caller.userId, createdAt: try row.decode("created_at"))
        }
    }

    /// Every test customer must be a customer of the canvas's unit (what its journeys can reach); an
    /// unknown one and one elsewhere are the same 422, so the answer tells nothing about other units.
    private func known(_ customers: [String], in canvas: Canvas) throws -> [String: CustomerFactsDocument] {
        let profiles: [String: CustomerFactsDocument]
        do {
            profiles = try peers.facts(customers)
        } catch let e as APIError {
            throw e
        } catch {
            throw APIError.unavailable("the profile service cannot be reached to check the test customers (\(error)); try again",
                                       code: "profile_unavailable")
        }
        for (i, c) in customers.enumerated() {
            guard let p = profiles[c], p.exists, let path = p.orgPath, path.hasPrefix(canvas.orgPath) else {
                throw APIError.unprocessable("customerIds[\(i)]: no customer \(c.prefix(64)) in the canvas's unit", code: "test_customer_unknown",
                                             details: .object(["field": .string("customerIds[\(i)]")]))
            }
        }
        return profiles
    }

    /// A run of `canvas` with its journeys and per-node counts.
    func run(id: String, canvas: Canvas) throws -> Run {
        guard Self.isId(id), let row = try database.query("""
            SELECT id, canvas_id, version, document::text AS d, customer_ids, created_by, created_at FROM test_runs WHERE id = $1 AND canvas_id = $2
            """, id, canvas.id).first else { throw Self.notFound }
        var run = Run(id: try row.decode("id"), canvasId: try row.decode("canvas_id"), tested: "draft", version: try row.decode("version"),
                      customerIds: try row.decode("customer_ids"), createdBy: try row.decode("created_by"), createdAt: try row.decode("created_at"))
        if run.version != nil { run.tested = "version" }
        run.journeys = try database.query("""
            SELECT customer_id, arm, state, node, exit_reason FROM journeys WHERE test_run = $1 ORDER BY customer_id
            """, id).map { r in
            Run.Journey(customerId: try r.decode("customer_id"), arm: try r.decode("arm"), state: try r.decode("state"),
                        node: try r.decode("node"), exitReason: try r.decode("exit_reason"))
        }
        let document = try CanvasDocument(json: try Canvas.parse(try row.decode("d")))
        let counts = try CanvasStats.counts(statsKey: id, database: database)
        run.nodes = CanvasStats.nodeCounts(of: document, counts)
        run.exits = counts["$exit"] ?? [:]
        return run
    }
}
