import HTTP
@testable import Gateway
import XCTest

/// The canvas's follow-up tasks at the gateway: routed to the canvas service; listing and completing
/// need only `view` (account managers hold view and pii, not edit); anything else on tasks needs edit.
final class CanvasTaskAccessTests: XCTestCase {
    func testTasksGoToTheCanvasServiceAndAccountManagersMayCompleteThem() {
        XCTAssertEqual(UpstreamTable.resources["tasks"], "canvas")
        XCTAssertEqual(AccessPolicy.requirement(method: .GET, path: "/api/v1/tasks"), .right("view"))
        XCTAssertEqual(AccessPolicy.requirement(method: .POST, path: "/api/v1/tasks/tsk_1:complete"), .right("view"))
        XCTAssertEqual(AccessPolicy.requirement(method: .POST, path: "/api/v1/tasks/tsk_1:reassign"), .right("edit"))
        XCTAssertEqual(AccessPolicy.requirement(method: .POST, path: "/api/v1/tasks"), .right("edit"))
        XCTAssertTrue(AccessPolicy.rights(forRoles: ["account_manager"]).contains("view"))
        // Other resources keep their rules: a publishing action still needs publish.
        XCTAssertEqual(AccessPolicy.requirement(method: .POST, path: "/api/v1/canvases/cnv_1:approve"), .right("publish"))
        XCTAssertEqual(AccessPolicy.requirement(method: .POST, path: "/api/v1/canvases/cnv_1:copy"), .right("edit"))
    }
}
