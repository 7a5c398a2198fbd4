import Contracts
import HTTP
import ServiceKit
import XCTest
@testable import Gateway

/// The gateway's door answers 429 with Retry-After per token and per client IP.
final class GatewayRateLimitTests: XCTestCase {
    func testPerTokenLimit() throws {
        let h = try IdentityHarness(tokenLimiter: RateLimiter(ratePerSecond: 0.5, burst: 3))
        defer { h.close() }
        let token = try h.token("admin", IdentityHarness.adminPassword)
        for _ in 0..<3 { XCTAssertEqual(try h.request(.GET, "/api/v1/me", token: token).status, 200) }
        let limited = try h.request(.GET, "/api/v1/me", token: token)
        XCTAssertEqual(limited.status, 429)
        XCTAssertEqual(limited.errorCode, "rate_limited")
        XCTAssertEqual(limited.headers["retry-after"], "2", "one token per 2 s at 0.5/s")
        // Another caller is not affected.
        try h.createUser("other_admin", org: "hq", roles: ["admin"])
        let other = try h.token("other_admin", "password-1234")
        XCTAssertEqual(try h.request(.GET, "/api/v1/me", token: other).status, 200)
    }

    func testPerIPLimitAppliesBeforeAuthentication() throws {
        let h = try IdentityHarness(ipLimiter: RateLimiter(ratePerSecond: 1, burst: 2))
        defer { h.close() }
        XCTAssertEqual(try h.request(.GET, "/api/v1/me").status, 401)
        XCTAssertEqual(try h.request(.GET, "/api/v1/me").status, 401)
        let limited = try h.request(.GET, "/api/v1/me")
        XCTAssertEqual(limited.status, 429)
        XCTAssertNotNil(limited.headers["retry-after"])
    }
}
