import Contracts
import Foundation
@testable import Analytics
@testable import Gateway
import HTTP
import ServiceKit
import TestSupport
import XCTest

/// The public API catalog against what analytics really serves and what the gateway lets through.
final class AnalyticsContractTests: XCTestCase {
    static func analyticsRouter() throws -> Router {
        let settings = try AnalyticsSettings(config: ConfigReader(environment: [
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LATTICE_INTERNAL_SECRET": "contract-test-secret-0123456789",
        ]))
        return try AnalyticsApp(settings: settings, logSink: InMemoryLogSink()).service.router
    }

    static var catalog: [PublicEndpoint] { PublicAPI.endpoints.filter { $0.service == "analytics" } }

    static func routes(_ router: Router) -> Set<String> {
        Set(router.registeredRoutes.filter { $0.pattern.hasPrefix("/api/v1/") }.map { "\($0.method.rawValue) \($0.pattern)" })
    }

    func testEveryPublicRouteIsCatalogedAndEveryEntryIsServed() throws {
        let router = try Self.analyticsRouter()
        let routed = Self.routes(router)
        let cataloged = Set(Self.catalog.map { "\($0.method) \($0.path)" })
        XCTAssertEqual(routed.count, 6)
        XCTAssertEqual(routed.subtracting(cataloged).sorted(), [], "routes missing from PublicAPI+Analytics.swift")
        XCTAssertEqual(cataloged.subtracting(routed).sorted(), [], "catalog entries analytics does not serve")
        XCTAssertEqual(PublicAPI.problems(in: PublicAPI.endpoints), [])
        XCTAssertTrue(router.registeredRoutes.contains { $0.method == .POST && $0.pattern == "/internal/v1/events" })
        XCTAssertTrue(Self.catalog.allSatisfy { !$0.summaryZh.isEmpty })
    }

    func testDocumentedAccessIsTheGatewaysAndTheGatewayRoutesToAnalytics() throws {
        for e in Self.catalog {
            let path = e.path.replacingOccurrences(of: "{id}", with: "x")
            XCTAssertEqual(AccessPolicy.requirement(method: HTTPMethod(rawValue: e.method), path: path), .right("view"), "\(e.method) \(e.path)")
            XCTAssertEqual(e.access, .right("view"))
            XCTAssertEqual(UpstreamTable.resources[AccessPolicy.resource(of: path)], "analytics", "\(e.method) \(e.path)")
        }
    }

    func testTheCheckCanFail() throws {
        let router = try Self.analyticsRouter()
        router.get("/api/v1/analytics/undocumented") { _, _ in .status(204) }
        XCTAssertEqual(Self.routes(router).subtracting(Set(Self.catalog.map { "\($0.method) \($0.path)" })), ["GET /api/v1/analytics/undocumented"])
    }
}
