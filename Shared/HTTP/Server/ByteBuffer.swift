#if canImport(Glibc)
import Glibc
#endif

/// A growable byte buffer with a read and a write index, for socket I/O without per-read allocation.
///
/// Thread-safety: none; owned by one connection on its event-loop thread.
final class ByteBuffer {
    private(set) var storage: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    var readIndex = 0
    var writeIndex = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }
    deinit { storage.deallocate() }

    var readableBytes: Int { writeIndex - readIndex }
    var isEmpty: Bool { readIndex == writeIndex }
    var readable: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: storage + readIndex, count: readableBytes) }

    func consume(_ n: Int) {
        readIndex += n
        if readIndex == writeIndex { readIndex = 0; writeIndex = 0 }
    }

    /// Makes room for at least `n` more bytes at the write end, compacting or growing.
    func reserveWritable(_ n: Int) {
        if capacity - writeIndex >= n { return }
        if readIndex > 0 {
            let count = readableBytes
            if count > 0 { memmove(storage, storage + readIndex, count) }
            readIndex = 0
            writeIndex = count
            if capacity - writeIndex >= n { return }
        }
        var newCapacity = capacity
        while newCapacity - writeIndex < n { newCapacity *= 2 }
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStorage.update(from: storage, count: writeIndex)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    var writableStart: UnsafeMutablePointer<UInt8> { storage + writeIndex }
    var writableBytes: Int { capacity - writeIndex }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserveWritable(bytes.count)
        (storage + writeIndex).update(from: bytes.bindMemory(to: UInt8.self).baseAddress!, count: bytes.count)
        writeIndex += bytes.count
    }
    func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }
    func append(_ s: StaticString) { append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) }
    func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }
    func append(decimal n: Int) {
        if n == 0 { append("0" as StaticString); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = n < 0 ? -n : n
        var i = 20
        withUnsafeMutableBytes(of: &digits) { p in
            while v > 0 { i -= 1; p[i] = UInt8(48 + v % 10); v /= 10 }
            if n < 0 { i -= 1; p[i] = UInt8(ascii: "-") }
            append(UnsafeRawBufferPointer(rebasing: p[i..<20]))
        }
    }

    /// Drops contents and shrinks a buffer that grew large for one big request.
    func reset(shrinkTo limit: Int) {
        readIndex = 0
        writeIndex = 0
        if capacity > limit {
            storage.deallocate()
            storage = .allocate(capacity: limit)
            capacity = limit
        }
    }
}
