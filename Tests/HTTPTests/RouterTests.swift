import Contracts
import XCTest
@testable import HTTP

final class RouterTests: XCTestCase {
    struct Order: Codable, Sendable {
        var id: String
        var amount: Int
        var lines: [Line]
        struct Line: Codable, Sendable { var sku: String; var quantity: Int }
    }

    func makeClient() -> TestClient {
        let router = Router()
        router.add(middleware: RequestIdMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.get("/segments/{id}") { _, ctx in .text("segment " + (try ctx.parameters.require("id"))) }
        router.post("/segments:estimate") { _, _ in .text("estimate") }
        router.post("/segments/{id}:refresh") { _, ctx in .text("refresh " + (try ctx.parameters.require("id"))) }
        router.get("/segments/{id}/members") { _, ctx in .text("members " + (try ctx.parameters.require("id"))) }
        router.get("/segments/overview") { _, _ in .text("literal wins") }
        router.delete("/segments/{id}") { _, _ in .status(204) }
        router.post("/orders") { req, _ in try .json(try req.decode(Order.self), status: 201) }
        router.get("/search") { req, _ in .text("\(req.queryParameters["q"] ?? "-")|\(req.queryParameters.values("tag"))") }
        router.get("/boom") { _, _ in throw NSError(domain: "x", code: 1) }
        router.get("/conflict") { _, _ in throw APIError.conflict("already there") }
        router.get("/") { _, _ in .text("root") }
        return TestClient(router: router)
    }

    func testPathParametersAndActions() {
        let c = makeClient()
        XCTAssertEqual(c.execute(.GET, "/segments/seg_1").text, "segment seg_1")
        XCTAssertEqual(c.execute(.GET, "/segments/a%20b").text, "segment a b", "parameters are percent-decoded")
        XCTAssertEqual(c.execute(.POST, "/segments:estimate").text, "estimate")
        XCTAssertEqual(c.execute(.POST, "/segments/seg_9:refresh").text, "refresh seg_9")
        XCTAssertEqual(c.execute(.GET, "/segments/seg_9/members").text, "members seg_9")
        XCTAssertEqual(c.execute(.GET, "/segments/overview").text, "literal wins")
        XCTAssertEqual(c.execute(.GET, "/").text, "root")
    }

    func testNotFoundVersusMethodNotAllowed() {
        let c = makeClient()
        let missing = c.execute(.GET, "/nothing/here")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.errorCode, "route_not_found")
        XCTAssertNotNil(missing.headers["x-request-id"], "404s pass through middleware too")
        let wrong = c.execute(.PUT, "/segments/seg_1")
        XCTAssertEqual(wrong.status, 405)
        XCTAssertEqual(wrong.headers["allow"], "DELETE, GET, HEAD")
        XCTAssertEqual(c.execute(.GET, "/segments/seg_1:refresh").status, 405, "the action route exists for POST only")
        XCTAssertEqual(c.execute(.GET, "/segments/").status, 404)
    }

