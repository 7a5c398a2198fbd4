import Contracts
import Foundation

/// Drives a `Router` without sockets: the same route resolution, middleware and error mapping as the
/// server, in microseconds. For unit tests of services; end-to-end tests use real sockets.
public struct TestClient: Sendable {
    public let router: Router

    public init(router: Router) {
        router.freeze()
        self.router = router
    }

    /// Runs one request. `target` may carry a query (`/segments?limit=10`).
    public func execute(_ method: HTTPMethod, _ target: String, headers: HTTPHeaders = HTTPHeaders(),
                        body: [UInt8] = []) -> TestResponse {
        let (path, query) = Self.split(target)
        let route = router.resolve(method: method, path: path)
        let request = Request(method: method, path: path, query: query, headers: headers, body: body,
                              remoteAddress: "127.0.0.1")
        let context = RequestContext(parameters: route.parameters, routePattern: route.pattern)
        let produced: Response
        do {
            produced = try route.handler(request, context)
        } catch {
            produced = .error(ErrorMapping.apiError(for: error))
        }
        var response = produced
        if case .pending(let pending) = response.body {
            response = pending.wait(timeout: 60)
                ?? .error(APIError(status: 504, code: "pending_timeout", message: "a pending response never completed"))
        }
        var bytes: [UInt8] = []
        var streamError: (any Error)?
        switch response.body {
        case .bytes(let b): bytes = b
        case .stream(let produce):
            let collector = CollectingWriter()
            do { try produce(collector) } catch { streamError = error }
            bytes = collector.bytes
        case .pending:
            streamError = APIError(status: 500, code: "nested_pending", message: "a pending response completed with another pending response")
        }
        if method == .HEAD { bytes = [] }
        return TestResponse(status: response.status, headers: response.headers, body: bytes, streamError: streamError)
    }

    /// Sends a JSON body.
    public func execute<T: Encodable>(_ method: HTTPMethod, _ target: String, json: T, headers: HTTPHeaders = HTTPHeaders()) throws -> TestResponse {
        var h = headers
        h.set("content-type", "application/json")
        return execute(method, target, headers: h, body: Array(try JSONCoding.encoder().encode(json)))
    }

    static func split(_ target: String) -> (String, String?) {
        guard let q = target.firstIndex(of: "?") else { return (target, nil) }
        return (String(target[..<q]), String(target[target.index(after: q)...]))
    }

    final class CollectingWriter: ResponseBodyWriter, @unchecked Sendable {
        // Thread-safety: used by one producer on the calling thread.
        var bytes: [UInt8] = []
        func write(_ b: [UInt8]) throws { bytes.append(contentsOf: b) }
    }
}

/// A response as the test client saw it.
public struct TestResponse: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let body: [UInt8]
    /// Set when a streamed body's producer threw.
    public let streamError: (any Error)?

    public var text: String { String(decoding: body, as: UTF8.self) }

    public func json<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONCoding.decoder().decode(T.self, from: Data(body))
    }

    /// The `error.code` of a JSON error body, if any.
    public var errorCode: String? {
        (try? json(JSONValue.self))?["error"]?["code"]?.stringValue
    }
}
