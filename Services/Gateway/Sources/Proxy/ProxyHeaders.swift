import Contracts
import HTTP

/// Which headers cross the gateway. Hop-by-hop fields stay on their hop; the client's credentials and
/// any internal or identity header it sent are dropped, so nobody can speak for another caller.
enum ProxyHeaders {
    static let hopByHop: [String] = [
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "expect",
    ]

    /// Never forwarded upstream besides the hop-by-hop fields: the client's credentials, and what the
    /// gateway sets itself.
    static let clientOnly: [String] = ["authorization", "cookie", InternalHeader.requestId, "x-forwarded-for"]

    /// Headers forwarded to the upstream.
    static func upstreamRequest(_ headers: HTTPHeaders, remoteAddress: String?) -> HTTPHeaders {
        var out = HTTPHeaders()
        for field in headers {
            if isHopByHop(field.name) || isInternal(field.name) || clientOnly.contains(where: { HTTPHeaders.equalNames($0, field.name) }) {
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
            if isHopByHop(field.name) || isInternal(field.name) || HTTPHeaders.equalNames(field.name, "date")
                || HTTPHeaders.equalNames(field.name, InternalHeader.requestId) { continue }
            out.add(field.name, field.value)
        }
        return out
    }

    // Allocation-free checks: these run for every header of every proxied request.
    static func isHopByHop(_ name: String) -> Bool { hopByHop.contains { HTTPHeaders.equalNames($0, name) } }

    static func isInternal(_ name: String) -> Bool { HTTPHeaders.name(name, hasPrefix: "x-lattice-") }
}
