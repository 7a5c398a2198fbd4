import Foundation
import XCTest
@testable import Contracts

/// The public API catalog and the OpenAPI 3.1 document built from it.
final class PublicAPITests: XCTestCase {
    private func document() throws -> (value: JSONValue, object: [String: Any]) {
        let value = OpenAPIDocument.build(endpoints: PublicAPI.endpoints)
        let bytes = try OpenAPIDocument.encode(value)
        // Parsed by a second, independent JSON reader: the bytes are valid JSON.
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        return (value, object)
    }

    private func operations(_ doc: [String: Any]) throws -> [(path: String, method: String, operation: [String: Any])] {
        let paths = try XCTUnwrap(doc["paths"] as? [String: Any])
        var all: [(String, String, [String: Any])] = []
        for (path, item) in paths {
            let methods = try XCTUnwrap(item as? [String: Any])
            for (method, op) in methods { all.append((path, method, try XCTUnwrap(op as? [String: Any]))) }
        }
        return all
    }

    func testTheCatalogHasNoProblems() {
        XCTAssertEqual(PublicAPI.problems(in: PublicAPI.endpoints), [])
    }

    func testTheChecksCatchBrokenCatalogs() throws {
        var endpoints = PublicAPI.endpoints
        let first = try XCTUnwrap(endpoints.first)
        var duplicate = first
        duplicate.operationId = "somethingElse"
        var sameId = try XCTUnwrap(endpoints.last)
        sameId.path = "/api/v1/other"
        sameId.operationId = first.operationId
        var badPath = first
        badPath.path = "/api/v1/things/{id"
        badPath.operationId = "badPath"
        var badRef = first
        badRef.path = "/api/v1/ref"
        badRef.operationId = "badRef"
        badRef.response = JSONSchema.ref("NoSuchSchema")
        var badSuffix = first
        badSuffix.path = "/api/v1/things/{id}x"
        badSuffix.operationId = "badSuffix"
        endpoints += [duplicate, sameId, badPath, badRef, badSuffix]
        let problems = PublicAPI.problems(in: endpoints)
        XCTAssertTrue(problems.contains { $0.contains("listed twice") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("operationId \(first.operationId) used twice") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("{id") && $0.contains("must be {name}") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("undefined schema NoSuchSchema") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("only an :action") }, "\(problems)")
    }

    func testDocumentIsOpenAPI31WithInfoServersAndBearerSecurity() throws {
        let (_, doc) = try document()
        XCTAssertEqual(doc["openapi"] as? String, "3.1.0")
        let info = try XCTUnwrap(doc["info"] as? [String: Any])
        XCTAssertEqual(info["title"] as? String, "Lattice API")
        XCTAssertEqual(info["version"] as? String, PublicAPI.version)
        let servers = try XCTUnwrap(doc["servers"] as? [[String: Any]])
        XCTAssertEqual(servers.first?["url"] as? String, "/")
        let components = try XCTUnwrap(doc["components"] as? [String: Any])
        let schemes = try XCTUnwrap(components["securitySchemes"] as? [String: Any])
        let bearer = try XCTUnwrap(schemes["bearerAuth"] as? [String: Any])
        XCTAssertEqual(bearer["type"] as? String, "http")
        XCTAssertEqual(bearer["scheme"] as? String, "bearer")
        let security = try XCTUnwrap(doc["security"] as? [[String: Any]])
        XCTAssertNotNil(security.first?["bearerAuth"])
    }

    func testEveryEndpointAppearsExactlyOnceWithItsService() throws {
        let (_, doc) = try document()
        let ops = try operations(doc)
        XCTAssertEqual(ops.count, PublicAPI.endpoints.count, "one operation per catalog entry, no more")
        for e in PublicAPI.endpoints {
            let matches = ops.filter { $0.path == e.path && $0.method == e.method.lowercased() }
            XCTAssertEqual(matches.count, 1, "\(e.method) \(e.path)")
            guard let op = matches.first?.operation else { continue }
            XCTAssertEqual(op["operationId"] as? String, e.operationId)
            XCTAssertEqual(op["x-lattice-service"] as? String, e.service)
            XCTAssertEqual(op["summary"] as? String, e.summary)
            XCTAssertEqual(op["x-lattice-summary-zh"] as? String, e.summaryZh)
            XCTAssertEqual(op["tags"] as? [String], [e.tag])
        }
    }

