import CLibPQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// COPY text format (the default of `COPY … FROM STDIN`): tab-separated fields, one row per line,
/// `\N` for NULL, and backslash escapes for backslash, tab, newline and carriage return.
public enum PostgresCopyText {
    /// Appends one row (a line) to `buffer`.
    public static func appendRow(_ fields: [String?], to buffer: inout [UInt8]) {
        for (i, field) in fields.enumerated() {
            if i > 0 { buffer.append(9) }
            guard let field else {
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(UInt8(ascii: "N"))
                continue
            }
            for byte in field.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.append(92); buffer.append(92)
                case 9: buffer.append(92); buffer.append(UInt8(ascii: "t"))
                case 10: buffer.append(92); buffer.append(UInt8(ascii: "n"))
                case 13: buffer.append(92); buffer.append(UInt8(ascii: "r"))
                default: buffer.append(byte)
                }
            }
        }
        buffer.append(10)
    }

    /// One row as COPY text bytes.
    public static func encodeRow(_ fields: [String?]) -> [UInt8] {
        var buffer: [UInt8] = []
        appendRow(fields, to: &buffer)
        return buffer
    }
}

extension PostgresConnection {
    /// Size of the pieces handed to `PQputCopyData`, and of the buffer rows are batched into.
    static let copyChunkSize = 256 * 1024

    /// Runs `COPY … FROM STDIN` (a trusted statement written in code) and streams `chunks` of
    /// COPY-format bytes. Returns the number of rows copied. A row the server rejects surfaces as
    /// `.server` (e.g. SQLSTATE 22P02 naming the line) and nothing is copied; the connection stays
    /// usable.
    @discardableResult
    public func copyFrom<Chunks: Sequence>(_ sql: String, chunks: Chunks) throws(PostgresError) -> Int
    where Chunks.Element == [UInt8] {
        try copy(sql) { sink in
            for chunk in chunks where !chunk.isEmpty {
                guard sink.send(chunk) else { return }
            }
        }
    }

    /// COPY of text rows (nil is NULL), encoded with `PostgresCopyText` and sent in batches.
    @discardableResult
    public func copyFrom<Rows: Sequence>(_ sql: String, rows: Rows) throws(PostgresError) -> Int
    where Rows.Element == [String?] {
        try copy(sql) { sink in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(Self.copyChunkSize + 4096)
            for row in rows {
                PostgresCopyText.appendRow(row, to: &buffer)
                if buffer.count >= Self.copyChunkSize {
                    guard sink.send(buffer) else { return }
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            if !buffer.isEmpty { _ = sink.send(buffer) }
        }
    }

    /// COPY of typed rows: each value is written in its PostgreSQL text form. A value that cannot be
    /// encoded aborts the COPY (nothing is copied) and throws `.invalidParameter`.
    @discardableResult
    public func copyFrom<Rows: Sequence>(_ sql: String, values rows: Rows) throws(PostgresError) -> Int
    where Rows.Element == [(any PostgresEncodable)?] {
        var encodingError: PostgresError?
        let count: Int
        do {
            count = try copy(sql) { sink in
                var buffer: [UInt8] = []
                var fields: [String?] = []
                for (rowNumber, row) in rows.enumerated() {
                    fields.removeAll(keepingCapacity: true)
                    for (i, value) in row.enumerated() {
                        guard let value else { fields.append(nil); continue }
                        do {
                            fields.append(try value.postgresText())
                        } catch {
                            encodingError = .invalidParameter(index: i + 1, reason: "row \(rowNumber + 1): \(error)")
                            sink.abort("client could not encode row \(rowNumber + 1)")
                            return
                        }
                    }
                    PostgresCopyText.appendRow(fields, to: &buffer)
                    if buffer.count >= Self.copyChunkSize {
                        guard sink.send(buffer) else { return }
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
                if !buffer.isEmpty { _ = sink.send(buffer) }
            }
        } catch {
            throw encodingError ?? error
        }
        return count
    }

    /// Where `copy` producers write; stops accepting after the first failure.
    final class CopySink {
        let handle: OpaquePointer
        var failure: String?
        var abortReason: String?
        init(handle: OpaquePointer) { self.handle = handle }

        /// Sends bytes with `PQputCopyData`; false once the COPY has failed (stop producing).
        func send(_ bytes: [UInt8]) -> Bool {
            guard failure == nil, abortReason == nil else { return false }
            var offset = 0
            while offset < bytes.count {
                let length = min(PostgresConnection.copyChunkSize, bytes.count - offset)
                let rc = bytes.withUnsafeBufferPointer { buf in
                    buf.baseAddress!.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: length) {
                        PQputCopyData(handle, $0, Int32(length))
                    }
                }
                switch rc {
                case 1:
                    offset += length
                case 0:
                    // Only in non-blocking mode: wait until the socket drains, then retry.
                    guard waitWritable() else { failure = "timed out sending COPY data"; return false }
                default:
                    failure = PostgresConnection.errorMessage(handle)
                    return false
                }
            }
            return true
        }

        func abort(_ reason: String) { abortReason = reason }

        func waitWritable() -> Bool {
            let fd = PQsocket(handle)
            guard fd >= 0 else { return false }
            return PostgresConnection.waitForSocket(fd, events: Int16(POLLOUT), timeout: 30) == 1
        }
    }

    private func copy(_ sql: String, _ produce: (CopySink) -> Void) throws(PostgresError) -> Int {
        guard let handle else { throw .connectionLost("connection is closed") }
        guard !sql.utf8.contains(0) else { throw .invalidState("SQL text contains a NUL byte") }
        guard let start = PQexec(handle, sql) else {
            let message = Self.errorMessage(handle)
            if PQstatus(handle) != CONNECTION_OK { throw .connectionLost(message) }
            throw .copyFailed(message)
        }
        if PQresultStatus(start) != PGRES_COPY_IN {
            let done = try check(start)  // throws the server's error, if that is what it was
            PQclear(done)
            throw .invalidState("statement did not start COPY FROM STDIN")
        }
        PQclear(start)

        let sink = CopySink(handle: handle)
        produce(sink)

        // End the COPY: normally, or with an error message that makes the server discard it all.
        if sink.failure == nil {
            var ended = false
            while !ended {
                switch PQputCopyEnd(handle, sink.abortReason) {
                case 1: ended = true
                case 0:
                    if !sink.waitWritable() { sink.failure = "timed out ending COPY"; ended = true }
                default:
                    sink.failure = Self.errorMessage(handle)
                    ended = true
                }
            }
        }
        // Drain every result until NULL; the server's verdict is among them.
        var serverError: PostgresServerError?
        var copied = 0
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            if status == PGRES_COMMAND_OK {
                copied = Self.affectedRows(result)
            } else if status == PGRES_COPY_IN {
                // Still in COPY (we failed before ending it): abort so the server rolls it back.
                _ = PQputCopyEnd(handle, sink.failure ?? "aborted by client")
            } else if serverError == nil, status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE {
                serverError = Self.serverError(result)
            }
            PQclear(result)
            if PQstatus(handle) != CONNECTION_OK { break }
        }
        if PQstatus(handle) != CONNECTION_OK {
            throw .connectionLost(serverError?.message ?? sink.failure ?? Self.errorMessage(handle))
        }
        if let abortReason = sink.abortReason, sink.failure == nil {
            throw .copyFailed(abortReason)
        }
        if let serverError, !serverError.sqlState.isEmpty { throw .server(serverError) }
        if let failure = sink.failure ?? serverError?.message { throw .copyFailed(failure) }
        return copied
    }
}
