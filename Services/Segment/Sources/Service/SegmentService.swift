import Contracts
import Foundation
import HTTP
import ServiceKit

/// The segment operations behind the routes: estimates, segments and their members, overlaps.
/// Every answer is scoped to the caller's org subtree: a caller sees only its subtree's segments, and
/// a rule selects only its subtree's customers.
public struct SegmentService: Sendable {
    let audiences: Audiences
    let store: SegmentStore

    static let sampleSize = 10
    /// Member exports at once, per replica.
    let exports = ExportSlots(limit: 2)

    /// `{rule}` → count, a sample and the time taken.
    func estimate(body: [String: JSONValue], caller: CallerIdentity, context: RequestContext) throws -> Estimate {
        let started = MonotonicClock.nanoseconds()
        if let unknown = body.keys.sorted().first(where: { $0 != "rule" }) {
            throw APIError.badRequest("unknown member \(unknown.prefix(64))", field: String(unknown.prefix(64)))
        }
        guard let json = body["rule"] else { throw APIError.badRequest("rule is required (a rule-language condition)", field: "rule") }
        let rule = try RuleFault.parse(json, base: "$.rule")
        try audiences.check(rule, base: "$.rule", caller: caller, context: context)
        let plan = try audiences.plan(rules: [rule])
        let (count, sample) = try audiences.evaluate(plan) { evaluation in
            let selected = try evaluation.select(rule, orgPath: caller.orgPath)
            return (selected.count, evaluation.customerIds(selected, limit: Self.sampleSize))
        }
        return Estimate(count: count, sample: sample, tookMs: Double((MonotonicClock.nanoseconds() - started) / 1_000) / 1_000)
    }

    /// Creates a segment owned by the caller's unit; a snapshot freezes its members now.
    func create(body: [String: JSONValue], caller: CallerIdentity, context: RequestContext) throws -> SegmentWithCount {
        let input = try SegmentInput.create(body)
        guard let rule = input.rule, let ruleJSON = input.ruleJSON, let name = input.name else {
            throw APIError.badRequest("name and rule are required", field: "$")
        }
        let kind = input.kind ?? .dynamic
        try audiences.check(rule, base: "$.rule", caller: caller, context: context)
        let id = SegmentStore.newId()
        // A new segment closes no cycle, but may nest references too deep.
        try audiences.checkNoCycle(rule, base: "$.rule", owner: id, lookup: store.definitions)
        let plan = try audiences.plan(rules: [rule])
        let (selected, generation) = try audiences.evaluate(plan) { evaluation in
            (try evaluation.select(rule, orgPath: caller.orgPath), evaluation.state.generation)
        }
        let count = selected.count
        let members = kind == .snapshot ? try allIds(selected, generation: generation) : nil
        let segment = try store.create(id: id, name: name, kind: kind, rule: ruleJSON, caller: caller,
                                       memberCount: count, members: members)
        return SegmentWithCount(segment: segment, count: count)
    }

    /// A visible segment with its live member count.
    func segment(id: String, caller: CallerIdentity) throws -> SegmentWithCount {
        let segment = try store.segment(id: id, caller: caller)
        return SegmentWithCount(segment: segment, count: try count(of: segment))
    }

    /// A segment's live member count.
    private func count(of segment: SegmentDefinition) throws -> Int {
        try audiences.evaluate(try audiences.plan(segments: [segment])) { try $0.members(of: segment).count }
    }

    /// Renames a segment or changes its rule (refusing a rule that would make segments refer to each
    /// other in a cycle). A snapshot keeps its frozen members until `:refresh`.
    func update(id: String, body: [String: JSONValue], caller: CallerIdentity, context: RequestContext) throws -> SegmentWithCount {
        let segment = try store.segment(id: id, caller: caller)
        let input = try SegmentInput.update(body)
        if let rule = input.rule { try audiences.check(rule, base: "$.rule", caller: caller, context: context) }
        let updated = try store.update(segment, name: input.name, rule: input.ruleJSON) { lookup in
            if let rule = input.rule { try audiences.checkNoCycle(rule, base: "$.rule", owner: segment.id, lookup: lookup) }
        }
        return SegmentWithCount(segment: updated, count: try count(of: updated))
    }