    func testOperationIdsAreUnique() throws {
        let (_, doc) = try document()
        let ids = try operations(doc).map { $0.operation["operationId"] as? String ?? "" }
        XCTAssertFalse(ids.contains(""))
        XCTAssertEqual(Set(ids).count, ids.count, "duplicate operationIds: \(ids.sorted())")
    }

    func testPathParametersAreDeclaredAndRequired() throws {
        let (_, doc) = try document()
        for (path, method, op) in try operations(doc) {
            // Parse the template independently of `PublicEndpoint.pathParameters`.
            let regex = try NSRegularExpression(pattern: "\\{([^}]*)\\}")
            let range = NSRange(path.startIndex..., in: path)
            let expected = regex.matches(in: path, range: range).map { String(path[Range($0.range(at: 1), in: path)!]) }
            let parameters = op["parameters"] as? [[String: Any]] ?? []
            let declared = parameters.filter { $0["in"] as? String == "path" }
            XCTAssertEqual(declared.compactMap { $0["name"] as? String }.sorted(), expected.sorted(), "\(method) \(path)")
            for p in declared { XCTAssertEqual(p["required"] as? Bool, true, "\(method) \(path) \(p)") }
        }
        let revoke = try XCTUnwrap(PublicAPI.endpoints.first { $0.operationId == "revokeApiKey" })
        XCTAssertEqual(revoke.pathParameters, ["id"])
        XCTAssertEqual(revoke.path, "/api/v1/api-keys/{id}:revoke")
    }

    func testResponsesCarryTheStandardErrorBody() throws {
        let (_, doc) = try document()
        let components = try XCTUnwrap(doc["components"] as? [String: Any])
        let responses = try XCTUnwrap(components["responses"] as? [String: Any])
        let schemas = try XCTUnwrap(components["schemas"] as? [String: Any])
        let error = try XCTUnwrap(schemas["Error"] as? [String: Any])
        XCTAssertEqual(error["required"] as? [String], ["error"])
        let inner = try XCTUnwrap((error["properties"] as? [String: Any])?["error"] as? [String: Any])
        XCTAssertEqual(Set((inner["properties"] as? [String: Any])?.keys.map { $0 } ?? []), ["code", "message", "details"])
        for status in [400, 401, 403, 404, 409, 422, 429, 503] {
            let response = try XCTUnwrap(responses["Error\(status)"] as? [String: Any], "Error\(status)")
            let content = try XCTUnwrap(response["content"] as? [String: Any])
            let json = try XCTUnwrap(content["application/json"] as? [String: Any])
            XCTAssertEqual((json["schema"] as? [String: Any])?["$ref"] as? String, "#/components/schemas/Error")
        }
        XCTAssertNotNil((responses["Error429"] as? [String: Any])?["headers"], "429 documents Retry-After")

        for (path, method, op) in try operations(doc) {
            let opResponses = try XCTUnwrap(op["responses"] as? [String: Any], "\(method) \(path)")
            XCTAssertTrue(opResponses.keys.contains { $0.hasPrefix("2") }, "\(method) \(path) has a success response")
            for status in ["400", "429", "503"] { XCTAssertNotNil(opResponses[status], "\(method) \(path) \(status)") }
            let anonymous = (op["security"] as? [Any])?.isEmpty == true
            if !anonymous {
                XCTAssertNotNil(opResponses["401"], "\(method) \(path)")
                XCTAssertNotNil(opResponses["403"], "\(method) \(path)")
            }
            if path.contains("{") { XCTAssertNotNil(opResponses["404"], "\(method) \(path)") }
            // Every $ref of a response resolves.
            for (status, value) in opResponses {
                if let ref = (value as? [String: Any])?["$ref"] as? String {
                    let name = String(ref.split(separator: "/").last ?? "")
                    XCTAssertNotNil(responses[name], "\(method) \(path) \(status) → \(ref)")
                }
            }
        }
    }

