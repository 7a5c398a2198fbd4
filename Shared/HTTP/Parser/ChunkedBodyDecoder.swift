/// Incremental decoder for `Transfer-Encoding: chunked` (RFC 9112 §7.1).
///
/// Feed it bytes as they arrive; it appends the decoded data to `output` and reports how many input
/// bytes it consumed and whether the body ended. Chunk sizes are bounded (no overflow), and so are
/// extensions and trailers; the total is checked against `maxBodyBytes` before any data is copied.
public struct ChunkedBodyDecoder: Sendable {
    enum State: Sendable, Equatable {
        case size(value: Int, digits: Int)
        case sizeWhitespace(value: Int)
        case extensionText(value: Int)
        case sizeLF(value: Int)
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerLine
        case trailerLF
        case finalLF
        case done
    }

    var state: State = .size(value: 0, digits: 0)
    var metadataBytes = 0
    public private(set) var totalBytes = 0
    public let maxBodyBytes: Int
    public let maxMetadataBytes: Int

    public init(maxBodyBytes: Int, maxMetadataBytes: Int = 4096) {
        self.maxBodyBytes = maxBodyBytes
        self.maxMetadataBytes = maxMetadataBytes
    }

    public var isDone: Bool { state == .done }

    /// Decodes as much of `input` as possible. Returns the number of bytes consumed; stops right after
    /// the end of the body, so bytes of a pipelined next request are left unconsumed.
    public mutating func decode(_ input: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) throws(HTTPParseError) -> Int {
        var i = 0
        let n = input.count
        while i < n {
            let c = input[i]
            switch state {
            case .size(let value, let digits):
                if let h = Self.hexValue(c) {
                    guard digits < 15 else { throw HTTPParseError(400, "chunk size too long") }
                    state = .size(value: value << 4 | Int(h), digits: digits + 1)
                } else {
                    guard digits > 0 else { throw HTTPParseError(400, "invalid chunk size") }
                    if c == 13 { state = .sizeLF(value: value) }
                    else if c == UInt8(ascii: ";") { state = .extensionText(value: value) }
                    else if c == 32 || c == 9 { state = .sizeWhitespace(value: value) }
                    else { throw HTTPParseError(400, "invalid chunk size") }
                    if value > maxBodyBytes - totalBytes { throw HTTPParseError(413, "body too large") }
                }
                i += 1
            case .sizeWhitespace(let value):
                if c == 32 || c == 9 { try countMetadata() }
                else if c == UInt8(ascii: ";") { state = .extensionText(value: value) }
                else if c == 13 { state = .sizeLF(value: value) }
                else { throw HTTPParseError(400, "invalid chunk size") }
                i += 1
            case .extensionText(let value):
                if c == 13 { state = .sizeLF(value: value) }
                else if c == 10 || c == 0 { throw HTTPParseError(400, "invalid chunk extension") }
                else { try countMetadata() }
                i += 1
            case .sizeLF(let value):
                guard c == 10 else { throw HTTPParseError(400, "expected LF after chunk size") }
                state = value == 0 ? .trailerLineStart : .data(remaining: value)
                i += 1
            case .data(let remaining):
                let take = min(remaining, n - i)
                output.append(contentsOf: UnsafeBufferPointer(rebasing: input[i..<(i + take)]))
                totalBytes += take
                i += take
                state = remaining - take == 0 ? .dataCR : .data(remaining: remaining - take)
            case .dataCR:
                guard c == 13 else { throw HTTPParseError(400, "expected CRLF after chunk data") }
                state = .dataLF
                i += 1
            case .dataLF:
                guard c == 10 else { throw HTTPParseError(400, "expected CRLF after chunk data") }
                state = .size(value: 0, digits: 0)
                i += 1
            case .trailerLineStart:
                if c == 13 { state = .finalLF }
                else if c == 10 { throw HTTPParseError(400, "bare LF in trailer") }
                else { try countMetadata(); state = .trailerLine }
                i += 1
            case .trailerLine:
                if c == 13 { state = .trailerLF }
                else if c == 10 || c == 0 { throw HTTPParseError(400, "invalid trailer") }
                else { try countMetadata() }
                i += 1
            case .trailerLF:
                guard c == 10 else { throw HTTPParseError(400, "invalid trailer") }
                state = .trailerLineStart
                i += 1
            case .finalLF:
                guard c == 10 else { throw HTTPParseError(400, "expected CRLF after last chunk") }
                state = .done
                return i + 1
            case .done:
                return i
            }
        }
        return i
    }

    mutating func countMetadata() throws(HTTPParseError) {
        metadataBytes += 1
        if metadataBytes > maxMetadataBytes { throw HTTPParseError(400, "chunk metadata too long") }
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
