import Contracts
import Foundation
import ServiceKit

/// The timers of entries: scheduled canvases whose window began start running, due segment waves are
/// entered page by page, and breakpoint recalls whose time passed enter their customers. Every replica
/// runs one; claims (SKIP LOCKED, leases) keep them from doing the same work.
public final class EntryLoop: BackgroundTask, @unchecked Sendable {
    public var taskName: String { "entry-loop" }
    let store: CanvasStore
    let waves: EntryWaves
    let events: EventEntries
    let engine: JourneyEngine
    let pollInterval: TimeInterval
    let logger: Logger
    private let loop = BackgroundLoop(name: "canvas-entries")

    init(store: CanvasStore, waves: EntryWaves, events: EventEntries, engine: JourneyEngine, pollInterval: TimeInterval, logger: Logger) {
        self.store = store
        self.waves = waves
        self.events = events
        self.engine = engine
        self.pollInterval = pollInterval
        self.logger = logger
    }

    public func start() throws {
        try loop.start { [self] in
            while !loop.isStopping {
                var busy = false
                do {
                    if try store.startDue(now: Date()) > 0 { events.invalidate() }
                    if try waves.runPage() > 0 { busy = true; engine.wakeUp() }
                    if try events.runRecalls() > 0 { busy = true }
                } catch {
                    logger.error("entry step failed", ["error": .string("\(error)")])
                    loop.pause(1)
                }
                if !busy { loop.pause(pollInterval) }
            }
        }
    }

    @discardableResult
    public func stop(timeout: TimeInterval) -> Bool { loop.stop(timeout: timeout) }
}
