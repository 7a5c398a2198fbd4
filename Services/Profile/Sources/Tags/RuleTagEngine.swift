import Contracts
import Foundation
import Postgres

/// Decides the rule tags (and the lifecycle stage) of given customers and writes `customer_tags` where
/// the result changed — nothing else. That is what stops the feed loop: a tag write enters
/// `customer_changes`, the worker evaluates that customer again, finds nothing to change, and writes
/// nothing.
///
/// A rule tag applies to the customers of its owning unit's subtree only (a branch's rule tag never
/// tags another branch's customers; head office's and the built-in `lifecycle` reach everyone). Tags
/// are evaluated in dependency order (a tag read by another rule first), on a copy of the customer's
/// document updated as values are decided, so a chain of rule tags settles in one pass.
///
/// Thread-safety: immutable; the connection passed in belongs to the calling thread.
struct RuleTagEngine: Sendable {
    let evaluator: RuleEvaluator
    let lifecycle: LifecyclePublisher

    /// One rule tag as the engine runs it.
    struct CompiledTag: Sendable {
        var code: String
        var orgPath: String
        /// nil for `lifecycle` (decided by its stages).
        var rule: Rule?
        var reads: Set<String>
        var hasTimeWindows: Bool
    }

    /// What one evaluation wrote.
    struct Outcome: Sendable, Equatable {
        var evaluated = 0
        var assigned = 0
        var removed = 0
        var lifecycleChanges: [LifecycleChange] = []
    }

    /// The rule tags in dependency order, and the lifecycle stages.
    func compile(on conn: PostgresConnection) throws -> (tags: [CompiledTag], stages: LifecycleConfiguration) {
        let stages = try LifecycleConfiguration.load(on: conn)
        var tags: [String: CompiledTag] = [:]
        let decoder = JSONCoding.decoder()
        for row in try conn.query("SELECT code, org_path, rule::text AS rule FROM tag_definitions WHERE kind = 'rule' ORDER BY code") {
            let code: String = try row.decode("code")
            let orgPath: String = try row.decode("org_path")
            if code == TagDefinition.lifecycleCode {
                tags[code] = CompiledTag(code: code, orgPath: orgPath, rule: nil, reads: stages.tagInputs,
                                         hasTimeWindows: stages.hasTimeWindows)
                continue
            }
            // A stored rule was validated when saved; one that no longer parses (a stricter language) is skipped.
            guard let text = try row.decode("rule", as: String?.self),
                  let json = try? decoder.decode(JSONValue.self, from: Data(text.utf8)),
                  let rule = try? Rule(json: json) else { continue }
            let inputs = rule.inputs
            tags[code] = CompiledTag(code: code, orgPath: orgPath, rule: rule, reads: inputs.tags, hasTimeWindows: inputs.hasTimeWindows)
        }
        return (Self.ordered(tags), stages)
    }

    /// Dependencies first (depth-first); a cycle (refused when rules are saved) is broken at the code
    /// order, never looped on.
    static func ordered(_ tags: [String: CompiledTag]) -> [CompiledTag] {
        var out: [CompiledTag] = []
        var state: [String: Bool] = [:]   // false: in progress, true: done
        func visit(_ code: String) {
            guard state[code] == nil, let tag = tags[code] else { return }
            state[code] = false
            for dependency in tag.reads.sorted() { visit(dependency) }
            state[code] = true
            out.append(tag)
        }
        for code in tags.keys.sorted() { visit(code) }
        return out
    }

    /// The tags to evaluate when time alone moves: those with windows and every rule tag reading one of
    /// them (transitively).
    static func timeDependent(_ tags: [CompiledTag]) -> [CompiledTag] {
        var moving = Set(tags.filter(\.hasTimeWindows).map(\.code))
        // `tags` is in dependency order: one pass reaches every dependent.
        for tag in tags where !tag.reads.isDisjoint(with: moving) { moving.insert(tag.code) }
        return tags.filter { moving.contains($0.code) }
    }

    /// Evaluates `tags` for the customers `ids` at `now` and writes what changed, in the transaction
    /// open on `conn`.
    func evaluate(_ ids: [String], tags: [CompiledTag], stages: LifecycleConfiguration, now: Date,
                  on conn: PostgresConnection) throws -> Outcome {
        var outcome = Outcome()
        guard !ids.isEmpty, !tags.isEmpty else { return outcome }
        var upserts: (ids: [String], codes: [String], values: [String]) = ([], [], [])
        var deletes: (ids: [String], codes: [String]) = ([], [])
        for document in try CustomerFactsDocument.load(ids, on: conn) where document.exists {
            outcome.evaluated += 1
            var facts = AggregateFacts(document: document, timeZone: evaluator.timeZone)
            let orgPath = document.orgPath ?? ""
            for tag in tags where orgPath.hasPrefix(tag.orgPath) {
                let value: String?
                if let rule = tag.rule {
                    value = evaluator.evaluate(rule, for: facts, now: now) ? "" : nil
                } else {
                    value = stages.stage(for: facts, evaluator: evaluator, now: now)?.rawValue
                }
                let current = facts.document.tags[tag.code]
                guard value != current else { continue }
                facts.document.tags[tag.code] = value
                if let value {
                    upserts.ids.append(document.customerId); upserts.codes.append(tag.code); upserts.values.append(value)
                    outcome.assigned += 1
                } else {
                    deletes.ids.append(document.customerId); deletes.codes.append(tag.code)
                    outcome.removed += 1
                }
                if tag.code == TagDefinition.lifecycleCode {
                    outcome.lifecycleChanges.append(LifecycleChange(
                        customerId: document.customerId, orgPath: orgPath, from: current.flatMap(LifecycleStage.init(rawValue:)),
                        to: value.flatMap(LifecycleStage.init(rawValue:)), changedAt: now))
                }
            }
        }
        if !upserts.ids.isEmpty {
            // The tag may have been deleted meanwhile: join the definitions so such rows are skipped, not a failure.
            try conn.execute("""
                INSERT INTO customer_tags AS t (customer_id, tag_code, value, source, set_at)
                SELECT i.customer_id, i.tag_code, i.value, 'rule', now()
                  FROM unnest($1::text[], $2::text[], $3::text[]) AS i(customer_id, tag_code, value)
                  JOIN tag_definitions d ON d.code = i.tag_code
                 ORDER BY 1, 2
                ON CONFLICT (customer_id, tag_code) DO UPDATE SET value = EXCLUDED.value, score = NULL, source = 'rule', set_at = now()
                 WHERE t.value IS DISTINCT FROM EXCLUDED.value
                """, upserts.ids, upserts.codes, upserts.values)
        }
        if !deletes.ids.isEmpty {
            try conn.execute("""
                DELETE FROM customer_tags t USING unnest($1::text[], $2::text[]) AS i(customer_id, tag_code)
                 WHERE t.customer_id = i.customer_id AND t.tag_code = i.tag_code
                """, deletes.ids, deletes.codes)
        }
        try lifecycle.publish(outcome.lifecycleChanges, on: conn)
        return outcome
    }
}
