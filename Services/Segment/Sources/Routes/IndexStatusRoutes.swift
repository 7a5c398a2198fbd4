import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET /internal/v1/index`: how far this replica's index follows the profile's change feed (the
/// cursor, customers, memory, lag). Internal credential only, like every route but the probes.
public enum IndexStatusRoutes {
    public static func register(on router: Router, live: LiveIndex) {
        router.get("/internal/v1/index") { _, _ in try .json(live.feedStatus) }
    }
}
