/// JSON string literals written byte by byte: the one escaper of the platform (log lines, payloads
/// assembled by hand). Swift strings are valid Unicode, so non-ASCII bytes pass through; quotes,
/// backslashes and control characters are escaped (as are U+2028/U+2029, for readers that embed JSON
/// in JavaScript).
public enum JSONString {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `text` as a JSON string literal, quotes included.
    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 2)
        append(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` as a JSON string literal; past `limit` bytes it is cut on a character boundary
    /// and ends with a `…[truncated N bytes]` marker inside the quotes.
    public static func append(_ text: String, to bytes: inout [UInt8], limit: Int = Int.max) {
        var text = text
        text.withUTF8 { utf8 in appendEscaped(utf8, to: &bytes, limit: limit) }
    }

    public static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8], limit: Int = Int.max) {
        bytes.append(UInt8(ascii: "\""))
        var end = utf8.count
        if end > limit {
            end = limit
            // Back up to the first byte of a character: continuation bytes are 0b10xxxxxx.
            while end > 0 && (utf8[end] & 0xC0) == 0x80 { end -= 1 }
        }
        // Bytes that need no escaping are copied in runs: one append per run, not per byte.
        var index = 0
        var runStart = 0
        while index < end {
            let byte = utf8[index]
            let plain = byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != 0x7F && byte != 0xE2
            if plain {
                index += 1
                continue
            }
            if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
            switch byte {
            case UInt8(ascii: "\""): appendEscape(UInt8(ascii: "\""), to: &bytes)
            case UInt8(ascii: "\\"): appendEscape(UInt8(ascii: "\\"), to: &bytes)
            case 0x0A: appendEscape(UInt8(ascii: "n"), to: &bytes)
            case 0x0D: appendEscape(UInt8(ascii: "r"), to: &bytes)
            case 0x09: appendEscape(UInt8(ascii: "t"), to: &bytes)
            case 0x08: appendEscape(UInt8(ascii: "b"), to: &bytes)
            case 0x0C: appendEscape(UInt8(ascii: "f"), to: &bytes)
            case 0xE2 where index + 2 < end && utf8[index + 1] == 0x80 && (utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9):
                appendUnicodeEscape(utf8[index + 2] == 0xA8 ? 0x2028 : 0x2029, to: &bytes)
                index += 2
            case 0xE2:
                bytes.append(byte)  // another character starting with E2: copied as is
            default:
                appendUnicodeEscape(UInt16(byte), to: &bytes)  // the other control characters and DEL
            }
            index += 1
            runStart = index
        }
        if runStart < end { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<end])) }
        if end < utf8.count { bytes.append(contentsOf: "…[truncated \(utf8.count - end) bytes]".utf8) }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func appendEscape(_ letter: UInt8, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(letter)
    }

    private static func appendUnicodeEscape(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) {
            bytes.append(hexDigits[Int((value >> UInt16(shift)) & 0xF)])
        }
    }
}
