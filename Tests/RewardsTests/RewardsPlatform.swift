import Contracts
import Foundation
import HTTP
import Postgres
import TestSupport
import XCTest

/// The gateway and the rewards service (and the provider simulator, the outside party behind external
/// rewards) as real processes on the test PostgreSQL, each in a fresh schema. Public calls go through the
/// gateway; `direct` calls the rewards port with the internal credential, as the canvas does.
/// Thread-safety: immutable after init except `rewards`, replaced only by `crashAndRestartRewards` (one
/// thread at a time); `call` and `direct` may run on many threads at once.
final class RewardsPlatform: @unchecked Sendable, GatewayTestClient {
    static let secret = "e2e-rewards-secret-0123456789"
    static let adminPassword = "e2e-admin-password-1"
    let gateway: FixtureProcess
    private(set) var rewards: FixtureProcess
    let rewardsEnvironment: [String: String]
    let simulator: FixtureProcess
    let gatewayPort: Int
    let rewardsPort: Int
    let simulatorPort: Int
    let schemas: [String]
    /// The rewards schema, for checks counted from the database.
    let pool: PostgresPool
    let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.retry = .none
        c.maxConcurrentRequests = 256
        c.timeoutMs = 60_000
        return HTTPClient(configuration: c)
    }()

    init(rewardsEnvironment extra: [String: String] = [:]) throws {
        let url = try TestEnvironment.databaseURL()
        let identity = TestEnvironment.uniqueSchema("e2e_identity"), rewardsSchema = TestEnvironment.uniqueSchema("e2e_rewards")
        schemas = [identity, rewardsSchema]
        gatewayPort = TestEnvironment.freePort()
        rewardsPort = TestEnvironment.freePort()
        simulatorPort = TestEnvironment.freePort()
        let common = ["DATABASE_URL": url, "LATTICE_INTERNAL_SECRET": Self.secret, "LATTICE_HTTP_EVENT_LOOPS": "1",
                      "LATTICE_DB_POOL_SIZE": "12", "LATTICE_GATEWAY_URL": "http://127.0.0.1:\(gatewayPort)"]
        simulator = try FixtureProcess("ProviderSimulator", environment: ["SIM_PORT": String(simulatorPort), "SIM_LATENCY_MS": "1"])
        // Facts go to a subscriber that is not there: the outbox rows are what the tests check.
        rewardsEnvironment = common.merging([
            "LATTICE_DB_SCHEMA": rewardsSchema, "LATTICE_PORT": String(rewardsPort),
            "LATTICE_EVENT_SUBSCRIBERS": "analytics=http://127.0.0.1:\(TestEnvironment.freePort())/internal/v1/events",
            "LATTICE_REWARDS_EXPIRY_INTERVAL": "200ms",
        ].merging(extra) { $1 }) { $1 }
        rewards = try FixtureProcess("lattice-rewards", environment: rewardsEnvironment)
        gateway = try FixtureProcess("lattice-gateway", environment: common.merging([
            "LATTICE_DB_SCHEMA": identity, "LATTICE_PORT": String(gatewayPort), "LATTICE_ADMIN_PASSWORD": Self.adminPassword,
            "LATTICE_UPSTREAM_REWARDS": "http://127.0.0.1:\(rewardsPort)",
            // The concurrency proofs send thousands of requests with one token in seconds.
            "LATTICE_RATE_PER_TOKEN": "1000000", "LATTICE_RATE_BURST_PER_TOKEN": "1000000",
            "LATTICE_RATE_PER_IP": "1000000", "LATTICE_RATE_BURST_PER_IP": "1000000",
        ]) { $1 })
        XCTAssertTrue(simulator.waitForOutput("listening"), simulator.standardError)
        for p in [rewards, gateway] {
            XCTAssertTrue(p.waitForOutput("\"msg\":\"started\""), p.standardError + p.standardOutput)
        }
        var config = try PostgresConfiguration(url: url)
        config.searchPath = [rewardsSchema]
        pool = PostgresPool(configuration: config)
    }

    /// Kills the rewards process without warning (SIGKILL) and starts it again on the same port and schema.
    func crashAndRestartRewards() throws {
        rewards.signal(SIGKILL)
        _ = rewards.waitForExit(timeout: 10)
        rewards = try FixtureProcess("lattice-rewards", environment: rewardsEnvironment)
        XCTAssertTrue(rewards.waitForOutput("\"msg\":\"started\""), rewards.standardError + rewards.standardOutput)
    }

    func stop() {
        pool.close()
        let all = [gateway, rewards, simulator]
        for p in all where p.process.isRunning { p.signal(SIGTERM) }
        for p in all { _ = p.waitForExit(timeout: 10) }
        for s in schemas { TestEnvironment.dropSchema(s) }
    }

    @discardableResult
    func call(_ method: String, _ path: String, token: String?, json: String?) throws -> HTTPClientResponse {
        try call(method, path, token: token, json: json, headers: [])
    }

    func call(_ method: String, _ path: String, token: String?, json: String? = nil, headers: [(String, String)] = []) throws -> HTTPClientResponse {
        var r = HTTPClientRequest(method: method, url: "http://127.0.0.1:\(gatewayPort)" + path)
        if let token { r.headers.add("authorization", "Bearer \(token)") }
        for (k, v) in headers { r.headers.add(k, v) }
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        return try client.send(r)
    }

    func json(_ method: String, _ path: String, token: String?, _ body: JSONValue? = nil, headers: [(String, String)] = [],
              expect status: Int, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let text = try body.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let r = try call(method, path, token: token, json: text, headers: headers)
        XCTAssertEqual(r.status, status, "\(method) \(path): \(r.bodyText)", file: file, line: line)
        return (try? r.decode(JSONValue.self)) ?? .null
    }

    /// A call straight to the rewards port (or another service's `port`) as a system caller at head office
    /// with the internal credential (the canvas's way).
    func direct(_ method: String, _ path: String, json: String?, headers: [(String, String)] = [], port: Int? = nil) throws -> HTTPClientResponse {
        var r = HTTPClientRequest(method: method, url: "http://127.0.0.1:\(port ?? rewardsPort)" + path)
        r.headers.add(InternalHeader.credential, Self.secret)
        r.headers.add(InternalHeader.userId, "system:canvas")
        r.headers.add(InternalHeader.orgId, "hq")
        r.headers.add(InternalHeader.orgPath, "/hq/")
        r.headers.add(InternalHeader.roles, "system")
        r.headers.add(InternalHeader.rights, "view,edit")
        for (k, v) in headers { r.headers.add(k, v) }
        if let json { r.headers.add("content-type", "application/json"); r.body = Array(json.utf8) }
        return try client.send(r)
    }

    /// Runs `work(i)` for i in 0..<count on `threads` threads of our own (Dispatch's pool would run only a
    /// couple at once on this machine); returns when all are done.
    func concurrently(_ count: Int, threads: Int, _ work: @escaping @Sendable (Int) -> Void) {
        let counter = Counter()
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            let t = Thread {
                while true {
                    let i = counter.next()
                    if i >= count { break }
                    work(i)
                }
                group.leave()
            }
            t.start()
        }
        group.wait()
    }

    /// A POST with a JSON body and an Idempotency-Key through the gateway.
    func post(_ path: String, token: String, json: String, key: String) throws -> HTTPClientResponse {
        try call("POST", path, token: token, json: json, headers: [("Idempotency-Key", key)])
    }

    func eventually(timeout: TimeInterval = 15, _ condition: () throws -> Bool) rethrows -> Bool {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    func count(_ sql: String, _ binds: (any PostgresEncodable)?...) throws -> Int {
        let rows = try pool.withConnection { conn in try conn.query(sql, binds: binds) }
        return Int(try rows[0].decode("n", as: Int64.self))
    }
}

