import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the webhook node from reaching inside the bank (server-side request forgery): a canvas author
/// writes the URL, so before each call its host is resolved and refused when any of its addresses is
/// loopback, link-local (cloud metadata at 169.254.169.254), private, unspecified or otherwise not on
/// the public internet — unless the host is in `LATTICE_CANVAS_WEBHOOK_ALLOW`, the operators' list of
/// the bank's own systems a canvas may call (a CRM at 10.2.3.4, the simulator in tests).
///
/// Every address counts, not just the first: a name answering a public and a private address would
/// otherwise let libcurl pick the private one. The HTTP client follows no redirects, so a public host
/// cannot bounce the call inward, and the call connects to the addresses checked
/// (`HTTPClientRequest.pinnedAddresses`), so a name answering differently a moment later (DNS
/// rebinding) cannot either.
struct WebhookGuard: Sendable {
    /// Lower-cased host names and literals, without a trailing dot.
    let allowedHosts: Set<String>
    /// The addresses of a host name; replaceable in tests.
    let resolve: @Sendable (String) -> Resolution

    enum Resolution: Sendable, Equatable {
        case addresses([IPAddress])
        /// The name does not exist: asking again will not help.
        case unknownHost
        /// DNS could not answer now (a timeout, a server failure): worth another try later.
        case temporaryFailure(String)
    }

    enum Verdict: Sendable, Equatable {
        /// Call it, connecting to `pinned` (the addresses checked; empty for an allowed host, which
        /// resolves as usual) so that the name cannot point elsewhere by the time libcurl connects.
        case allowed(pinned: [String])
        /// Never called: the reason is the node's outcome and the log line.
        case refused(String)
        /// DNS failed for now; the step is retried like a connect failure.
        case retryLater(String)
    }

    init(allowedHosts: [String], resolve: @escaping @Sendable (String) -> Resolution = WebhookGuard.systemResolve) {
        self.allowedHosts = Set(allowedHosts.map(Self.normalize))
        self.resolve = resolve
    }

    static func normalize(_ host: String) -> String {
        var h = host.lowercased()
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        while h.hasSuffix(".") { h.removeLast() }
        return h
    }

    func check(_ url: String) -> Verdict {
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let rawHost = u.host, !rawHost.isEmpty else {
            return .refused("the url is not an http(s) URL with a host")
        }
        let host = Self.normalize(rawHost.removingPercentEncoding ?? rawHost)
        if allowedHosts.contains(host) { return .allowed(pinned: []) }
        switch resolve(host) {
        case .unknownHost:
            return .refused("the host \(host.prefix(100)) does not resolve")
        case .temporaryFailure(let why):
            return .retryLater("resolving \(host.prefix(100)) failed for now: \(why)")
        case .addresses(let list):
            guard !list.isEmpty else { return .refused("the host \(host.prefix(100)) has no address") }
            if let inside = list.first(where: { $0.internalRange != nil }) {
                return .refused("the host \(host.prefix(100)) resolves to \(inside) (\(inside.internalRange!)), an address inside the bank; "
                                + "operators allow such hosts with LATTICE_CANVAS_WEBHOOK_ALLOW")
            }
            return .allowed(pinned: list.map(\.description))
        }
    }

    /// `getaddrinfo`, every address of both families.
    @Sendable static func systemResolve(_ host: String) -> Resolution {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        defer { if let result { freeaddrinfo(result) } }
        guard rc == 0 else {
            switch rc {
            case EAI_NONAME, EAI_FAIL: return .unknownHost
            default: return .temporaryFailure(String(cString: gai_strerror(rc)))
            }
        }
        var addresses: [IPAddress] = []
        var next = result
        while let info = next {
            if let sa = info.pointee.ai_addr {
                switch Int32(sa.pointee.sa_family) {
                case AF_INET:
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                        addresses.append(IPAddress(bytes: withUnsafeBytes(of: p.pointee.sin_addr) { Array($0) }))
                    }
                case AF_INET6:
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                        addresses.append(IPAddress(bytes: withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) }))
                    }
                default: break
                }
            }
            next = info.pointee.ai_next
        }
        return .addresses(addresses)
    }
}

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network order, and the range that makes it internal.
struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// A numeric address (`10.0.0.1`, `::1`); nil for anything else.
    init?(_ text: String) {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: v6) { Array($0) }
        } else {
            return nil
        }
    }

    var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
        return inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count)) != nil ? String(cString: buffer) : "?"
    }

    /// Why a webhook may not call it, or nil for a public address.
    var internalRange: String? {
        if bytes.count == 4 { return Self.v4Range(bytes) }
        guard bytes.count == 16 else { return "malformed" }
        // IPv4 written as IPv6 reaches the IPv4 address: ::ffff:a.b.c.d, and the deprecated ::a.b.c.d.
        if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff { return Self.v4Range(Array(bytes[12...])) }
        if bytes.allSatisfy({ $0 == 0 }) { return "unspecified" }
        if isV6Loopback { return "loopback" }
        if bytes.prefix(12).allSatisfy({ $0 == 0 }) { return Self.v4Range(Array(bytes[12...])) }
        if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 { return "link-local" }   // fe80::/10
        if bytes[0] & 0xfe == 0xfc { return "private" }                          // fc00::/7 (unique local)
        if bytes[0] == 0xff { return "multicast" }
        // 64:ff9b::/96 translates to IPv4 (NAT64): judge the IPv4 address it carries.
        if bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b && bytes[4..<12].allSatisfy({ $0 == 0 }) {
            return Self.v4Range(Array(bytes[12...]))
        }
        return nil
    }

    private var isV6Loopback: Bool { bytes.count == 16 && bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }

    private static func v4Range(_ b: [UInt8]) -> String? {
        switch (b[0], b[1]) {
        case (0, _): return "unspecified"                       // 0.0.0.0/8
        case (127, _): return "loopback"                        // 127/8
        case (169, 254): return "link-local"                    // 169.254/16
        case (10, _): return "private"                          // 10/8
        case (172, 16...31): return "private"                   // 172.16/12
        case (192, 168): return "private"                       // 192.168/16
        case (100, 64...127): return "shared address space"     // 100.64/10, carrier-grade NAT
        case (224...239, _): return "multicast"
        case (240...255, _): return "reserved"                  // 240/4 and the broadcast address
        default: return nil
        }
    }
}
