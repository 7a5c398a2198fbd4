import Contracts
import Foundation
import ServiceKit

/// Sends `segment_enter` / `segment_exit` through the outbox as customers join and leave dynamic
/// segments (the canvas `segment_enter` trigger listens).
///
/// Its own thread looks at the index whenever the feed published a change (checked every
/// `checkInterval`), and at least every `sweepInterval` for rules with time windows, whose results
/// change with time alone. Each dynamic segment's members are selected whole (the engine is built for
/// that) and compared with the members of the previous look; the differences are recorded by
/// `MembershipTransitions`, whose table also decides, should two replicas ever overlap, who sends each
/// event. One replica at a time watches: the holder of a lease renewed on every pass. On its first
/// look at a segment (after taking the lease, or a new segment) it compares the recorded members
/// instead, so changes made while no replica watched are not lost; a segment never recorded gets its
/// members silently.
///
/// Thread-safety: `state` is guarded by `condition`; `previous` is touched by the watcher thread only.
final class MembershipWatcher: BackgroundTask, @unchecked Sendable {
    let taskName = "segment-membership-watcher"
    let live: LiveIndex
    let audiences: Audiences
    let transitions: MembershipTransitions
    let logger: Logger
    var checkInterval: TimeInterval = 0.25
    var sweepInterval: TimeInterval = 60
    /// How long the lease lasts without renewal (a killed holder is replaced after this).
    var leaseSeconds: Double = 10
    let owner = InstanceName.make("segment-watcher")

    private struct Known { var generation: Int; var members: Bitmap }
    /// Segment id → members at the last look (meaningful within one index generation only). A changed
    /// rule counts as a change: customers it adds enter, customers it drops leave.
    private var previous: [String: Known] = [:]

    private enum RunState { case idle, running, stopping, stopped }
    private let condition = NSCondition()
    private var state = RunState.idle
    private var threadRunning = false

    init(live: LiveIndex, audiences: Audiences, transitions: MembershipTransitions, logger: Logger) {
        self.live = live
        self.audiences = audiences
        self.transitions = transitions
        self.logger = logger
    }

    func start() throws {
        condition.lock()
        defer { condition.unlock() }
        guard state == .idle else { return }
        state = .running
        threadRunning = true
        let thread = Thread { [self] in
            run()
            condition.lock()
            threadRunning = false
            condition.broadcast()
            condition.unlock()
        }
        thread.name = taskName
        thread.start()
    }

