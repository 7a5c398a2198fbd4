import Contracts
import Foundation
@testable import Gateway
import HTTP
@testable import Segment
import ServiceKit
import TestSupport
import XCTest

/// The public API catalog against what the segment service really serves and what the gateway lets
/// through: every public route is documented, every documented route is served, each one's documented
/// access is the gateway's, and the gateway forwards it to the segment service.
final class SegmentContractTests: XCTestCase {
    static func segmentRouter() throws -> Router {
        let settings = try SegmentSettings(config: ConfigReader(environment: [
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LATTICE_INTERNAL_SECRET": "contract-test-secret-0123456789",
        ]))
        return try SegmentApp(settings: settings, logSink: InMemoryLogSink()).service.router
    }

    static var catalog: [PublicEndpoint] { PublicAPI.endpoints.filter { $0.service == "segment" } }

    static func routes(_ router: Router) -> Set<String> {
        Set(router.registeredRoutes.filter { $0.pattern.hasPrefix("/api/v1/") }.map { "\($0.method.rawValue) \($0.pattern)" })
    }

    func testEveryPublicRouteIsCatalogedAndEveryEntryIsServed() throws {
        let routed = Self.routes(try Self.segmentRouter())
        let cataloged = Set(Self.catalog.map { "\($0.method) \($0.path)" })
        XCTAssertFalse(routed.isEmpty)
        XCTAssertEqual(routed.subtracting(cataloged).sorted(), [], "routes missing from PublicAPI+Segment.swift")
        XCTAssertEqual(cataloged.subtracting(routed).sorted(), [], "catalog entries the segment service does not serve")
        XCTAssertEqual(PublicAPI.problems(in: PublicAPI.endpoints), [])
    }

    func testDocumentedAccessIsTheGatewaysAndTheGatewayRoutesToSegment() throws {
        for e in Self.catalog {
            let path = e.path.replacingOccurrences(of: "{id}", with: "x")
            let requirement = AccessPolicy.requirement(method: HTTPMethod(rawValue: e.method), path: path)
            switch e.access {
            case .anonymous: XCTAssertEqual(requirement, .anonymous, "\(e.method) \(e.path)")
            case .authenticated: XCTAssertEqual(requirement, .authenticated, "\(e.method) \(e.path)")
            case .right(let r): XCTAssertEqual(requirement, .right(r), "\(e.method) \(e.path)")
            }
            XCTAssertEqual(UpstreamTable.resources[AccessPolicy.resource(of: path)], "segment", "\(e.method) \(e.path)")
        }
    }

    func testTheCheckCanFail() throws {
        let router = try Self.segmentRouter()
        router.get("/api/v1/segments/{id}/undocumented") { _, _ in .status(204) }
        XCTAssertEqual(Self.routes(router).subtracting(Set(Self.catalog.map { "\($0.method) \($0.path)" })),
                       ["GET /api/v1/segments/{id}/undocumented"])
    }
}
