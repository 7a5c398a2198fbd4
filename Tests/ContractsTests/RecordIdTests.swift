import Contracts
import Foundation
import XCTest

final class RecordIdTests: XCTestCase {
    func testIdsAreThePrefixAndRandomLowerCaseHex() {
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = RecordId.make("rwd_")
            XCTAssertEqual(id.utf8.count, 24)
            XCTAssertTrue(id.dropFirst(4).allSatisfy { "0123456789abcdef".contains($0) }, id)
            XCTAssertTrue(RecordId.isValid(id, prefix: "rwd_"))
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 10_000)
        // Every digit turns up in every position: the bits are not stuck.
        let ids = (0..<2_000).map { _ in Array(RecordId.make("").utf8) }
        for position in 0..<20 { XCTAssertEqual(Set(ids.map { $0[position] }).count, 16, "position \(position)") }
    }

    func testTimeOrderedIdsSortByCreation() {
        let first = RecordId.timeOrdered("evt_")
        Thread.sleep(forTimeInterval: 0.005)
        let second = RecordId.timeOrdered("evt_")
        XCTAssertLessThan(first, second)
        XCTAssertEqual(first.utf8.count, 4 + 24)
        XCTAssertTrue(RecordId.isValid(second, prefix: "evt_"))
        XCTAssertFalse(RecordId.isValid("evt_ABC", prefix: "evt_"))
    }
}