    func testAnonymousEndpointsOverrideSecurityAndOthersDoNot() throws {
        let (_, doc) = try document()
        let ops = try operations(doc)
        let login = try XCTUnwrap(ops.first { $0.path == "/api/v1/auth/login" && $0.method == "post" })
        XCTAssertEqual((login.operation["security"] as? [Any])?.count, 0)
        XCTAssertNotNil((login.operation["responses"] as? [String: Any])?["401"], "wrong credentials answer 401")
        let users = try XCTUnwrap(ops.first { $0.path == "/api/v1/users" && $0.method == "get" })
        XCTAssertNil(users.operation["security"], "inherits the document's bearer requirement")
        XCTAssertEqual(users.operation["x-lattice-access"] as? String, "right:manage")
    }

    func testRequestBodiesAndIdempotencyKeys() throws {
        let (_, doc) = try document()
        let ops = try operations(doc)
        let create = try XCTUnwrap(ops.first { $0.path == "/api/v1/users" && $0.method == "post" })
        let body = try XCTUnwrap(create.operation["requestBody"] as? [String: Any])
        XCTAssertEqual(body["required"] as? Bool, true)
        let schema = try XCTUnwrap(((body["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any])
        XCTAssertEqual(Set(schema["required"] as? [String] ?? []), ["username", "password", "orgId", "roles"])
        let parameters = create.operation["parameters"] as? [[String: Any]] ?? []
        XCTAssertTrue(parameters.contains { $0["$ref"] as? String == "#/components/parameters/IdempotencyKey" })
        XCTAssertNotNil((create.operation["responses"] as? [String: Any])?["201"])
    }

    func testEveryReferenceInTheDocumentResolves() throws {
        let (value, _) = try document()
        var refs: [String] = []
        func walk(_ v: JSONValue) {
            switch v {
            case .object(let o):
                for (k, x) in o { if k == "$ref", let s = x.stringValue { refs.append(s) } else { walk(x) } }
            case .array(let a): a.forEach(walk)
            default: break
            }
        }
        walk(value)
        XCTAssertFalse(refs.isEmpty)
        for ref in refs {
            XCTAssertTrue(ref.hasPrefix("#/"), ref)
            var node: JSONValue? = value
            for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
            XCTAssertNotNil(node, "unresolved \(ref)")
        }
    }

    func testEncodingIsDeterministic() throws {
        let a = try OpenAPIDocument.encode(OpenAPIDocument.build(endpoints: PublicAPI.endpoints))
        let b = try OpenAPIDocument.encode(OpenAPIDocument.build(endpoints: PublicAPI.endpoints))
        XCTAssertEqual(a, b)
        XCTAssertFalse(String(decoding: a, as: UTF8.self).contains("\\/"), "slashes are not escaped")
    }

    func testNullableSchemas() {
        XCTAssertEqual(JSONSchema.nullable(JSONSchema.string())["type"], .array([.string("string"), .string("null")]))
        let ref = JSONSchema.nullable(JSONSchema.ref("User"))
        XCTAssertEqual(ref["anyOf"], .array([JSONSchema.ref("User"), .object(["type": .string("null")])]))
        let enumeration = JSONSchema.nullable(JSONSchema.string(enumeration: ["a"]))
        XCTAssertEqual(enumeration["enum"], .array([.string("a"), .null]))
    }

    func testErrorStatusesFollowTheEndpointShape() {
        let read = PublicEndpoint(method: "GET", path: "/api/v1/things", service: "x", operationId: "a", summary: "s",
                                  summaryZh: "中", tag: "T", access: .right("view"))
        XCTAssertEqual(read.errorStatuses, [400, 401, 403, 429, 503])
        let write = PublicEndpoint(method: "POST", path: "/api/v1/things/{id}:go", service: "x", operationId: "b",
                                   summary: "s", summaryZh: "中", tag: "T", access: .anonymous, extraErrorStatuses: [423])
        XCTAssertEqual(write.errorStatuses, [400, 404, 409, 422, 423, 429, 503])
        // A status beyond the standard ones still gets a named response, so the $ref resolves.
        let doc = OpenAPIDocument.build(endpoints: [write])
        XCTAssertNotNil(doc["components"]?["responses"]?["Error423"])
    }
}
