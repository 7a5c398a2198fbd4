import Contracts
import Foundation
import HTTP
import ServiceKit

/// Turns rules into sets of customers: checks the names a rule reads, resolves the segments and lists
/// it refers to into bitmaps (recursively, refusing cycles), selects within an org subtree, and
/// removes the global black list from every audience.
///
/// In two steps, so that no I/O happens while the index is read: `plan` asks PostgreSQL for
/// everything the rules name, then `evaluate` runs the selections on the index (`Evaluation`).
///
/// Thread-safety: immutable apart from the Sendable caches; use from any thread.
public struct Audiences: Sendable {
    let live: LiveIndex
    let evaluator: RuleEvaluator
    let segments: SegmentStore
    let lists: ListStore
    let catalog: ProfileCatalog
    let cache = MembershipCache()

    /// Segments referring to segments nest at most this deep.
    static let maximumReferenceDepth = 16

    // MARK: Checking

    /// Checks the names `rule` (found at `base` in the request) reads against what the caller may see.
    func check(_ rule: Rule, base: String, caller: CallerIdentity, context: RequestContext) throws {
        let inputs = rule.inputs
        var names = RuleNameCheck()
        names.mayReadPersonal = caller.has(right: "pii")
        names.segments = try segments.visibleIds(Array(inputs.segments), caller: caller)
        names.lists = try lists.visibleIds(Array(inputs.lists), caller: caller)
        for fresh in [false, true] {
            if !inputs.attributes.isEmpty { names.attributes = try catalog.attributeCodes(context: context, fresh: fresh) }
            if !inputs.tags.isEmpty { names.tags = try catalog.tagCodes(context: context, fresh: fresh) }
            // A name missing from a cached catalog may be new: ask the profile again before refusing.
            let missing = !inputs.attributes.isSubset(of: names.attributes ?? []) || !inputs.tags.isSubset(of: names.tags ?? [])
            if !missing || fresh { break }
        }
        try names.check(rule, path: base)
    }

    /// Refuses a rule for segment `owner` that reaches `owner` again through the segments it names
    /// (422 `segment_cycle` at the path of the reference that closes the loop), or that nests
    /// references deeper than `maximumReferenceDepth` (422 `segment_too_deep`). `lookup` reads
    /// definitions (inside the transaction that will store the rule: see `SegmentStore.update`).
    func checkNoCycle(_ rule: Rule, base: String, owner: String,
                      lookup: ([String]) throws -> [String: SegmentDefinition]) throws {
        for (path, id) in Self.segmentReferences(rule, path: base) {
            if id == owner {
                throw RuleFault.apiError(RuleError(path: path, message: "the segment refers to itself: a cycle"), code: "segment_cycle")
            }
            switch try reach(owner, from: id, lookup: lookup) {
            case .reached:
                throw RuleFault.apiError(RuleError(path: path, message: "segment \(id.prefix(64)) refers back to this segment: a cycle"),
                                         code: "segment_cycle")
            case .tooDeep:
                throw RuleFault.apiError(RuleError(path: path, message:
                    "segment \(id.prefix(64)) nests segments more than \(Self.maximumReferenceDepth) deep"), code: "segment_too_deep")
            case .clear:
                continue
            }
        }
    }

    private enum Reach { case reached, tooDeep, clear }

    /// Whether segment `start`'s rule refers to `target`, directly or through other segments, level
    /// by level; too deep a chain is refused as such rather than searched without end.
    private func reach(_ target: String, from start: String, lookup: ([String]) throws -> [String: SegmentDefinition]) throws -> Reach {
        var seen: Set<String> = []
        var frontier = [start]
        var depth = 1
        while !frontier.isEmpty {
            if depth >= Self.maximumReferenceDepth { return .tooDeep }
            let batch = frontier.filter { seen.insert($0).inserted }
            frontier = []
            for definition in try lookup(batch).values {
                let next = try definition.parsedRule().inputs.segments
                if next.contains(target) { return .reached }
                frontier += next
            }
            depth += 1
        }
        return .clear
    }

