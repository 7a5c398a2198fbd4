import Contracts
import Foundation
@testable import Gateway
import HTTP
import Postgres
import ServiceKit
import TestSupport
import XCTest

/// The public API catalog (and so the OpenAPI document) against what the gateway really serves.
final class OpenAPIContractTests: XCTestCase {
    /// The gateway's local routes: identity, audit, the OpenAPI document. Needs no database (pools
    /// connect lazily).
    /// The gateway's real router, as `GatewayApp` assembles it (no database is touched to build it).
    static func gatewayRouter() throws -> Router {
        let settings = try GatewaySettings(config: ConfigReader(environment: [
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LATTICE_INTERNAL_SECRET": "contract-test-secret-0123456789",
        ]))
        return try GatewayApp(settings: settings, logSink: InMemoryLogSink()).service.router
    }

    /// Routes under `/api/v1` that the gateway answers itself: everything except what it forwards to
    /// a service (resources of `UpstreamTable` and its exceptions), so a full gateway router can be
    /// checked the same way.
    static func gatewayLocal(_ routes: [(method: HTTPMethod, pattern: String)]) -> Set<String> {
        let forwarded = Set(UpstreamTable.exceptions.map { "\($0.method) \($0.pattern)" })
        return Set(routes.filter { route in
            route.pattern.hasPrefix("/api/v1/")
                && UpstreamTable.resources[AccessPolicy.resource(of: route.pattern)] == nil
                && !forwarded.contains("\(route.method.rawValue) \(route.pattern)")
        }.map { "\($0.method.rawValue) \($0.pattern)" })
    }

    static var gatewayCatalog: [PublicEndpoint] { PublicAPI.endpoints.filter { $0.service == "gateway" } }

    func testEveryGatewayRouteIsInTheCatalogAndEveryCatalogEntryIsRouted() throws {
        let routed = Self.gatewayLocal(try Self.gatewayRouter().registeredRoutes)
        let cataloged = Set(Self.gatewayCatalog.map { "\($0.method) \($0.path)" })
        XCTAssertFalse(routed.isEmpty)
        XCTAssertEqual(routed.subtracting(cataloged).sorted(), [], "routes missing from PublicAPI (add them to PublicAPI+Gateway.swift)")
        XCTAssertEqual(cataloged.subtracting(routed).sorted(), [], "catalog entries the gateway does not serve")
    }

    func testTheContractCheckNoticesADifference() throws {
        // The comparison above must be able to fail: an extra local route shows up, a proxied one does not.
        let router = try Self.gatewayRouter()
        router.get("/api/v1/undocumented") { _, _ in .status(204) }
        router.get("/api/v1/customers/{id}") { _, _ in .status(204) }
        router.get("/api/v1/customers/{customerId}/rewards") { _, _ in .status(204) }
        let routed = Self.gatewayLocal(router.registeredRoutes)
        let cataloged = Set(Self.gatewayCatalog.map { "\($0.method) \($0.path)" })
        XCTAssertEqual(routed.subtracting(cataloged), ["GET /api/v1/undocumented"])
    }

    func testEveryCatalogEntryResolvesToItsOwnPattern() throws {
        let router = try Self.gatewayRouter()
        router.freeze()
        for e in Self.gatewayCatalog {
            let concrete = Self.concretePath(e.path)
            let route = router.resolve(method: HTTPMethod(rawValue: e.method), path: concrete)
            XCTAssertTrue(route.isMatch, "\(e.method) \(concrete)")
            XCTAssertEqual(route.pattern, e.path, "\(e.method) \(concrete)")
            for name in e.pathParameters { XCTAssertEqual(route.parameters[name], "x1", "\(e.path) {\(name)}") }
        }
    }

    func testCatalogAccessMatchesTheGatewaysPolicy() {
        for e in Self.gatewayCatalog {
            let requirement = AccessPolicy.requirement(method: HTTPMethod(rawValue: e.method), path: Self.concretePath(e.path))
            switch (e.access, requirement) {
            case (.anonymous, .anonymous), (.authenticated, .authenticated): continue
            case (.right(let a), .right(let b)) where a == b: continue
            default: XCTFail("\(e.method) \(e.path): catalog says \(e.access), AccessPolicy says \(requirement)")
            }
        }
    }

    func testEndpointsOfOtherServicesAreRoutedToThem() {
        // Forward-looking: every endpoint another service owns must be forwarded to that service.
        for e in PublicAPI.endpoints where e.service != "gateway" {
            let resource = AccessPolicy.resource(of: e.path)
            let exception = UpstreamTable.exceptions.first { $0.method == e.method && $0.pattern == e.path }
            XCTAssertEqual(exception?.service ?? UpstreamTable.resources[resource], e.service, "\(e.method) \(e.path)")
        }
        for e in Self.gatewayCatalog {
            XCTAssertNil(UpstreamTable.resources[AccessPolicy.resource(of: e.path)], "\(e.path) would be proxied")
        }
    }

    func testTheDocumentIsServedAnonymouslyFromCachedBytes() throws {
        let router = Router()
        router.add(middleware: ErrorMiddleware())
        OpenAPIRoute.register(on: router)
        let client = TestClient(router: router)
        let response = client.execute(.GET, "/api/v1/openapi.json")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers.first("content-type"), "application/json")
        XCTAssertEqual(response.body, try OpenAPIDocument.encode(OpenAPIDocument.build(endpoints: PublicAPI.endpoints)))
        let document = try response.json(JSONValue.self)
        XCTAssertEqual(document["openapi"]?.stringValue, "3.1.0")
        XCTAssertEqual(document["info"]?["title"]?.stringValue, "Lattice API")
        XCTAssertNotNil(document["paths"]?["/api/v1/audit"]?["get"])
        XCTAssertEqual(client.execute(.HEAD, "/api/v1/openapi.json").status, 200)
        XCTAssertEqual(AccessPolicy.requirement(method: .GET, path: OpenAPIRoute.path), .anonymous)
    }

    /// `/api/v1/users/{id}` → `/api/v1/users/x1`, keeping action suffixes.
    static func concretePath(_ pattern: String) -> String {
        var out = ""
        var inParameter = false
        for c in pattern {
            if c == "{" { inParameter = true; out += "x1"; continue }
            if c == "}" { inParameter = false; continue }
            if !inParameter { out.append(c) }
        }
        return out
    }
}
