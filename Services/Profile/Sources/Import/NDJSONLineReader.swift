/// Splits an NDJSON body, fed in chunks of any size, into lines (LF or CRLF), holding at most one line.
///
/// Blank lines are skipped; a line over `maximumLineBytes` is reported as malformed (its bytes are
/// dropped up to its end) so that one huge line cannot exhaust memory.
///
/// Thread-safety: a value used by one thread (the upload's).
struct NDJSONLineReader {
    enum Event {
        case line(number: Int, bytes: [UInt8])
        case malformed(line: Int, reason: String)
    }

    let maximumLineBytes: Int
    private var current: [UInt8] = []
    private var number = 1
    private var tooLong = false

    init(maximumLineBytes: Int = 1 << 20) {
        self.maximumLineBytes = maximumLineBytes
    }

    mutating func feed(_ chunk: [UInt8], _ emit: (Event) throws -> Void) rethrows {
        var start = 0
        while start < chunk.count {
            guard let newline = chunk[start...].firstIndex(of: 10) else {
                append(chunk[start...])
                return
            }
            append(chunk[start..<newline])
            try endLine(emit)
            start = newline + 1
        }
    }

    mutating func finish(_ emit: (Event) throws -> Void) rethrows {
        if !current.isEmpty || tooLong { try endLine(emit) }
    }

    private mutating func append(_ bytes: ArraySlice<UInt8>) {
        guard !tooLong else { return }
        if current.count + bytes.count > maximumLineBytes {
            tooLong = true
            current.removeAll()
            return
        }
        current.append(contentsOf: bytes)
    }

    private mutating func endLine(_ emit: (Event) throws -> Void) rethrows {
        defer {
            number += 1
            tooLong = false
            current.removeAll(keepingCapacity: true)
        }
        if tooLong {
            try emit(.malformed(line: number, reason: "is longer than \(maximumLineBytes) bytes"))
            return
        }
        if current.last == 13 { current.removeLast() }
        // Blank lines (only spaces or tabs) separate nothing: skipped.
        if current.allSatisfy({ $0 == 32 || $0 == 9 }) { return }
        try emit(.line(number: number, bytes: current))
    }
}