    func testHeadUsesGetWithoutBody() {
        let r = makeClient().execute(.HEAD, "/segments/x")
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.body.isEmpty)
    }

    func testQueryParameters() {
        XCTAssertEqual(makeClient().execute(.GET, "/search?q=%E5%BC%A0+san&tag=a&tag=b&empty").text, "张 san|[\"a\", \"b\"]")
    }

    func testJSONErrorsNameTheField() throws {
        let c = makeClient()
        let ok = try c.execute(.POST, "/orders", json: Order(id: "o1", amount: 5, lines: [.init(sku: "a", quantity: 1)]))
        XCTAssertEqual(ok.status, 201)

        func fieldOf(_ body: String) -> (Int, String?, String?) {
            let r = c.execute(.POST, "/orders", body: Array(body.utf8))
            let json = try? r.json(JSONValue.self)
            return (r.status, json?["error"]?["details"]?["field"]?.stringValue, r.errorCode)
        }
        XCTAssertEqual(fieldOf(#"{"id":"o1","lines":[]}"#).1, "amount")
        XCTAssertEqual(fieldOf(#"{"id":"o1","amount":"five","lines":[]}"#).1, "amount")
        XCTAssertEqual(fieldOf(#"{"id":"o1","amount":1,"lines":[{"sku":"a","quantity":"x"}]}"#).1, "lines[0].quantity")
        XCTAssertEqual(fieldOf(#"{"id":"o1","amount":1,"lines":[{"sku":"a"}]}"#).1, "lines[0].quantity")
        let broken = fieldOf(#"{"id":"#)
        XCTAssertEqual(broken.0, 400)
        XCTAssertEqual(broken.2, "invalid_json")
        XCTAssertEqual(fieldOf("").2, "body_required")
    }

    func testErrorMapping() {
        let c = makeClient()
        let boom = c.execute(.GET, "/boom")
        XCTAssertEqual(boom.status, 500)
        XCTAssertEqual(boom.errorCode, "internal")
        XCTAssertFalse(boom.text.contains("NSError"), "internal details never leak")
        XCTAssertEqual(c.execute(.GET, "/conflict").status, 409)
    }

    func testRequestIdKeptOrGenerated() {
        let c = makeClient()
        XCTAssertEqual(c.execute(.GET, "/", headers: ["X-Request-Id": "abc-123"]).headers["x-request-id"], "abc-123")
        let generated = c.execute(.GET, "/", headers: ["X-Request-Id": "bad id\u{7f}"]).headers["x-request-id"]
        XCTAssertNotNil(generated)
        XCTAssertNotEqual(generated, "bad id\u{7f}")
        XCTAssertNotEqual(c.execute(.GET, "/").headers["x-request-id"], c.execute(.GET, "/").headers["x-request-id"])
    }

    func testMiddlewareOrderAndShortCircuit() {
        struct Tag: Middleware {
            let name: String
            func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response {
                if request.headers["x-stop"] == name { return .text("stopped by \(name)", status: 401) }
                let name = self.name
                return try next(request, context).map { r in
                    var r = r
                    r.headers.add("x-trail", name)
                    return r
                }
            }
        }
        let router = Router()
        router.add(middleware: Tag(name: "outer"))
        router.add(middleware: Tag(name: "inner"))
        router.get("/x") { _, _ in .text("x") }
        let c = TestClient(router: router)
        XCTAssertEqual(c.execute(.GET, "/x").headers.values("x-trail"), ["inner", "outer"])
        let stopped = c.execute(.GET, "/x", headers: ["x-stop": "inner"])
        XCTAssertEqual(stopped.status, 401)
        XCTAssertEqual(stopped.headers.values("x-trail"), ["outer"])
    }

    func testPrefixParametersAndCatchAll() {
        let router = Router()
        router.post("/api/v1/segments:{action}") { _, ctx in .text("action " + (try ctx.parameters.require("action"))) }
        router.post("/api/v1/segments:estimate") { _, _ in .text("literal estimate") }
        router.get("/api/v1/customers/{id}/rewards") { _, ctx in .text("rewards of " + (try ctx.parameters.require("id"))) }
        router.get("/api/v1/customers/{rest...}") { _, ctx in .text("rest " + (try ctx.parameters.require("rest"))) }
        router.get("/files/{path...}") { _, ctx in .text("[" + (try ctx.parameters.require("path")) + "]") }
        let c = TestClient(router: router)
        XCTAssertEqual(c.execute(.POST, "/api/v1/segments:overlap").text, "action overlap")
        XCTAssertEqual(c.execute(.POST, "/api/v1/segments:estimate").text, "literal estimate")
        XCTAssertEqual(c.execute(.POST, "/api/v1/segments:").status, 404, "an empty parameter does not match")
        XCTAssertEqual(c.execute(.GET, "/api/v1/customers/c1/rewards").text, "rewards of c1")
        XCTAssertEqual(c.execute(.GET, "/api/v1/customers/c1/events/e%202").text, "rest c1/events/e%202", "catch-all keeps the raw rest")
        XCTAssertEqual(c.execute(.GET, "/files/").text, "[]")
        XCTAssertEqual(c.execute(.GET, "/files").text, "[]")
        XCTAssertEqual(c.execute(.GET, "/files/a/b").text, "[a/b]")
        XCTAssertEqual(c.execute(.GET, "/api/v1/customers/c1/other").text, "rest c1/other",
                       "a parameter branch that leads nowhere falls back to the catch-all")
    }

    func testStreamedResponseThroughTestClient() {
        let router = Router()
        router.get("/export") { _, _ in
            Response(body: .stream { writer in
                for i in 0..<3 { try writer.write("line \(i)\n") }
            })
        }
        XCTAssertEqual(TestClient(router: router).execute(.GET, "/export").text, "line 0\nline 1\nline 2\n")
    }
}
