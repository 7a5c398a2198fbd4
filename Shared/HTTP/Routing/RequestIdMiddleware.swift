import Contracts

/// Keeps the caller's `x-request-id` when it is sane (1–128 of `[A-Za-z0-9._-]`), otherwise makes a
/// new one; puts it in the context and echoes it on the response.
public struct RequestIdMiddleware: Middleware {
    public init() {}

    public func handle(_ request: Request, context: RequestContext, next: Handler) throws -> Response {
        var ctx = context
        if let given = request.headers.first(InternalHeader.requestId), Self.isValid(given) {
            ctx.requestId = given
        } else {
            ctx.requestId = RequestId.make()
        }
        let requestId = ctx.requestId
        return try next(request, ctx).map { response in
            var response = response
            response.headers.set(InternalHeader.requestId, requestId)
            return response
        }
    }

    static func isValid(_ s: String) -> Bool {
        let u = s.utf8
        guard !u.isEmpty, u.count <= 128 else { return false }
        for c in u {
            switch c {
            case 48...57, 65...90, 97...122, UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): continue
            default: return false
            }
        }
        return true
    }
}

/// Request ids: 12 random hex digits per process plus a counter; unique, cheap, not guessable across restarts.
public enum RequestId {
    private static let prefix: String = {
        String(UInt64.random(in: 0..<(1 << 48)), radix: 16).leftPad(12)
    }()
    private static let counter = AtomicCounter()

    public static func make() -> String {
        prefix + "-" + String(counter.next(), radix: 36)
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
