#if canImport(Glibc)
import Glibc
#endif

/// Builds one JSON-lines log record as UTF-8 bytes, without Foundation's encoders (which are slow and
/// allocate per value); the output is checked against `JSONSerialization` by the tests.
struct JSONLineWriter {
    /// The longest string value kept, in UTF-8 bytes; longer ones are cut at a character boundary and
    /// marked, so that one huge value cannot produce a megabyte line.
    static let maximumValueBytes = 8 * 1024

    private(set) var bytes: [UInt8] = []
    private var fieldCount = 0

    init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func field(_ key: String, _ value: LogValue) {
        startField(key)
        switch value {
        case .string(let text): appendString(text, limit: Self.maximumValueBytes)
        case .int(let number): bytes.append(contentsOf: String(number).utf8)
        case .bool(let flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        case .double(let number):
            if number.isFinite {
                bytes.append(contentsOf: number.description.utf8)
            } else {
                appendString(number.description, limit: Self.maximumValueBytes)
            }
        }
    }

    /// A field whose value is already valid JSON text (the timestamp).
    mutating func rawStringField(_ key: String, asciiValue: [UInt8]) {
        startField(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: asciiValue)
        bytes.append(UInt8(ascii: "\""))
    }

    /// The finished line: the object closed and a newline.
    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    private mutating func startField(_ key: String) {
        if fieldCount > 0 { bytes.append(UInt8(ascii: ",")) }
        fieldCount += 1
        appendString(key, limit: 256)
        bytes.append(UInt8(ascii: ":"))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text` as a JSON string. Swift strings are valid Unicode, so non-ASCII bytes pass through;
    /// quotes, backslashes and control characters are escaped (as are U+2028/U+2029, for readers that
    /// embed lines in JavaScript).
    private mutating func appendString(_ text: String, limit: Int) {
        var text = text
        text.withUTF8 { utf8 in appendEscaped(utf8, limit: limit) }
    }

    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, limit: Int) {
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
            case UInt8(ascii: "\""): appendEscape(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): appendEscape(UInt8(ascii: "\\"))
            case 0x0A: appendEscape(UInt8(ascii: "n"))
            case 0x0D: appendEscape(UInt8(ascii: "r"))
            case 0x09: appendEscape(UInt8(ascii: "t"))
            case 0x08: appendEscape(UInt8(ascii: "b"))
            case 0x0C: appendEscape(UInt8(ascii: "f"))
            case 0xE2 where index + 2 < end && utf8[index + 1] == 0x80 && (utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9):
                appendUnicodeEscape(utf8[index + 2] == 0xA8 ? 0x2028 : 0x2029)
                index += 2
            case 0xE2:
                bytes.append(byte)  // another character starting with E2: copied as is
            default:
                appendUnicodeEscape(UInt16(byte))  // the other control characters and DEL
            }
            index += 1
            runStart = index
        }
        if runStart < end { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<end])) }
        if end < utf8.count { bytes.append(contentsOf: "…[truncated \(utf8.count - end) bytes]".utf8) }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscape(_ letter: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(letter)
    }

    private mutating func appendUnicodeEscape(_ value: UInt16) {
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) {
            bytes.append(Self.hexDigits[Int((value >> UInt16(shift)) & 0xF)])
        }
    }
}

/// RFC 3339 UTC timestamps with milliseconds, `2025-03-01T08:15:30.123Z`, from the real-time clock.
enum LogTimestamp {
    /// Now, as ASCII bytes.
    static func now() -> [UInt8] {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return format(seconds: Int(spec.tv_sec), milliseconds: Int(spec.tv_nsec / 1_000_000))
    }

    /// Formats seconds since 1970 plus milliseconds. Civil date from days since the epoch by Howard
    /// Hinnant's algorithm: pure arithmetic, no locale, no time zone database, no lock.
    static func format(seconds: Int, milliseconds: Int) -> [UInt8] {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        var out: [UInt8] = []
        out.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); out.append(UInt8(ascii: "-"))
        digits(month, 2); out.append(UInt8(ascii: "-"))
        digits(day, 2); out.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3_600, 2); out.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2); out.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2); out.append(UInt8(ascii: "."))
        digits(milliseconds, 3); out.append(UInt8(ascii: "Z"))
        return out
    }
}
