import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ServiceKit
import XCTest

/// Write-behind: writes run in order, one at a time, overlapping the producer; a failure stops the
/// writer and reaches the producer; `drain` waits for the write in flight.
final class WriteBehindTests: XCTestCase {
    /// What the writes saw. Thread-safety: `lock` guards everything.
    final class Record: @unchecked Sendable {
        let lock = NSLock()
        var written: [Int] = []
        var running = 0
        var mostRunning = 0
        var onProducerThread = false
    }

    struct Refused: Error, Equatable { let piece: Int }

    func testWritesRunInOrderOneAtATimeBehindTheProducer() throws {
        let record = Record()
        let writer = WriteBehind(label: "test.write-behind")
        let producer = pthread_self()
        let started = Date()
        for piece in 0..<20 {
            try writer.submit {
                record.lock.withLock {
                    record.running += 1
                    record.mostRunning = max(record.mostRunning, record.running)
                    if pthread_equal(pthread_self(), producer) != 0 { record.onProducerThread = true }
                }
                Thread.sleep(forTimeInterval: 0.01)
                record.lock.withLock {
                    record.written.append(piece)
                    record.running -= 1
                }
            }
        }
        let submitted = Date().timeIntervalSince(started)
        try writer.drain()
        XCTAssertEqual(record.written, Array(0..<20), "every write once, in submission order")
        XCTAssertEqual(record.mostRunning, 1, "one write at a time")
        XCTAssertFalse(record.onProducerThread, "writes run off the producer's thread")
        // Back-pressure: the producer waited for all but the last write before submitting the next.
        XCTAssertGreaterThanOrEqual(submitted, 0.19 * 0.9)
    }

    func testAFailedWriteStopsTheWriterAndReachesTheProducer() throws {
        let record = Record()
        let writer = WriteBehind(label: "test.write-behind")
        try writer.submit { record.lock.withLock { record.written.append(0) } }
        try writer.submit { throw Refused(piece: 1) }
        XCTAssertThrowsError(try writer.submit { record.lock.withLock { record.written.append(2) } }) {
            XCTAssertEqual($0 as? Refused, Refused(piece: 1))
        }
        XCTAssertThrowsError(try writer.drain()) { XCTAssertEqual($0 as? Refused, Refused(piece: 1)) }
        XCTAssertThrowsError(try writer.submit { record.lock.withLock { record.written.append(3) } })
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(record.lock.withLock { record.written }, [0], "nothing runs after a failed write")
    }

    func testDrainWaitsForTheWriteInFlight() throws {
        let record = Record()
        let writer = WriteBehind(label: "test.write-behind")
        try writer.submit {
            Thread.sleep(forTimeInterval: 0.1)
            record.lock.withLock { record.written.append(1) }
        }
        try writer.drain()
        XCTAssertEqual(record.lock.withLock { record.written }, [1])
        try writer.drain()   // idle: returns at once, and the writer takes more
        try writer.submit { record.lock.withLock { record.written.append(2) } }
        try writer.drain()
        XCTAssertEqual(record.lock.withLock { record.written }, [1, 2])
    }
}