    /// The `{"segment": id}` conditions of a rule with their JSON paths, in document order.
    static func segmentReferences(_ rule: Rule, path: String) -> [(path: String, id: String)] {
        switch rule {
        case .all(let items):
            return items.enumerated().flatMap { segmentReferences($1, path: "\(path).all[\($0)]") }
        case .any(let items):
            return items.enumerated().flatMap { segmentReferences($1, path: "\(path).any[\($0)]") }
        case .not(let inner):
            return segmentReferences(inner, path: path + ".not")
        case .segment(let id):
            return [(path + ".segment", id)]
        case .attribute, .tag, .event, .list:
            return []
        }
    }

    // MARK: Selecting

    /// Loads from PostgreSQL what `rules` and `segments` need to be evaluated: the segments they refer
    /// to (transitively, refusing cycles), the lists, the global black lists, and the stored members of
    /// those not cached for the current index. No index is read here.
    func plan(rules: [Rule] = [], segments: [SegmentDefinition] = []) throws -> AudiencePlan {
        var planner = AudiencePlanner(audiences: self)
        for rule in rules { try planner.visit(rule, stack: []) }
        for segment in segments { try planner.visit(segment, stack: []) }
        return try planner.finish()
    }

    /// Runs `body` on the current index with what `plan` loaded (see `Evaluation`).
    func evaluate<R>(_ plan: AudiencePlan, now: Date = Date(), _ body: (inout Evaluation) throws -> R) throws -> R {
        try live.read { state in
            var evaluation = try Evaluation(audiences: self, plan: plan, state: state, now: now)
            return try body(&evaluation)
        }
    }

    /// The customer ids of `bitmap`'s slots.
    static func customerIds(_ bitmap: Bitmap, in state: IndexState, limit: Int = .max) -> [String] {
        bitmap.slots(limit: limit).map { state.index.customerId(at: $0) }
    }
}

/// What an evaluation needs from PostgreSQL, loaded before the index is read.
struct AudiencePlan: Sendable {
    /// Every segment referred to (transitively) or asked for, by id; the rules of the dynamic ones.
    var segments: [String: SegmentDefinition] = [:]
    var rules: [String: Rule] = [:]
    /// Named lists → version (a list missing here selects nobody).
    var lists: [String: Int64] = [:]
    var globalLists: [String: Int64] = [:]
    /// The index generation the plan was made for, and per stored member set (`list:…`, `segment:…`)
    /// either its cached bitmap or its stored ids.
    var generation = 0
    var cached: [String: Bitmap] = [:]
    var stored: [String: [String]] = [:]
}

/// Builds an `AudiencePlan`: a depth-first walk over segment references (a reference to a segment on
/// the current path is a cycle), then one query for list versions and the stored members not cached.
private struct AudiencePlanner {
    let audiences: Audiences
    var plan = AudiencePlan()
    var listIds: Set<String> = []

    init(audiences: Audiences) { self.audiences = audiences }

    mutating func visit(_ rule: Rule, stack: [String]) throws {
        let inputs = rule.inputs
        listIds.formUnion(inputs.lists)
        let ids = inputs.segments.sorted()
        if let loop = ids.first(where: stack.contains), let at = stack.firstIndex(of: loop) {
            throw APIError.unprocessable("segments \((stack[at...] + [loop]).joined(separator: " → ")) refer to each other: a cycle",
                                         code: "segment_cycle", details: .object(["field": .string(loop)]))
        }
        let unknown = ids.filter { plan.segments[$0] == nil }
        for definition in try audiences.segments.definitions(unknown).values.sorted(by: { $0.id < $1.id }) {
            try visit(definition, stack: stack)
        }
    }

    mutating func visit(_ segment: SegmentDefinition, stack: [String]) throws {
        guard plan.segments[segment.id] == nil else { return }
        guard stack.count < Audiences.maximumReferenceDepth else {
            throw APIError.unprocessable("segments refer to each other more than \(Audiences.maximumReferenceDepth) levels deep",
                                         code: "segment_too_deep", details: .object(["field": .string(segment.id)]))
        }
        plan.segments[segment.id] = segment
        if segment.kind == .dynamic {
            let rule = try segment.parsedRule()
            plan.rules[segment.id] = rule
            try visit(rule, stack: stack + [segment.id])
        }
    }

