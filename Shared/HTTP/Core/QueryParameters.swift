/// Decoded `application/x-www-form-urlencoded` query parameters.
public struct QueryParameters: Sendable, Sequence {
    public private(set) var pairs: [(name: String, value: String)] = []

    public init(_ query: String) {
        guard !query.isEmpty else { return }
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = part.firstIndex(of: "=") {
                pairs.append((Self.decode(part[..<eq]), Self.decode(part[part.index(after: eq)...])))
            } else {
                pairs.append((Self.decode(part), ""))
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { pairs.makeIterator() }
    public subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }
    public func values(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }

    /// Percent-decoding with `+` as space; invalid escapes are kept literally rather than failing.
    static func decode(_ s: Substring) -> String {
        PercentDecoding.decode(s, plusAsSpace: true)
    }
}

enum PercentDecoding {
    /// Decodes `%XX` escapes; invalid sequences are kept as they are; invalid UTF-8 is repaired.
    static func decode(_ s: Substring, plusAsSpace: Bool) -> String {
        let utf8 = Array(s.utf8)
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(s)
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let c = utf8[i]
            if c == UInt8(ascii: "%"), i + 2 < utf8.count + 0, i + 2 <= utf8.count - 1,
               let h = hex(utf8[i + 1]), let l = hex(utf8[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else if plusAsSpace && c == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
                i += 1
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
