import Contracts
import Foundation
@testable import Canvas
@testable import Gateway
import HTTP
import ServiceKit
import TestSupport
import XCTest

/// The public API catalog against what the canvas service really serves and what the gateway lets
/// through: every public route documented, every documented route served, the documented access the
/// gateway's, and the gateway forwarding it to the canvas service.
final class CanvasContractTests: XCTestCase {
    static func canvasRouter() throws -> Router {
        let settings = try CanvasSettings(config: ConfigReader(environment: [
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LATTICE_INTERNAL_SECRET": "contract-test-secret-0123456789",
        ]))
        return try CanvasApp(settings: settings, logSink: InMemoryLogSink()).service.router
    }

    static var catalog: [PublicEndpoint] { PublicAPI.endpoints.filter { $0.service == "canvas" } }

    static func routes(_ router: Router) -> Set<String> {
        Set(router.registeredRoutes.filter { $0.pattern.hasPrefix("/api/v1/") }.map { "\($0.method.rawValue) \($0.pattern)" })
    }

    func testEveryPublicRouteIsCatalogedAndEveryEntryIsServed() throws {
        let router = try Self.canvasRouter()
        let routed = Self.routes(router)
        let cataloged = Set(Self.catalog.map { "\($0.method) \($0.path)" })
        XCTAssertFalse(routed.isEmpty)
        XCTAssertEqual(routed.subtracting(cataloged).sorted(), [], "routes missing from PublicAPI+Canvas.swift")
        XCTAssertEqual(cataloged.subtracting(routed).sorted(), [], "catalog entries the canvas service does not serve")
        XCTAssertEqual(PublicAPI.problems(in: PublicAPI.endpoints), [])
        XCTAssertTrue(router.registeredRoutes.contains { $0.pattern == "/internal/v1/events" })
        XCTAssertTrue(router.registeredRoutes.contains { $0.pattern == "/internal/v1/customers/{id}/journeys" })
    }

    func testDocumentedAccessIsTheGatewaysAndTheGatewayRoutesToTheCanvasService() throws {
        for e in Self.catalog {
            let path = e.path.replacingOccurrences(of: "{id}", with: "x")
            let requirement = AccessPolicy.requirement(method: HTTPMethod(rawValue: e.method), path: path)
            switch e.access {
            case .anonymous: XCTAssertEqual(requirement, .anonymous, "\(e.method) \(e.path)")
            case .authenticated: XCTAssertEqual(requirement, .authenticated, "\(e.method) \(e.path)")
            case .right(let r): XCTAssertEqual(requirement, .right(r), "\(e.method) \(e.path)")
            }
            XCTAssertEqual(UpstreamTable.resources[AccessPolicy.resource(of: path)], "canvas", "\(e.method) \(e.path)")
        }
    }

    func testTheCheckCanFail() throws {
        let router = try Self.canvasRouter()
        router.get("/api/v1/canvases/{id}/undocumented") { _, _ in .status(204) }
        XCTAssertEqual(Self.routes(router).subtracting(Set(Self.catalog.map { "\($0.method) \($0.path)" })),
                       ["GET /api/v1/canvases/{id}/undocumented"])
    }
}