/// Hands out 0, 1, 2, … to many threads. Thread-safety: `lock` guards `value`.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value - 1 }
}

/// Collects answers from many threads. Thread-safety: `lock` guards `items`.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String: Int] = [:]
    private var values: [String] = []
    func add(_ key: String, value: String? = nil) {
        lock.lock(); items[key, default: 0] += 1; if let value { values.append(value) }; lock.unlock()
    }
    var counts: [String: Int] { lock.lock(); defer { lock.unlock() }; return items }
    var collected: [String] { lock.lock(); defer { lock.unlock() }; return values }
}

/// A small bank on a `RewardsPlatform`: head office and 上海分行, an operator and an approver at head
/// office, an operator at the branch.
/// Thread-safety: immutable after init.
final class RewardsBank: @unchecked Sendable {
    let platform: RewardsPlatform
    let admin: String
    let hqOperator: String
    let hqApprover: String
    let shOperator: String

    init(platform: RewardsPlatform) throws {
        self.platform = platform
        admin = try platform.login("admin", RewardsPlatform.adminPassword)
        XCTAssertEqual(try platform.call("POST", "/api/v1/orgs", token: admin,
                                         json: #"{"id":"sh","parentId":"hq","kind":"branch","name":"上海分行"}"#).status, 201)
        hqOperator = try platform.user(admin, "hq_op", org: "hq", role: "operator")
        hqApprover = try platform.user(admin, "hq_ap", org: "hq", role: "approver")
        shOperator = try platform.user(admin, "sh_op", org: "sh", role: "operator")
    }

    /// A reward created by the hq operator, approved by the hq approver unless `approve` is false.
    func reward(_ body: [String: JSONValue], approve: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        var b = body
        if b["code"] == nil { b["code"] = .string("r-\(UUID().uuidString.prefix(8).lowercased())") }
        if b["name"] == nil { b["name"] = .string("权益") }
        if b["validity"] == nil { b["validity"] = .object(["days": .number(30)]) }
        let created = try platform.json("POST", "/api/v1/rewards", token: hqOperator, .object(b), expect: 201, file: file, line: line)
        guard approve, let id = created["id"]?.stringValue else { return created }
        return try platform.json("POST", "/api/v1/rewards/\(id):approve", token: hqApprover, expect: 200, file: file, line: line)
    }

    static func coupon(stock: Int, cost: String = "5.00", budget: String? = nil, perCustomer: Int? = nil, perDay: Int? = nil) -> [String: JSONValue] {
        var b: [String: JSONValue] = ["kind": "coupon", "couponType": "cash", "faceValue": "5.00", "stock": .number(Double(stock)),
                                      "unitCost": .string(cost)]
        if let budget { b["budget"] = .string(budget) }
        if let perCustomer { b["perCustomerLimit"] = .number(Double(perCustomer)) }
        if let perDay { b["perDayLimit"] = .number(Double(perDay)) }
        return b
    }

    /// `POST /api/v1/rewards/{id}/grants` through the gateway as `token` (default the hq operator).
    func grant(_ rewardId: String, customer: String, key: String, token: String? = nil, extra: [String: JSONValue] = [:]) throws -> HTTPClientResponse {
        var body: [String: JSONValue] = ["customerId": .string(customer)]
        for (k, v) in extra { body[k] = v }
        return try platform.call("POST", "/api/v1/rewards/\(rewardId)/grants", token: token ?? hqOperator,
                                 json: String(decoding: try JSONEncoder().encode(JSONValue.object(body)), as: UTF8.self),
                                 headers: [("Idempotency-Key", key)])
    }
}

extension HTTPClientResponse {
    var errorCode: String? { (try? decode(JSONValue.self))?["error"]?["code"]?.stringValue }
    var jsonValue: JSONValue { (try? decode(JSONValue.self)) ?? .null }
}

extension JSONValue {
    var items: [JSONValue] {
        if case .array(let a)? = self["items"] { return a }
        return []
    }
}
