import Contracts

/// Maps method and path to a handler, with middleware around every request.
///
/// Patterns are literal segments, `{name}` parameters with an optional literal prefix and suffix as in
/// `/canvases/{id}:submit` or `/segments:{action}`, and a final catch-all `{name...}` that takes the
/// rest of the path (raw, not decoded). A whole literal segment may carry an action too
/// (`/segments:estimate`). Literal segments win over parameters, longer fixed parts over shorter, and
/// a catch-all comes last; matching backtracks when a more specific branch leads nowhere. A path that exists for other methods answers
/// 405 with `Allow`; otherwise 404. `HEAD` is served by the `GET` handler.
///
/// Thread-safety: routes and middleware are added before `freeze()` (called by the server on start);
/// after that the router is read-only and shared by every thread.
public final class Router: @unchecked Sendable {
    private var routes: [(method: HTTPMethod, pattern: String, options: RouteOptions, handler: Handler)] = []
    private var middleware: [any Middleware] = []
    private var root = Node()
    private var frozen = false
    private var notFound: Handler = { _, _ in throw APIError.notFound("no route for this path", code: "route_not_found") }
    private var composedNotFound: Handler?

    public init() {}

    /// Adds a middleware around every route; the first added is the outermost.
    public func add(middleware m: any Middleware) {
        precondition(!frozen, "Router: middleware added after the server started")
        middleware.append(m)
    }

    public func on(_ method: HTTPMethod, _ pattern: String, options: RouteOptions = .default, handler: @escaping Handler) {
        precondition(!frozen, "Router: route added after the server started")
        precondition(pattern.hasPrefix("/"), "Router: pattern must start with /: \(pattern)")
        routes.append((method, pattern, options, handler))
    }

    public func get(_ p: String, options: RouteOptions = .default, handler: @escaping Handler) { on(.GET, p, options: options, handler: handler) }
    public func post(_ p: String, options: RouteOptions = .default, handler: @escaping Handler) { on(.POST, p, options: options, handler: handler) }
    public func put(_ p: String, options: RouteOptions = .default, handler: @escaping Handler) { on(.PUT, p, options: options, handler: handler) }
    public func patch(_ p: String, options: RouteOptions = .default, handler: @escaping Handler) { on(.PATCH, p, options: options, handler: handler) }
    public func delete(_ p: String, options: RouteOptions = .default, handler: @escaping Handler) { on(.DELETE, p, options: options, handler: handler) }

    /// Every registered (method, pattern), for the OpenAPI contract test.
    public var registeredRoutes: [(method: HTTPMethod, pattern: String)] { routes.map { ($0.method, $0.pattern) } }

    /// Composes middleware and builds the lookup tree. Idempotent.
    public func freeze() {
        guard !frozen else { return }
        frozen = true
        for r in routes {
            var node = root
            let segments = Self.segments(r.pattern)
            for (i, segment) in segments.enumerated() {
                let pattern = Pattern(segment)
                if case .catchAll = pattern { precondition(i == segments.count - 1, "Router: {name...} must end the pattern: \(r.pattern)") }
                node = node.child(for: pattern)
            }
            precondition(node.handlers[r.method] == nil, "Router: duplicate route \(r.method) \(r.pattern)")
            node.handlers[r.method] = Endpoint(pattern: r.pattern, options: r.options,
                                               handler: compose(middleware, r.handler))
        }
        composedNotFound = compose(middleware, notFound)
    }

    /// Finds the endpoint for a request. Always returns something runnable: a 404/405 answer goes
    /// through the middleware chain like any other response.
    public func resolve(method: HTTPMethod, path: String) -> ResolvedRoute {
        if !frozen { freeze() }
        var parameters = PathParameters()
        if let node = match(path: path, parameters: &parameters) {
            if let e = node.handlers[method] ?? (method == .HEAD ? node.handlers[.GET] : nil) {
                return ResolvedRoute(handler: e.handler, options: e.options, parameters: parameters, pattern: e.pattern)
            }
            if !node.handlers.isEmpty {
                var allowed = node.handlers.keys.map(\.rawValue)
                if node.handlers[.GET] != nil { allowed.append("HEAD") }
                let allow = allowed.sorted().joined(separator: ", ")
                let m: Handler = { _, _ in
                    var response = Response.error(APIError(status: 405, code: "method_not_allowed",
                                                           message: "method not allowed; allowed: \(allow)"))
                    response.headers.set("allow", allow)
                    return response
                }
                return ResolvedRoute(handler: compose(middleware, m), options: .inline, parameters: parameters,
                                     pattern: nil, isMatch: false)
            }
        }
        return ResolvedRoute(handler: composedNotFound!, options: .inline, parameters: PathParameters(),
                             pattern: nil, isMatch: false)
    }

