import XCTest
@testable import ServiceKit

final class RateLimiterTests: XCTestCase {
    func testBurstThenRefill() {
        let limiter = RateLimiter(ratePerSecond: 10, burst: 5)
        let t0: UInt64 = 1_000_000_000
        for _ in 0..<5 { XCTAssertEqual(limiter.acquire("k", now: t0), .allowed) }
        XCTAssertEqual(limiter.acquire("k", now: t0), .limited(retryAfter: 1))
        XCTAssertEqual(limiter.acquire("other", now: t0), .allowed, "keys are independent")
        XCTAssertEqual(limiter.acquire("k", now: t0 + 100_000_000), .allowed, "0.1 s refills one token at 10/s")
        XCTAssertEqual(limiter.acquire("k", now: t0 + 100_000_000), .limited(retryAfter: 1))
        for _ in 0..<5 { XCTAssertEqual(limiter.acquire("k", now: t0 + 10_000_000_000), .allowed) }
        XCTAssertEqual(limiter.acquire("k", now: t0 + 10_000_000_000), .limited(retryAfter: 1), "never more than the burst")
    }

    func testMemoryStaysBoundedUnderManyKeys() {
        let limiter = RateLimiter(ratePerSecond: 1, burst: 1, maxKeys: 1_600)
        for i in 0..<50_000 { _ = limiter.acquire("ip-\(i)", now: UInt64(i) * 1_000) }
        XCTAssertEqual(limiter.acquire("ip-49999", now: 50_000 * 1_000), .limited(retryAfter: 1), "recent keys keep their state")
    }
}
