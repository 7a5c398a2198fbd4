/// Where a plain-HTTP request goes: the host as written, its port, and the request target (path and
/// query) for the request line.
struct UpstreamTarget: Equatable {
    var host: String
    var port: Int
    var target: String
    /// The `Host` field: the port is left out when it is the default.
    var authority: String

    /// Parses `http://host[:port][/path][?query]`; nil for https, user info, fragments or anything
    /// unusual (those take the libcurl path, which knows every corner of URL syntax).
    init?(url: String) {
        let bytes = Array(url.utf8)
        let scheme = Array("http".utf8)
        guard bytes.count > 7, bytes.count <= 8_192,
              (0..<4).allSatisfy({ bytes[$0] | 0x20 == scheme[$0] }),
              bytes[4] == 0x3A, bytes[5] == 0x2F, bytes[6] == 0x2F else { return nil }
        var i = 7
        let authorityStart = i
        while i < bytes.count, bytes[i] != 0x2F, bytes[i] != 0x3F, bytes[i] != 0x23 { i += 1 }
        let authorityEnd = i
        guard authorityEnd > authorityStart, !bytes[authorityStart..<authorityEnd].contains(0x40) else { return nil }   // no user info
        guard !bytes[authorityEnd...].contains(0x23) else { return nil }   // fragments never travel
        let authority = String(decoding: bytes[authorityStart..<authorityEnd], as: UTF8.self)

        var hostPart = authority[...]
        var portText: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return nil }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            portText = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { return nil }
        var port = 80
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, let value = Int(portText), (1...65_535).contains(value) else { return nil }
            port = value
        }
        host = String(hostPart).asciiLowercased
        self.port = port
        self.authority = authority
        let rest = String(decoding: bytes[authorityEnd...], as: UTF8.self)
        target = rest.isEmpty ? "/" : (rest.hasPrefix("?") ? "/" + rest : rest)
    }
}
