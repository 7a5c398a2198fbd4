/// Base64url (RFC 4648 §5) without padding: the alphabet `A–Z a–z 0–9 - _`, as used in tokens and
/// page cursors, which travel in URLs and headers unescaped.
///
/// Decoding is strict, so that every byte string has exactly one accepted text: padding (`=`), the
/// standard alphabet's `+` and `/`, whitespace and any other character are refused, as are lengths no
/// encoding produces (4n + 1) and texts whose last character carries non-zero bits beyond the final
/// byte. A token or cursor can therefore be compared by its text.
///
/// Thread-safety: stateless; every function is pure.
public enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The unpadded base64url text of `bytes` (empty for no bytes).
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        switch bytes.count - i {
        case 1:
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
        case 2:
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil unless `text` is exactly what `encode` would produce for them
    /// (see the type's documentation). The empty text decodes to no bytes.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        // A final group of one character would carry 6 bits: less than a byte.
        guard chars.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var i = 0
        while i + 4 <= chars.count {
            guard let a = value(chars[i]), let b = value(chars[i + 1]),
                  let c = value(chars[i + 2]), let d = value(chars[i + 3]) else { return nil }
            let n = a << 18 | b << 12 | c << 6 | d
            out.append(UInt8(n >> 16 & 0xFF))
            out.append(UInt8(n >> 8 & 0xFF))
            out.append(UInt8(n & 0xFF))
            i += 4
        }
        switch chars.count - i {
        case 2:
            guard let a = value(chars[i]), let b = value(chars[i + 1]), b & 0x0F == 0 else { return nil }
            out.append(UInt8((a << 2 | b >> 4) & 0xFF))
        case 3:
            guard let a = value(chars[i]), let b = value(chars[i + 1]), let c = value(chars[i + 2]),
                  c & 0x03 == 0 else { return nil }
            let n = a << 18 | b << 12 | c << 6
            out.append(UInt8(n >> 16 & 0xFF))
            out.append(UInt8(n >> 8 & 0xFF))
        default:
            break
        }
        return out
    }

    /// The 6-bit value of one base64url character; nil for anything outside the alphabet.
    private static func value(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(c - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return nil
        }
    }
}
