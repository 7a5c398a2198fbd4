import Contracts
import Foundation
import HTTP
import ServiceKit

/// The rewards service's public routes (DESIGN.md §3 "Rewards"; catalog in PublicAPI+Rewards.swift).
enum RewardRoutes {
    static let options = RouteOptions(maxBodyBytes: 1 << 20)
    static let small = RouteOptions(maxBodyBytes: 16 << 10)

    static func register(on router: Router, store: RewardStore, ledger: GrantLedger, points: PointsLedger, draws: LotteryDraw,
                         external: ExternalFetch, idempotency: IdempotencyStore) {
        router.get("/api/v1/rewards") { request, context in
            let caller = try context.requireIdentity()
            let q = request.queryParameters
            var kind: RewardKind?
            if let k = q["kind"] {
                guard let parsed = RewardKind(rawValue: k) else {
                    throw APIError.badRequest("kind must be one of \(RewardKind.allCases.map(\.rawValue).joined(separator: " "))", field: "kind")
                }
                kind = parsed
            }
            return try .json(try store.rewards(caller: caller, kind: kind, page: try PageRequest(query: q)))
        }
        router.post("/api/v1/rewards", options: options) { request, context in
            let caller = try context.requireIdentity()
            return try idempotency.create(callerId: caller.userId, request: request) {
                try store.create(try RewardInput(body: try request.decode(JSONValue.self)), caller: caller).json
            }
        }
        router.get("/api/v1/rewards/{id}") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try store.reward(id: try context.parameters.require("id"), caller: caller).json)
        }
        router.post("/api/v1/rewards/{id}:approve") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try store.approve(id: try context.parameters.require("id"), caller: caller).json)
        }
        router.post("/api/v1/rewards/{id}/grants", options: small) { request, context in
            let caller = try context.requireIdentity()
            let key = try requiredKey(request)
            let grantRequest = try GrantRequest(body: try request.decode(JSONValue.self))
            let reward = try store.terms(id: try context.parameters.require("id"), caller: caller)
            guard reward.kind != .lottery else {
                throw APIError.unprocessable("a lottery is drawn with POST /api/v1/lotteries/{id}:draw", code: "reward_is_lottery")
            }
            let outcome = try ledger.grant(reward: reward, request: grantRequest, key: key, caller: caller)
            var grant = outcome.grant
            if outcome.created, reward.kind == .external, let url = reward.providerURL {
                grant = external.fetch(grant, providerURL: url)
                if grant.externalStatus == "failed" { throw GrantLedger.externalRefused(grant) }
            }
            return try .json(grant.json, status: outcome.created ? 201 : 200)
        }
        router.get("/api/v1/rewards/{id}/quotas") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try store.quotas(id: try context.parameters.require("id"), caller: caller))
        }
        router.post("/api/v1/rewards/{id}/quotas", options: small) { request, context in
            let caller = try context.requireIdentity()
            let f = try BodyFields(try request.decode(JSONValue.self), allowed: ["orgId", "orgPath", "units"], field: "")
            let orgId = try f.string("orgId", length: 1...64)
            let orgPath = try f.string("orgPath", length: 3...500)
            guard orgPath.hasPrefix("/"), orgPath.hasSuffix("/") else {
                throw APIError.badRequest("orgPath is the unit's path, such as /hq/sh/", field: "orgPath")
            }
            guard let units = try f.int("units", in: 0...100_000_000) else { throw APIError.badRequest("units is required", field: "units") }
            return try .json(try store.allot(id: try context.parameters.require("id"), orgId: orgId, orgPath: orgPath, units: units, caller: caller))
        }
        router.get("/api/v1/grants/{id}") { _, context in
            let caller = try context.requireIdentity()
            return try .json(try ledger.grant(id: try context.parameters.require("id"), caller: caller).json)
        }
        router.post("/api/v1/grants/{id}:redeem", options: small) { _, context in
            let caller = try context.requireIdentity()
            return try .json(try ledger.redeem(id: try context.parameters.require("id"), caller: caller).json)
        }
        router.post("/api/v1/grants/{id}:revoke", options: small) { request, context in
            let caller = try context.requireIdentity()
            let body = try request.collectBody().isEmpty ? JSONValue.object([:]) : try request.decode(JSONValue.self)
            let reason = try BodyFields(body, allowed: ["reason"], field: "").optionalString("reason", length: 1...500)
            return try .json(try ledger.revoke(id: try context.parameters.require("id"), reason: reason, caller: caller).json)
        }
        router.get("/api/v1/customers/{customerId}/rewards") { request, context in
            let caller = try context.requireIdentity()
            let customerId = try customer(context)
            let q = request.queryParameters
            let status = q["status"]
            if let status, !["granted", "redeemed", "expired", "revoked"].contains(status) {
                throw APIError.badRequest("status must be one of granted redeemed expired revoked", field: "status")
            }
            return try .json(try ledger.customerGrants(customerId: customerId, status: status, caller: caller, page: try PageRequest(query: q)))
        }
        // The profile's 360° view: the customer's latest grants and points balance, in the forwarded caller's scope.
        router.get("/internal/v1/customers/{customerId}/rewards") { _, context in
            let caller = try context.requireIdentity()
            let customerId = try customer(context)
            let grants = try ledger.customerGrants(customerId: customerId, status: nil, caller: caller, page: PageRequest(limit: 20))
            return try .json(JSONValue.object(["items": .array(grants.items),
                                               "pointsBalance": .number(Double(try points.balance(customerId: customerId, caller: caller)))]))
        }
        router.get("/api/v1/points/{customerId}") { request, context in
            let caller = try context.requireIdentity()
            return try .json(try points.account(customerId: try customer(context), caller: caller, page: try PageRequest(query: request.queryParameters)))
        }
        router.post("/api/v1/points/{customerId}:earn", options: small) { request, context in
            let caller = try context.requireIdentity()
            let key = try requiredKey(request)
            let f = try BodyFields(try request.decode(JSONValue.self), allowed: ["points", "validDays", "expiresAt", "reason"], field: "")
            guard let amount = try f.int("points", in: 1...100_000_000) else { throw APIError.badRequest("points is required", field: "points") }
            let days = try f.int("validDays", in: 1...3650)
            var expiry = PointsExpiry.days(days ?? PointsExpiry.defaultDays)
            if let text = try f.optionalString("expiresAt", length: 20...35) {
                guard days == nil else { throw APIError.badRequest("give validDays or expiresAt, not both", field: "expiresAt") }
                guard let d = RFC3339.parse(text), d > Date() else {
                    throw APIError.badRequest("expiresAt must be a future RFC 3339 timestamp", field: "expiresAt")
                }
                expiry = .at(d)
            }
            let outcome = try points.earn(customerId: try customer(context), points: amount, expiry: expiry, key: key,
                                          reason: try f.optionalString("reason", length: 1...200), caller: caller)
            return try .json(outcome.json, status: outcome.created ? 201 : 200)
        }
        router.post("/api/v1/points/{customerId}:spend", options: small) { request, context in
            let caller = try context.requireIdentity()
            let key = try requiredKey(request)
            let f = try BodyFields(try request.decode(JSONValue.self), allowed: ["points", "reason"], field: "")
            guard let amount = try f.int("points", in: 1...100_000_000) else { throw APIError.badRequest("points is required", field: "points") }
            let outcome = try points.spend(customerId: try customer(context), points: amount, key: key,
                                           reason: try f.optionalString("reason", length: 1...200), caller: caller)
            return try .json(outcome.json, status: outcome.created ? 201 : 200)
        }
        router.post("/api/v1/lotteries/{id}:draw", options: small) { request, context in
            let caller = try context.requireIdentity()
            let key = try requiredKey(request)
            let drawRequest = try GrantRequest(body: try request.decode(JSONValue.self))
            let lottery = try store.terms(id: try context.parameters.require("id"), caller: caller)
            let (outcome, consolation) = try draws.draw(lottery: lottery, request: drawRequest, key: key, caller: caller)
            guard case .object(var o) = outcome.grant.json else { return .status(500) }
            o["consolation"] = .bool(consolation)
            return try .json(JSONValue.object(o), status: outcome.created ? 201 : 200)
        }
    }

    /// Grants, draws and points moves must be repeatable without effect: the key is required.
    static func requiredKey(_ request: Request) throws -> String {
        guard let raw = request.headers.first(IdempotencyStore.header) else {
            throw APIError.badRequest("this request needs an Idempotency-Key header", field: "Idempotency-Key")
        }
        return try IdempotencyStore.validatedKey(raw)
    }

    static func customer(_ context: RequestContext) throws -> String {
        let id = try context.parameters.require("customerId")
        guard (1...64).contains(id.count), !id.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw APIError.badRequest("customerId must be 1 to 64 characters", field: "customerId")
        }
        return id
    }
}
