import Contracts
import Foundation

/// Bounds the member exports running at once: an export holds every member id of a segment in memory
/// (about 16 bytes each, 160 MB at 10M) from reading them until the last line is streamed.
///
/// Thread-safety: `running` is guarded by `lock`.
final class ExportSlots: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var running = 0

    init(limit: Int) { self.limit = limit }

    /// A slot, held until the returned value is released (keep it in the response's stream), or 429
    /// (retry in a few seconds) when all are taken.
    func take() throws -> Slot {
        lock.lock()
        defer { lock.unlock() }
        guard running < limit else {
            throw APIError(status: 429, code: "exports_busy",
                           message: "\(limit) member exports are running; retry shortly", retryAfterSeconds: 5)
        }
        running += 1
        return Slot(owner: self)
    }

    fileprivate func release() {
        lock.lock()
        running -= 1
        lock.unlock()
    }

    /// One running export. Thread-safety: immutable; released once, by deinit.
    final class Slot: @unchecked Sendable {
        private let owner: ExportSlots
        fileprivate init(owner: ExportSlots) { self.owner = owner }
        deinit { owner.release() }
    }
}
