import Contracts
import Foundation
@testable import Gateway
import HTTP
import ServiceKit
@testable import Profile
import TestSupport
import XCTest

/// The public API catalog against what the profile service really serves, and against what the
/// gateway lets through: every public route is documented, every documented route is served, each
/// one's documented access is the gateway's, and the gateway forwards it to the profile service.
final class ProfileContractTests: XCTestCase {
    static func profileRouter() throws -> Router {
        let settings = try ProfileSettings(config: ConfigReader(environment: [
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LATTICE_INTERNAL_SECRET": "contract-test-secret-0123456789",
        ]))
        return try ProfileApp(settings: settings, logSink: InMemoryLogSink(), orgs: OrgDirectory { [] }).service.router
    }

    static var catalog: [PublicEndpoint] { PublicAPI.endpoints.filter { $0.service == "profile" } }

    func testEveryPublicRouteIsCatalogedAndEveryEntryIsServed() throws {
        let routed = Set(try Self.profileRouter().registeredRoutes.filter { $0.pattern.hasPrefix("/api/v1/") }
            .map { "\($0.method.rawValue) \($0.pattern)" })
        let cataloged = Set(Self.catalog.map { "\($0.method) \($0.path)" })
        XCTAssertFalse(routed.isEmpty)
        XCTAssertEqual(routed.subtracting(cataloged).sorted(), [], "routes missing from PublicAPI+Profile.swift")
        XCTAssertEqual(cataloged.subtracting(routed).sorted(), [], "catalog entries the profile service does not serve")
    }

    func testDocumentedAccessIsTheGatewaysAndTheGatewayRoutesToProfile() throws {
        for e in Self.catalog {
            let path = e.path.replacingOccurrences(of: "{customerId}", with: "C1").replacingOccurrences(of: "{id}", with: "x")
                .replacingOccurrences(of: "{code}", with: "t")
            let requirement = AccessPolicy.requirement(method: HTTPMethod(rawValue: e.method), path: path)
            switch e.access {
            case .anonymous: XCTAssertEqual(requirement, .anonymous, "\(e.method) \(e.path)")
            case .authenticated: XCTAssertEqual(requirement, .authenticated, "\(e.method) \(e.path)")
            case .right(let r): XCTAssertEqual(requirement, .right(r), "\(e.method) \(e.path)")
            }
            XCTAssertEqual(UpstreamTable.resources[AccessPolicy.resource(of: path)], "profile", "\(e.method) \(e.path)")
        }
    }

    func testTheCheckCanFail() throws {
        let router = try Self.profileRouter()
        router.get("/api/v1/customers/{customerId}/undocumented") { _, _ in .status(204) }
        let routed = Set(router.registeredRoutes.filter { $0.pattern.hasPrefix("/api/v1/") }.map { "\($0.method.rawValue) \($0.pattern)" })
        XCTAssertEqual(routed.subtracting(Set(Self.catalog.map { "\($0.method) \($0.path)" })),
                       ["GET /api/v1/customers/{customerId}/undocumented"])
    }
}
