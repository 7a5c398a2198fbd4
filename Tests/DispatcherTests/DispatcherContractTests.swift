import Contracts
import Foundation
@testable import Dispatcher
@testable import Gateway
import HTTP
import ServiceKit
import TestSupport
import XCTest

/// The public API catalog against what the dispatcher really serves and what the gateway lets through:
/// every public route is documented, every documented route is served, each one's documented access
/// is the gateway's, and the gateway forwards it to the dispatcher.
final class DispatcherContractTests: XCTestCase {
    static func dispatcherRouter() throws -> Router {
        let settings = try DispatcherSettings(config: ConfigReader(environment: [
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LATTICE_INTERNAL_SECRET": "contract-test-secret-0123456789",
        ]))
        return try DispatcherApp(settings: settings, logSink: InMemoryLogSink()).service.router
    }

    static var catalog: [PublicEndpoint] { PublicAPI.endpoints.filter { $0.service == "dispatcher" } }

    static func routes(_ router: Router) -> Set<String> {
        Set(router.registeredRoutes.filter { $0.pattern.hasPrefix("/api/v1/") }.map { "\($0.method.rawValue) \($0.pattern)" })
    }

    func testEveryPublicRouteIsCatalogedAndEveryEntryIsServed() throws {
        let router = try Self.dispatcherRouter()
        let routed = Self.routes(router)
        let cataloged = Set(Self.catalog.map { "\($0.method) \($0.path)" })
        XCTAssertFalse(routed.isEmpty)
        XCTAssertEqual(routed.subtracting(cataloged).sorted(), [], "routes missing from PublicAPI+Dispatcher.swift")
        XCTAssertEqual(cataloged.subtracting(routed).sorted(), [], "catalog entries the dispatcher does not serve")
        XCTAssertEqual(PublicAPI.problems(in: PublicAPI.endpoints), [])
        // The tracked-link redirect lives outside /api/v1 and is served too.
        XCTAssertTrue(router.registeredRoutes.contains { $0.pattern == "/t/{code}" })
    }

    func testDocumentedAccessIsTheGatewaysAndTheGatewayRoutesToTheDispatcher() throws {
        for e in Self.catalog {
            let path = e.path.replacingOccurrences(of: "{id}", with: "x").replacingOccurrences(of: "{customerId}", with: "c1")
                .replacingOccurrences(of: "{messageId}", with: "m1").replacingOccurrences(of: "{provider}", with: "p1")
            let requirement = AccessPolicy.requirement(method: HTTPMethod(rawValue: e.method), path: path)
            switch e.access {
            case .anonymous: XCTAssertEqual(requirement, .anonymous, "\(e.method) \(e.path)")
            case .authenticated: XCTAssertEqual(requirement, .authenticated, "\(e.method) \(e.path)")
            case .right(let r): XCTAssertEqual(requirement, .right(r), "\(e.method) \(e.path)")
            }
            XCTAssertEqual(UpstreamTable.resources[AccessPolicy.resource(of: path)], "dispatcher", "\(e.method) \(e.path)")
        }
        XCTAssertEqual(AccessPolicy.requirement(method: .GET, path: "/t/abc"), .anonymous)
    }

    func testTheCheckCanFail() throws {
        let router = try Self.dispatcherRouter()
        router.get("/api/v1/templates/{id}/undocumented") { _, _ in .status(204) }
        XCTAssertEqual(Self.routes(router).subtracting(Set(Self.catalog.map { "\($0.method) \($0.path)" })),
                       ["GET /api/v1/templates/{id}/undocumented"])
    }
}