    /// Recomputes a segment: a dynamic one's recorded count, a snapshot's frozen members (by its rule, now).
    func refresh(id: String, caller: CallerIdentity) throws -> SegmentWithCount {
        let segment = try store.segment(id: id, caller: caller)
        let rule = try segment.parsedRule()
        let (selected, generation) = try audiences.evaluate(try audiences.plan(rules: [rule])) { evaluation in
            (try evaluation.select(rule, orgPath: segment.orgPath), evaluation.state.generation)
        }
        let count = selected.count
        let members = segment.kind == .snapshot ? try allIds(selected, generation: generation) : nil
        let refreshed = try store.refresh(segment, memberCount: count, members: members)
        return SegmentWithCount(segment: refreshed, count: count)
    }

    /// `{ids: [a, b]}` → each one's size, and how many are in both and in either.
    func overlap(body: [String: JSONValue], caller: CallerIdentity) throws -> Overlap {
        if let unknown = body.keys.sorted().first(where: { $0 != "ids" }) {
            throw APIError.badRequest("unknown member \(unknown.prefix(64))", field: String(unknown.prefix(64)))
        }
        guard case .array(let items)? = body["ids"], items.count == 2 else {
            throw APIError.badRequest("ids must be an array of two segment ids", field: "ids")
        }
        var ids: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let id) = item, !id.isEmpty else {
                throw APIError.badRequest("ids[\(i)] must be a segment id", field: "ids[\(i)]")
            }
            ids.append(id)
        }
        var segments: [SegmentDefinition] = []
        for (i, id) in ids.enumerated() {
            do {
                segments.append(try store.segment(id: id, caller: caller))
            } catch let error as APIError where error.status == 404 {
                throw APIError.unprocessable("no such segment \(id.prefix(64))", code: "segment_not_found",
                                             details: .object(["field": .string("ids[\(i)]")]))
            }
        }
        return try audiences.evaluate(try audiences.plan(segments: segments)) { evaluation in
            let sets = try segments.map { try evaluation.members(of: $0) }
            return Overlap(segments: zip(ids, sets).map { Overlap.Side(id: $0, count: $1.count) },
                           both: sets[0].intersection(sets[1]).count, either: sets[0].union(sets[1]).count)
        }
    }

    /// A page of a segment's members now, in customer-id order.
    func members(id: String, caller: CallerIdentity, page: PageRequest) throws -> Page<SegmentMember> {
        let segment = try store.segment(id: id, caller: caller)
        let (members, generation) = try audiences.evaluate(try audiences.plan(segments: [segment])) { evaluation in
            (try evaluation.members(of: segment), evaluation.state.generation)
        }
        var smallest = MemberOrder.Smallest(page.limit + 1, after: page.after)
        try audiences.live.forEachIdChunk(of: members, generation: generation) { smallest.consider($0) }
        return PageRequest.page(smallest.ids.map(SegmentMember.init(customerId:)), limit: page.limit, key: \.customerId)
    }

    /// Every member of a segment now, sorted by customer id (for exports; `exports` bounds how many at once).
    func sortedMembers(id: String, caller: CallerIdentity) throws -> [String] {
        let segment = try store.segment(id: id, caller: caller)
        let (members, generation) = try audiences.evaluate(try audiences.plan(segments: [segment])) { evaluation in
            (try evaluation.members(of: segment), evaluation.state.generation)
        }
        return try allIds(members, generation: generation).sorted()
    }

    /// Every id of `members`, read from the index a chunk at a time (see `LiveIndex.forEachIdChunk`).
    private func allIds(_ members: Bitmap, generation: Int) throws -> [String] {
        var ids: [String] = []
        ids.reserveCapacity(members.count)
        try audiences.live.forEachIdChunk(of: members, generation: generation) { ids += $0 }
        return ids
    }
}