    private func match(path: String, parameters: inout PathParameters) -> Node? {
        var rest = Substring(path)
        if rest.first == "/" { rest = rest.dropFirst() }
        return Self.match(root, rest, &parameters)
    }

    /// Depth-first with backtracking: literal, then parameters (most specific first), then catch-all.
    /// Only nodes that carry handlers count as a match at the end of the path.
    private static func match(_ node: Node, _ rest: Substring, _ parameters: inout PathParameters) -> Node? {
        let slash = rest.firstIndex(of: "/")
        let segment = slash.map { rest[..<$0] } ?? rest
        let remainder: Substring? = slash.map { rest[rest.index(after: $0)...] }
        func descend(_ child: Node) -> Node? {
            guard let remainder else { return child.handlers.isEmpty && child.catchAll == nil ? nil : finish(child) }
            return match(child, remainder, &parameters)
        }
        func finish(_ child: Node) -> Node? {
            if !child.handlers.isEmpty { return child }
            if let c = child.catchAll, !c.node.handlers.isEmpty {
                parameters.append(c.name, "")
                return c.node
            }
            return nil
        }
        if let child = node.literal[String(segment)], let found = descend(child) { return found }
        for p in node.parameters {
            let fixed = p.prefix.utf8.count + p.suffix.utf8.count
            guard segment.utf8.count > fixed, segment.hasPrefix(p.prefix), segment.hasSuffix(p.suffix) else { continue }
            let saved = parameters
            let value = segment.dropFirst(p.prefix.count).dropLast(p.suffix.count)
            parameters.append(p.name, PercentDecoding.decode(value, plusAsSpace: false))
            if let found = descend(p.node) { return found }
            parameters = saved
        }
        if let c = node.catchAll, !c.node.handlers.isEmpty {
            parameters.append(c.name, String(rest))
            return c.node
        }
        return nil
    }

    static func segments(_ pattern: String) -> [Substring] {
        let trimmed = pattern.dropFirst()
        if trimmed.isEmpty { return [""] }
        return trimmed.split(separator: "/", omittingEmptySubsequences: false)
    }

    // MARK: Tree

    struct Endpoint {
        let pattern: String
        let options: RouteOptions
        let handler: Handler
    }

    enum Pattern: Hashable {
        case literal(String)
        /// `{name}`, `prefix{name}` or `{name}suffix` within one segment.
        case parameter(name: String, prefix: String, suffix: String)
        /// `{name...}`: the rest of the path.
        case catchAll(name: String)

        init(_ segment: Substring) {
            if let open = segment.firstIndex(of: "{"), let close = segment[open...].firstIndex(of: "}") {
                var name = segment[segment.index(after: open)..<close]
                if name.hasSuffix("...") {
                    name = name.dropLast(3)
                    self = .catchAll(name: String(name))
                    return
                }
                self = .parameter(name: String(name), prefix: String(segment[..<open]),
                                  suffix: String(segment[segment.index(after: close)...]))
            } else {
                self = .literal(String(segment))
            }
        }
    }

    final class Node: @unchecked Sendable {
        var literal: [String: Node] = [:]
        /// Parameter children, those with the longest fixed parts first.
        var parameters: [(name: String, prefix: String, suffix: String, node: Node)] = []
        var catchAll: (name: String, node: Node)?
        var handlers: [HTTPMethod: Endpoint] = [:]

        func child(for p: Pattern) -> Node {
            switch p {
            case .literal(let s):
                if let n = literal[s] { return n }
                let n = Node()
                literal[s] = n
                return n
            case .parameter(let name, let prefix, let suffix):
                if let existing = parameters.first(where: { $0.prefix == prefix && $0.suffix == suffix }) {
                    precondition(existing.name == name, "Router: conflicting parameter names {\(existing.name)} and {\(name)}")
                    return existing.node
                }
                let n = Node()
                parameters.append((name, prefix, suffix, n))
                parameters.sort { $0.prefix.count + $0.suffix.count > $1.prefix.count + $1.suffix.count }
                return n
            case .catchAll(let name):
                if let existing = catchAll {
                    precondition(existing.name == name, "Router: conflicting catch-all names")
                    return existing.node
                }
                let n = Node()
                catchAll = (name, n)
                return n
            }
        }
    }
}

/// The outcome of routing: the middleware-wrapped handler and how to run it.
public struct ResolvedRoute: Sendable {
    public let handler: Handler
    public let options: RouteOptions
    public let parameters: PathParameters
    /// The pattern that matched, or nil for a 404/405 answer.
    public let pattern: String?
    /// False when this is a 404/405 answer rather than a real route.
    public let isMatch: Bool

    init(handler: @escaping Handler, options: RouteOptions, parameters: PathParameters, pattern: String?, isMatch: Bool = true) {
        self.handler = handler
        self.options = options
        self.parameters = parameters
        self.pattern = pattern
        self.isMatch = isMatch
    }
}
