import Contracts
import HTTP

/// Which headers cross the gateway. Hop-by-hop fields stay on their hop; the client's credentials and
/// any internal or identity header it sent are dropped, so nobody can speak for another caller.
enum ProxyHeaders {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "expect",
    ]

    /// Headers forwarded to the upstream.
    static func upstreamRequest(_ headers: HTTPHeaders, remoteAddress: String?) -> HTTPHeaders {
        var out = HTTPHeaders()
        for field in headers {
            let name = field.name.lowercased()
            if hopByHop.contains(name) || name == "authorization" || name == "cookie" || name.hasPrefix("x-lattice-")
                || name == InternalHeader.requestId || name == "x-forwarded-for" {
                continue
            }
            out.add(field.name, field.value)
        }
        if let remoteAddress { out.add("x-forwarded-for", remoteAddress) }
        return out
    }

    /// Headers passed back to the client.
    static func clientResponse(_ headers: HTTPHeaders) -> HTTPHeaders {
        var out = HTTPHeaders()
        for field in headers {
            let name = field.name.lowercased()
            if hopByHop.contains(name) || name == "date" || name == InternalHeader.requestId || name.hasPrefix("x-lattice-") { continue }
            out.add(field.name, field.value)
        }
        return out
    }
}
