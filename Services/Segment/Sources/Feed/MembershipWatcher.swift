import Contracts
import Foundation
import ServiceKit

/// Sends `segment_enter` / `segment_exit` through the outbox as customers join and leave dynamic
/// segments (the canvas `segment_enter` trigger listens).
///
/// Its own thread looks at the index whenever the feed published a change (checked every
/// `checkInterval`), and at least every `sweepInterval` for rules with time windows, whose results
/// change with time alone. A look takes the dynamic segments one at a time: what they need from
/// PostgreSQL is loaded first (`Audiences.plan`, see `LookPlans`), then the index is read for one
/// segment alone (one short read lock, no I/O inside: the feed's writer waits for readers, and a read
/// across every segment would hold it back for seconds), and its members are compared with those of
/// the previous look. The differences are written afterwards by `MembershipTransitions`, `batchSize`
/// customers per transaction, their rows and their events together; customer ids are looked up one
/// batch at a time, so memory stays bounded however many customers a rule change or a black list moves.
///
/// One replica at a time watches: the holder of a lease, renewed between segments and by every write,
/// which checks it under a row lock before writing anything (`MembershipTransitions.record`). A
/// replica that finds the lease gone stops where it is and forgets what it saw; whoever holds the
/// lease next starts from the records. On its first look at a segment (after taking the lease, or a
/// new segment) a watcher compares the recorded members instead, so changes made while no replica
/// watched are not lost; a segment never recorded gets its members silently.
///
/// Memory: one members bitmap per dynamic segment between looks, `slotCount / 8` bytes each (1.25 MB
/// per segment at 10M customer slots; 100 dynamic segments, 125 MB), plus during a look up to three
/// more of that size for the segment at hand (its new members, one difference, and on a first look the
/// recorded members), the engine's own while it evaluates, and one batch of ids and events.
///
/// Thread-safety: `loop` is thread-safe; everything else is touched by the watcher thread
/// only (or by a test calling `look` on a watcher it did not start).
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
    /// Customers whose rows and events commit in one transaction.
    var batchSize = 5_000
    let owner = InstanceName.make("segment-watcher")
    /// Tests: called after each committed batch.
    var afterBatch: (() throws -> Void)?

    private var lease: MembershipTransitions.Lease { .init(owner: owner, seconds: leaseSeconds) }

    private struct Known { var generation: Int; var members: Bitmap }
    /// Segment id → members at the last look (meaningful within one index generation only). A changed
    /// rule counts as a change: customers it adds enter, customers it drops leave.
    private var previous: [String: Known] = [:]
    /// Whether this watcher holds the lease, and when it was last renewed (before the renewing
    /// statement started, so never later than PostgreSQL's own `now()`).
    private var holdsLease = false
    private var leaseRenewed = Date.distantPast
    /// Counts the times the lease was taken: a look that sees it change lost the lease meanwhile.
    private var leaseTakings = 0

    /// The look was cut short: the service stops.
    private struct Stopping: Error {}
    /// The index was reloaded from a new snapshot during the look: its slots mean nothing now.
    private struct Reloaded: Error, CustomStringConvertible {
        var description: String { "the customer index was reloaded during the look" }
    }

    private let loop: BackgroundLoop

    init(live: LiveIndex, audiences: Audiences, transitions: MembershipTransitions, logger: Logger) {
        self.live = live
        self.audiences = audiences
        self.transitions = transitions
        self.logger = logger
        loop = BackgroundLoop(name: "segment-membership-watcher")
    }

    func start() throws {
        try loop.start { [self] in run() }
    }

    @discardableResult
    func stop(timeout: TimeInterval) -> Bool {
        loop.stop(timeout: timeout)
    }

    private var isStopping: Bool { loop.isStopping }

    private var stopRequested: Bool { loop.stopRequested }

    /// Sleeps up to `seconds`, returning early when stopping.
    private func pause(_ seconds: TimeInterval) { loop.pause(seconds) }

    private func run() {
        var seen: (generation: Int, version: Int)?
        var lastSweep = Date.distantPast
        defer { if holdsLease { transitions.releaseLease(owner: owner) } }
        while !isStopping {
            pause(checkInterval)
            guard live.isReady else { continue }
            let current = live.shape
            do {
                guard try keepLease() else {
                    // Another replica watches; when this one takes over it starts from the records.
                    seen = nil
                    pause(leaseSeconds / 3)
                    continue
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
            } catch is MembershipTransitions.LeaseLost {
                logger.warning("segment watcher lost its lease during a look; another replica watches")
                seen = nil
            } catch is Stopping {
                break
            } catch {
                logger.warning("segment entry/exit check failed; retrying", ["error": .string(String(describing: error).prefix(500).description)])
                pause(1)
            }
        }
    }

    /// Takes the lease, or renews it once a third of it has passed; false while another replica holds
    /// it. A lease found lost since it was taken makes this watcher forget what it saw (another replica
    /// may have recorded changes meanwhile): it starts from the records once it holds the lease again.
    private func keepLease() throws -> Bool {
        let asked = Date()
        if holdsLease {
            guard asked.timeIntervalSince(leaseRenewed) >= leaseSeconds / 3 else { return true }
            if try transitions.renewLease(lease) {
                leaseRenewed = asked
                return true
            }
            forget()
        }
        guard try transitions.takeLease(lease) else { return false }
        holdsLease = true
        leaseTakings += 1
        leaseRenewed = asked
        return true
    }

    private func forget() {
        holdsLease = false
        leaseRenewed = .distantPast
        previous = [:]
    }

    /// Between batches and pages: stops when the service does, and keeps the lease (or gives up the
    /// look, throwing `LeaseLost`).
    private func checkpoint() throws {
        if stopRequested { throw Stopping() }
        let takings = leaseTakings
        // Taken again after being lost counts as lost: what this look saw is stale.
        guard try keepLease(), leaseTakings == takings else { throw MembershipTransitions.LeaseLost() }
    }

    /// Compares every dynamic segment's members now with the last look and records the differences,
    /// one segment at a time (see the type's comment). Throws `LeaseLost` when the lease was lost:
    /// nothing more is written then.
    func look(at generation: Int) throws {
        if !holdsLease {
            guard try keepLease() else { throw MembershipTransitions.LeaseLost() }
        }
        let segments = try transitions.dynamicSegments()
        let alive = Set(segments.map(\.segment.id))
        previous = previous.filter { alive.contains($0.key) && $0.value.generation == generation }
        var plans = LookPlans(segments: segments.map(\.segment))
        for (segment, tracked) in segments {
            try checkpoint()
            do {
                try look(at: segment, tracked: tracked, plan: plans.plan(for: segment, audiences: audiences))
            } catch let error where error is MembershipTransitions.LeaseLost || error is Stopping {
                previous[segment.id] = nil
                throw error
            } catch {
                // Not (entirely) recorded: the next look compares with the records again.
                previous[segment.id] = nil
                logger.warning("segment entry/exit check failed", ["segment": .string(segment.id),
                                                                   "error": .string(String(describing: error).prefix(500).description)])
            }
        }
    }

    /// One segment: one read of the index for its members (with what `plan` loaded), then the writes.
    private func look(at segment: SegmentDefinition, tracked: Bool, plan: AudiencePlan) throws {
        let now = Date()
        let known = try audiences.evaluate(plan, now: now) { evaluation in
            let members = try evaluation.members(of: segment)
            // A copy of its own: the engine may answer with a bitmap of the index itself (every customer
            // of a unit is the index's `alive`), and one kept here would make the feed's next write to it
            // copy it whole. `intersection` always allocates (`union` and `subtracting` with an empty
            // operand may return the same storage).
            return Known(generation: evaluation.state.generation, members: members.intersection(members))
        }
        // Entered, then exited: one difference bitmap at a time.
        let generation = known.generation
        if let last = previous.removeValue(forKey: segment.id), last.generation == generation {
            try write(segment, known.members.subtracting(last.members), entering: true, generation: generation, at: now, announce: true)
            try write(segment, last.members.subtracting(known.members), entering: false, generation: generation, at: now, announce: true)
        } else {
            // First look at it: compare with the records; a segment never recorded gets its members silently.
            let recorded = try recordedMembers(of: segment, generation: generation, at: now, announce: tracked)
            try write(segment, known.members.subtracting(recorded), entering: true, generation: generation, at: now, announce: tracked)
            try write(segment, recorded.subtracting(known.members), entering: false, generation: generation, at: now, announce: tracked)
            if !tracked { try transitions.markTracked(segment, lease: lease) }
        }
        previous[segment.id] = known
    }

    /// The recorded members of `segment` as slots of the index of `generation`, read a page at a time.
    /// Recorded customers this index has never seen cannot be members: they leave right away (in
    /// batches), so nothing but the bitmap grows with the segment.
    private func recordedMembers(of segment: SegmentDefinition, generation: Int, at: Date, announce: Bool) throws -> Bitmap {
        var recorded = Bitmap()
        var unknown: [String] = []
        var after: String?
        while true {
            try checkpoint()
            let page = try transitions.recordedMembers(of: segment.id, after: after, limit: batchSize)
            try live.read { state in
                guard state.generation == generation else { throw Reloaded() }
                for id in page {
                    if let slot = state.index.slot(of: id) { recorded.insert(slot) } else { unknown.append(id) }
                }
            }
            if unknown.count >= batchSize {
                try commit(segment, entered: [], exited: Array(unknown.prefix(batchSize)), at: at, announce: announce)
                unknown.removeFirst(batchSize)
            }
            guard page.count == batchSize, let last = page.last else { break }
            after = last
        }
        if !unknown.isEmpty { try commit(segment, entered: [], exited: unknown, at: at, announce: announce) }
        return recorded
    }

    /// Records that the customers of `slots` (of the index of `generation`) entered, or left,
    /// `batchSize` customers per transaction, their ids looked up a batch at a time.
    private func write(_ segment: SegmentDefinition, _ slots: Bitmap, entering: Bool, generation: Int, at: Date,
                       announce: Bool) throws {
        try Self.forEachBatch(of: slots, size: batchSize) { batch in
            try checkpoint()
            let ids = try live.read { state in
                guard state.generation == generation else { throw Reloaded() }
                // Slots are never reused within a generation: a customer removed since keeps its id.
                return batch.map { state.index.customerId(at: $0) }
            }
            try commit(segment, entered: entering ? ids : [], exited: entering ? [] : ids, at: at, announce: announce)
        }
    }

    private func commit(_ segment: SegmentDefinition, entered: [String], exited: [String], at: Date, announce: Bool) throws {
        let started = Date()
        do {
            try transitions.record(segment, entered: entered, exited: exited, at: at, announce: announce, lease: lease)
        } catch let lost as MembershipTransitions.LeaseLost {
            forget()
            throw lost
        }
        leaseRenewed = max(leaseRenewed, started)   // the write renewed it
        try afterBatch?()
    }

    /// What the segments of one look need from PostgreSQL: one plan for all of them (a query or two
    /// instead of one or two per segment), remade when older than `maximumAge`; a segment's own plan
    /// instead once the plan for all fails (one segment that cannot be planned must not hold up the
    /// others) or holds stored member sets not cached yet (each read would build their bitmaps again:
    /// a segment's own plan builds them once, in its read, and caches them for the plans after).
    private struct LookPlans {
        let segments: [SegmentDefinition]
        private var shared: AudiencePlan?
        private var madeAt = Date.distantPast
        private var sharing = true
        static let maximumAge: TimeInterval = 2

        init(segments: [SegmentDefinition]) { self.segments = segments }

        mutating func plan(for segment: SegmentDefinition, audiences: Audiences) throws -> AudiencePlan {
            if sharing, shared == nil || Date().timeIntervalSince(madeAt) > Self.maximumAge {
                madeAt = Date()
                shared = try? audiences.plan(segments: segments)
            }
            if sharing, let shared, shared.stored.isEmpty, shared.generation == audiences.live.shape.generation {
                return shared
            }
            sharing = false
            shared = nil
            return try audiences.plan(segments: [segment])
        }
    }

    /// Calls `body` with the set slots of `bitmap` in ascending order, at most `size` at a time.
    static func forEachBatch(of bitmap: Bitmap, size: Int, _ body: ([Int]) throws -> Void) throws {
        var batch: [Int] = []
        batch.reserveCapacity(min(size, 1 << 16))
        for (i, word) in bitmap.words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                batch.append(i << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
                if batch.count >= size {
                    try body(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
        }
        if !batch.isEmpty { try body(batch) }
    }
}
