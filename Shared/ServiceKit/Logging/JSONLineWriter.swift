import Contracts
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

    /// Appends `text` as a JSON string (the shared escaper, `JSONString`).
    private mutating func appendString(_ text: String, limit: Int) {
        JSONString.append(text, to: &bytes, limit: limit)
    }

    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, limit: Int) {
        JSONString.appendEscaped(utf8, to: &bytes, limit: limit)
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
