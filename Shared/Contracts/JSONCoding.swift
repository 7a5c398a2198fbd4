import Foundation

/// The one JSON configuration shared by every service, client and server alike, so a date written by one
/// process is read back by another.
///
/// Dates travel as RFC 3339 strings in UTC with millisecond precision (`2024-05-01T08:30:00.123Z`).
/// Decoding accepts any RFC 3339 timestamp, with or without fractional seconds and with `Z` or a numeric
/// offset (`+08:00`). Keys keep their Swift names (no snake-case conversion): the wire names are the
/// types' `CodingKeys`.
public enum JSONCoding {
    /// `Date.ISO8601FormatStyle` is a Sendable value with no shared mutable state, unlike
    /// `ISO8601DateFormatter`, so one instance serves every thread.
    private static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// A new decoder; cheap enough to make per call, and a fresh one is never shared across threads.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "expected an RFC 3339 date, got \"\(text.prefix(64))\"")
            }
            return date
        }
        return decoder
    }

    /// A new encoder writing dates as RFC 3339 UTC strings with milliseconds.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatDate(date))
        }
        // `/` needs no escaping in JSON; leaving it plain keeps paths and URLs readable in logs.
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    /// `date` as an RFC 3339 UTC string with milliseconds, the form every service writes.
    public static func formatDate(_ date: Date) -> String { date.formatted(dateStyle) }

    /// Parses an RFC 3339 timestamp (fractional seconds optional, `Z` or numeric offset); nil otherwise.
    public static func parseDate(_ text: String) -> Date? {
        // Bound the work on hostile input: a valid timestamp is never longer than this.
        guard text.utf8.count <= 64 else { return nil }
        // Our own strict parser: several times faster than Foundation's (event batches carry thousands),
        // and it refuses what Foundation lets through (2026-02-30, hour 25, trailing text).
        return RFC3339.parse(text)
    }
}
