import Contracts
import Foundation
@testable import Gateway
import HTTP
@testable import Rewards
import ServiceKit
import TestSupport
import XCTest

/// The public API catalog against what the rewards service really serves and what the gateway lets
/// through: every public route is documented, every documented route is served, each one's documented
/// access is the gateway's, and the gateway forwards it to the rewards service.
final class RewardsContractTests: XCTestCase {
    static func rewardsRouter() throws -> Router {
        let settings = try RewardsSettings(config: ConfigReader(environment: [
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LATTICE_INTERNAL_SECRET": "contract-test-secret-0123456789",
        ]))
        return try RewardsApp(settings: settings, logSink: InMemoryLogSink()).service.router
    }

    static var catalog: [PublicEndpoint] { PublicAPI.endpoints.filter { $0.service == "rewards" } }

    static func routes(_ router: Router) -> Set<String> {
        Set(router.registeredRoutes.filter { $0.pattern.hasPrefix("/api/v1/") }.map { "\($0.method.rawValue) \($0.pattern)" })
    }

    func testEveryPublicRouteIsCatalogedAndEveryEntryIsServed() throws {
        let routed = Self.routes(try Self.rewardsRouter())
        let cataloged = Set(Self.catalog.map { "\($0.method) \($0.path)" })
        XCTAssertFalse(routed.isEmpty)
        XCTAssertEqual(routed.subtracting(cataloged).sorted(), [], "routes missing from PublicAPI+Rewards.swift")
        XCTAssertEqual(cataloged.subtracting(routed).sorted(), [], "catalog entries the rewards service does not serve")
        XCTAssertEqual(PublicAPI.problems(in: PublicAPI.endpoints), [])
    }

    func testDocumentedAccessIsTheGatewaysAndTheGatewayRoutesToRewards() throws {
        for e in Self.catalog {
            let path = e.path.replacingOccurrences(of: "{id}", with: "x").replacingOccurrences(of: "{customerId}", with: "c1")
            let requirement = AccessPolicy.requirement(method: HTTPMethod(rawValue: e.method), path: path)
            switch e.access {
            case .anonymous: XCTAssertEqual(requirement, .anonymous, "\(e.method) \(e.path)")
            case .authenticated: XCTAssertEqual(requirement, .authenticated, "\(e.method) \(e.path)")
            case .right(let r): XCTAssertEqual(requirement, .right(r), "\(e.method) \(e.path)")
            }
            let exception = UpstreamTable.exceptions.first { $0.method == e.method && $0.pattern == e.path }?.service
            XCTAssertEqual(exception ?? UpstreamTable.resources[AccessPolicy.resource(of: path)], "rewards", "\(e.method) \(e.path)")
        }
    }

    func testTheGrantRefusalCodesTheCanvasReliesOnAreDocumented() {
        let grant = Self.catalog.first { $0.operationId == "grantReward" }
        let text = grant?.requestBody?["description"]?.stringValue ?? ""
        for code in ["out_of_stock", "budget_exhausted", "limit_reached", "not_approved", "expired", "idempotency_conflict"] {
            XCTAssertTrue(text.contains(code), code)
        }
    }

    func testTheCheckCanFail() throws {
        let router = try Self.rewardsRouter()
        router.get("/api/v1/rewards/{id}/undocumented") { _, _ in .status(204) }
        XCTAssertEqual(Self.routes(router).subtracting(Set(Self.catalog.map { "\($0.method) \($0.path)" })),
                       ["GET /api/v1/rewards/{id}/undocumented"])
    }
}
