import Contracts
import Foundation
import XCTest
@testable import Segment

/// Readers query the shared index while the writer applies changes: every read sees a whole state
/// (customers are only added here, so the counts a reader sees never go down and the tag's holders
/// never outnumber the customers), and nothing the writer applied is lost.
final class SharedCustomerIndexTests: XCTestCase {
    func testReadersSeeWholeStatesWhileTheWriterApplies() {
        let timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let shared = SharedCustomerIndex(CustomerIndex(timeZone: timeZone))
        let evaluator = RuleEvaluator(timeZone: timeZone)
        let vip = Rule.tag(try! TagCondition(tag: "vip"))
        let failures = Failures()
        let group = DispatchGroup()
        let writing = DispatchSemaphore(value: 0)
        for _ in 0..<3 {
            DispatchQueue.global().async(group: group) {
                var last = 0
                while writing.wait(timeout: .now()) == .timedOut {
                    let (all, vips) = shared.read { index in
                        let engine = SegmentEvaluator(index: index, evaluator: evaluator)
                        return (engine.select(.all([]), orgPath: "/hq/", now: Date()).count,
                                engine.select(vip, orgPath: "/hq/", now: Date()).count)
                    }
                    if all < last || vips > all { failures.add("read \(all) customers after \(last), \(vips) vip") }
                    last = all
                }
                writing.signal()
            }
        }
        for i in 0..<3_000 {
            shared.write { index in
                index.apply(CustomerFactsDocument(customerId: "C\(i)", exists: true, orgPath: "/hq/sh/",
                                                  attributes: ["aum": .number(Double(i))], tags: i % 3 == 0 ? ["vip": ""] : [:]))
            }
        }
        writing.signal()
        group.wait()
        XCTAssertEqual(failures.all, [])
        XCTAssertEqual(shared.read { $0.count }, 3_000)
        shared.replace(with: CustomerIndex(timeZone: timeZone))
        XCTAssertEqual(shared.read { $0.count }, 0)
    }
}

/// Failures collected from several threads. Thread-safety: guarded by `lock`.
private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
