/// An incremental CSV parser (RFC 4180): fed the body in chunks of any size, it hands out one record at
/// a time without ever holding more than the current record.
///
/// Accepts quoted fields with embedded commas, quotes (`""`) and line breaks; CRLF, LF or a lone CR as
/// the record end; a UTF-8 byte-order mark at the very start. Completely empty lines are skipped. A
/// malformed record (text after a closing quote, a quote that never closes, a record over
/// `maximumRecordBytes`, more than `maximumFields` fields) is reported as such with its line, and
/// parsing resumes with the next record.
///
/// Line numbers are physical lines of the file (1-based, the header is line 1): a record reports the
/// line it starts on, so a spreadsheet user finds it.
///
/// Thread-safety: a value used by one thread (the upload's).
struct CSVRecordReader {
    /// One parsed record: its fields are ranges of `bytes` (quotes removed, `""` unescaped).
    struct Record {
        var line: Int
        var bytes: [UInt8]
        var ends: [Int]

        var count: Int { ends.count }

        /// The bytes of field `index`.
        func field(_ index: Int) -> ArraySlice<UInt8> {
            let start = index == 0 ? 0 : ends[index - 1]
            return bytes[start..<ends[index]]
        }
    }

    /// What the reader hands out.
    enum Event {
        case record(Record)
        case malformed(line: Int, reason: String)
    }

    let maximumRecordBytes: Int
    let maximumFields: Int

    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted, afterQuoted }

    private var state = State.fieldStart
    private var record = Record(line: 1, bytes: [], ends: [])
    private var line = 1
    private var bomDecided = false
    private var bomBytes: [UInt8] = []
    /// The previous byte ended a record with CR: a following LF belongs to it.
    private var pendingLF = false
    /// Set when the current record is already known to be bad; its bytes are dropped until its end.
    private var failure: String?
    private var recordHasContent = false

    init(maximumRecordBytes: Int = 1 << 20, maximumFields: Int = 1_000) {
        self.maximumRecordBytes = maximumRecordBytes
        self.maximumFields = maximumFields
        record.bytes.reserveCapacity(1024)
        record.ends.reserveCapacity(32)
    }

    /// Parses `chunk`, calling `emit` for every record completed in it.
    mutating func feed(_ chunk: [UInt8], _ emit: (Event) throws -> Void) rethrows {
        var start = 0
        if !bomDecided {
            // The mark may arrive split across chunks: hold up to 3 bytes until it is decided.
            while start < chunk.count && !bomDecided {
                bomBytes.append(chunk[start])
                start += 1
                if !Self.byteOrderMark.starts(with: bomBytes) || bomBytes.count == 3 { bomDecided = true }
            }
            guard bomDecided else { return }
            if bomBytes != Self.byteOrderMark { try scan(bomBytes, from: 0, emit) }
            bomBytes = []
        }
        try scan(chunk, from: start, emit)
    }

    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// Ends the input: a last record without a line break is emitted; an open quote is malformed.
    mutating func finish(_ emit: (Event) throws -> Void) rethrows {
        if !bomDecided {
            bomDecided = true
            try scan(bomBytes, from: 0, emit)   // a lone prefix of the mark is data
        }
        switch state {
        case .quoted:
            failure = failure ?? "has a quoted field that is never closed"
            try endRecord(emit)
        case .fieldStart where !recordHasContent && record.ends.isEmpty:
            break
        default:
            try endRecord(emit)
        }
    }

    private mutating func scan(_ chunk: [UInt8], from start: Int, _ emit: (Event) throws -> Void) rethrows {
        var i = start
        let n = chunk.count
        while i < n {
            let c = chunk[i]
            i += 1
            if pendingLF {
                pendingLF = false
                if c == 10 { continue }
            }
            switch state {
            case .fieldStart, .unquoted:
                switch c {
                case 44:   // ,
                    endField()
                    state = .fieldStart
                    recordHasContent = true
                case 10, 13:
                    if c == 13 { pendingLF = true }
                    if state == .fieldStart && !recordHasContent && record.ends.isEmpty {
                        line += 1   // an empty line: no record
                        record.line = line
                        continue
                    }
                    try endRecord(emit)
                    line += 1
                    record.line = line
                case 34 where state == .fieldStart:   // "
                    state = .quoted
                    recordHasContent = true
                default:
                    // A fast path over a run of ordinary bytes.
                    var j = i
                    while j < n {
                        let d = chunk[j]
                        if d == 44 || d == 10 || d == 13 || d == 34 { break }
                        j += 1
                    }
                    append(chunk[(i - 1)..<j])
                    i = j
                    state = .unquoted
                    recordHasContent = true
                }
            case .quoted:
                if c == 34 {
                    state = .quoteInQuoted
                } else {
                    if c == 10 { line += 1 }
                    var j = i
                    while j < n {
                        let d = chunk[j]
                        if d == 34 { break }
                        if d == 10 { line += 1 }
                        j += 1
                    }
                    append(chunk[(i - 1)..<j])
                    i = j
                }
            case .quoteInQuoted:
                switch c {
                case 34:
                    append(CollectionOfOne(34))
                    state = .quoted
                case 44:
                    endField()
                    state = .fieldStart
                case 10, 13:
                    if c == 13 { pendingLF = true }
                    try endRecord(emit)
                    line += 1
                    record.line = line
                default:
                    failure = failure ?? "has text after a closing quote (a quote inside a field is written \"\")"
                    state = .afterQuoted
                }
            case .afterQuoted:
                // Skipping the rest of a bad field up to the next separator or record end.
                switch c {
                case 44:
                    endField()
                    state = .fieldStart
                case 10, 13:
                    if c == 13 { pendingLF = true }
                    try endRecord(emit)
                    line += 1
                    record.line = line
                default: break
                }
            }
        }
    }

    private mutating func append<S: Collection>(_ bytes: S) where S.Element == UInt8 {
        guard failure == nil else { return }
        if record.bytes.count + bytes.count > maximumRecordBytes {
            failure = "is longer than \(maximumRecordBytes) bytes"
            return
        }
        record.bytes.append(contentsOf: bytes)
    }

    private mutating func endField() {
        guard failure == nil else { return }
        if record.ends.count >= maximumFields {
            failure = "has more than \(maximumFields) fields"
            return
        }
        record.ends.append(record.bytes.count)
    }

    private mutating func endRecord(_ emit: (Event) throws -> Void) rethrows {
        endField()
        let startLine = record.line
        if let failure {
            try emit(.malformed(line: startLine, reason: failure))
        } else {
            try emit(.record(record))
        }
        failure = nil
        recordHasContent = false
        state = .fieldStart
        record.bytes.removeAll(keepingCapacity: true)
        record.ends.removeAll(keepingCapacity: true)
    }
}