    mutating func finish() throws -> AudiencePlan {
        let versions = try audiences.lists.versions(of: listIds.sorted())
        plan.lists = versions.named
        plan.globalLists = versions.global
        let shape = audiences.live.shape
        plan.generation = shape.generation
        let audiences = self.audiences
        func take(_ key: String, version: Int64, load: () throws -> [String]) throws {
            if let bitmap = audiences.cache.bitmap(key, version: version, generation: shape.generation, slotCount: shape.slotCount) {
                plan.cached[key] = bitmap
            } else {
                plan.stored[key] = try load()
            }
        }
        for (id, version) in versions.named.merging(versions.global, uniquingKeysWith: { a, _ in a }) {
            try take("list:" + id, version: version) { try audiences.lists.members(of: id) }
        }
        for segment in plan.segments.values where segment.kind == .snapshot {
            try take("segment:" + segment.id, version: segment.version) { try audiences.segments.frozenMembers(of: segment.id) }
        }
        return plan
    }
}

/// One evaluation on one index copy: the rules of a plan become bitmaps. No I/O.
struct Evaluation {
    let audiences: Audiences
    let plan: AudiencePlan
    /// The index read (for customer ids, distributions, further selections).
    let state: IndexState
    let now: Date
    private var memberships = SegmentEvaluator.Memberships()
    private var resolved: Set<String> = []
    private(set) var blacklist = Bitmap()

    init(audiences: Audiences, plan: AudiencePlan, state: IndexState, now: Date) throws {
        guard plan.generation == state.generation else {
            // The index was reloaded from a new snapshot between planning and now (rare): slots differ.
            throw APIError.unavailable("the customer index was just reloaded; retry", code: "index_reloaded")
        }
        self.audiences = audiences
        self.plan = plan
        self.state = state
        self.now = now
        for (id, version) in plan.globalLists.sorted(by: { $0.key < $1.key }) {
            blacklist = blacklist.union(stored("list:" + id, version: version))
        }
    }

    /// The customers of the subtree of `orgPath` satisfying `rule`, without the global black list.
    mutating func select(_ rule: Rule, orgPath: String) throws -> Bitmap {
        try resolve(rule)
        let evaluator = SegmentEvaluator(index: state.index, evaluator: audiences.evaluator, memberships: memberships)
        return evaluator.select(rule, orgPath: orgPath, now: now).subtracting(blacklist)
    }

    /// A planned segment's members now: a dynamic one's by its rule within its owner's subtree, a
    /// snapshot's frozen ones that still exist there; without the global black list either way.
    mutating func members(of segment: SegmentDefinition) throws -> Bitmap {
        switch segment.kind {
        case .dynamic:
            guard let rule = plan.rules[segment.id] else { throw APIError.internalError("segment \(segment.id) was not planned") }
            return try select(rule, orgPath: segment.orgPath)
        case .snapshot:
            let frozen = stored("segment:" + segment.id, version: segment.version)
            // Customers removed since, or moved out of the owner's subtree, are no longer members.
            return frozen.intersection(state.index.scope(segment.orgPath)).subtracting(blacklist)
        }
    }

    func customerIds(_ bitmap: Bitmap, limit: Int = .max) -> [String] { Audiences.customerIds(bitmap, in: state, limit: limit) }

    /// Fills `memberships` with the lists and segments `rule` names (planned already).
    private mutating func resolve(_ rule: Rule) throws {
        let inputs = rule.inputs
        for id in inputs.lists where memberships.lists[id] == nil {
            memberships.lists[id] = plan.lists[id].map { stored("list:" + id, version: $0) } ?? Bitmap()
        }
        for id in inputs.segments.sorted() where !resolved.contains(id) {
            resolved.insert(id)
            // A segment missing from the plan no longer exists: it selects nobody.
            memberships.segments[id] = try plan.segments[id].map { try members(of: $0) } ?? Bitmap()
        }
    }

    /// A stored member set's bitmap: cached when planned, or built now from the ids the plan loaded.
    private func stored(_ key: String, version: Int64) -> Bitmap {
        if let bitmap = plan.cached[key] { return bitmap }
        return audiences.cache.build(key, version: version, ids: plan.stored[key] ?? [], in: state)
    }
}
