/// A request handler: runs on an event-loop thread for `.inline` routes, on a worker thread otherwise.
public typealias Handler = @Sendable (Request, RequestContext) throws -> Response

/// Something that wraps every request: request ids, logging, metrics, error mapping, authentication.
///
/// Middleware is composed once when the router is frozen, so calling the chain allocates nothing.
/// A middleware may answer without calling `next` (e.g. 401), change the request or context it passes
/// on, or change the response it returns.
public protocol Middleware: Sendable {
    func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response
}

/// Builds a chain where the first middleware is the outermost.
func compose(_ middleware: [any Middleware], _ handler: @escaping Handler) -> Handler {
    var next = handler
    for m in middleware.reversed() {
        let inner = next
        next = { request, context in try m.handle(request, context: context, next: inner) }
    }
    return next
}