    @discardableResult
    func stop(timeout: TimeInterval) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if state == .idle { state = .stopped; return true }
        if state == .running { state = .stopping }
        condition.broadcast()
        let deadline = Date().addingTimeInterval(max(0, timeout))
        while threadRunning {
            if !condition.wait(until: deadline) { break }
        }
        if !threadRunning { state = .stopped }
        return !threadRunning
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return state != .running
    }

    private func pause(_ seconds: TimeInterval) {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        while state == .running {
            if !condition.wait(until: deadline) { break }
        }
        condition.unlock()
    }

    private func run() {
        var seen: (generation: Int, version: Int)?
        var lastSweep = Date.distantPast
        var leaseRenewed = Date.distantPast
        defer { transitions.releaseLease(owner: owner) }
        while !isStopping {
            pause(checkInterval)
            guard live.isReady else { continue }
            let current = live.shape
            do {
                if Date().timeIntervalSince(leaseRenewed) >= leaseSeconds / 3 {
                    guard try transitions.holdLease(owner: owner, seconds: leaseSeconds) else {
                        // Another replica watches; when this one takes over it starts from the records.
                        previous = [:]
                        seen = nil
                        leaseRenewed = .distantPast
                        pause(leaseSeconds / 3)
                        continue
                    }
                    leaseRenewed = Date()
                }
            } catch {
                logger.warning("segment watcher lease failed; retrying", ["error": .string(String(describing: error).prefix(500).description)])
                leaseRenewed = .distantPast
                pause(1)
                continue
            }
            let changed = seen.map { $0 != (current.generation, current.version) } ?? true
            guard changed || Date().timeIntervalSince(lastSweep) >= sweepInterval else { continue }
            do {
                try look(at: current.generation)
                seen = (current.generation, current.version)
                lastSweep = Date()
            } catch {
                logger.warning("segment entry/exit check failed; retrying", ["error": .string(String(describing: error).prefix(500).description)])
                pause(1)
            }
        }
    }

    /// Compares every dynamic segment's members now with the last look and records the differences:
    /// the segments and what they need are loaded first, the index is read for all of them at once,
    /// and the transitions are written afterwards.
    func look(at generation: Int) throws {
        let segments = try transitions.dynamicSegments()
        let alive = Set(segments.map(\.segment.id))
        previous = previous.filter { alive.contains($0.key) && $0.value.generation == generation }
        var changes: [Change] = []
        // One plan and one read for all; should that fail, segment by segment, so that one segment that
        // cannot be evaluated does not hold up the others' events.
        let together = try? audiences.plan(segments: segments.map(\.segment))
        let groups = together.map { plan in [(plan, segments)] } ?? segments.map { (nil, [$0]) }
        for (shared, group) in groups {
            do {
                let plan = try shared ?? audiences.plan(segments: group.map(\.segment))
                try audiences.evaluate(plan) { evaluation in
                    for (segment, tracked) in group {
                        do {
                            changes.append(try change(of: segment, tracked: tracked, evaluation: &evaluation))
                        } catch {
                            previous[segment.id] = nil
                            logger.warning("segment entry/exit check failed", ["segment": .string(segment.id),
                                                                               "error": .string(String(describing: error).prefix(500).description)])
                        }
                    }
                }
            } catch {
                for (segment, _) in group { previous[segment.id] = nil }
                logger.warning("segment entry/exit check failed", ["segments": .string(group.map(\.segment.id).joined(separator: ",")),
                                                                   "error": .string(String(describing: error).prefix(500).description)])
            }
        }
        for change in changes {
            do {
                switch change.kind {
                case .baseline(let ids):
                    try transitions.baseline(change.segment, members: ids)
                case .difference(let entered, let exited):
                    try transitions.record(change.segment, entered: entered, exited: exited)
                case .reconcile(let ids):
                    let recorded = try transitions.recordedMembers(of: change.segment.id)
                    let current = Set(ids)
                    try transitions.record(change.segment, entered: ids.filter { !recorded.contains($0) },
                                           exited: recorded.filter { !current.contains($0) }.sorted())
                }
                previous[change.segment.id] = change.known
            } catch {
                // Not recorded: the next look compares with the records again.
                previous[change.segment.id] = nil
                logger.warning("segment entry/exit recording failed", ["segment": .string(change.segment.id),
                                                                       "error": .string(String(describing: error).prefix(500).description)])
            }
        }
    }

    /// What one look found for one segment, to write once the index is no longer read.
    private struct Change {
        enum Kind {
            /// Never recorded: its members now, silently.
            case baseline([String])
            /// Since the last look.
            case difference(entered: [String], exited: [String])
            /// First look in this process: its members now, to compare with the records.
            case reconcile([String])
        }
        var segment: SegmentDefinition
        var kind: Kind
        var known: Known
    }

    private func change(of segment: SegmentDefinition, tracked: Bool, evaluation: inout Evaluation) throws -> Change {
        let members = try evaluation.members(of: segment)
        let known = Known(generation: evaluation.state.generation, members: members)
        if let last = previous[segment.id], last.generation == known.generation {
            return Change(segment: segment, kind: .difference(entered: evaluation.customerIds(members.subtracting(last.members)),
                                                              exited: evaluation.customerIds(last.members.subtracting(members))),
                          known: known)
        }
        let ids = evaluation.customerIds(members)
        return Change(segment: segment, kind: tracked ? .reconcile(ids) : .baseline(ids), known: known)
    }
}
