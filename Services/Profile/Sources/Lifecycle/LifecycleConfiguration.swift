import Contracts
import Foundation
import Postgres

/// The lifecycle stages in priority order: a customer is in the first stage whose rule holds. The last
/// stage may have no rule: it then takes every customer no earlier stage took (the default makes
/// `growing` that fallback). Stored in `lifecycle_stages`; the defaults for a retail bank are in
/// migration 040:
///
/// 1. `new` — registered within 30 days;
/// 2. `churned` — no `app_login` within 180 days and AUM below 10,000 (or unknown);
/// 3. `dormant` — no `app_login` within 90 days;
/// 4. `mature` — AUM of at least 500,000;
/// 5. `growing` — everyone else.
///
/// Event windows are counted by local days (see `AggregateFacts`).
public struct LifecycleConfiguration: Sendable {
    public struct Stage: Sendable {
        public var stage: LifecycleStage
        /// The rule document; nil for the fallback (last position only).
        public var rule: JSONValue?
        /// `rule` parsed; nil for the fallback, or when a stored rule no longer parses (never matches then).
        var parsedRule: Rule?
    }

    public var stages: [Stage]
    public var updatedBy: String
    public var updatedAt: Date?

    /// Reads the stages; an empty table (never the case after migration 040) gives no stages.
    static func load(on conn: PostgresConnection) throws -> LifecycleConfiguration {
        var stages: [Stage] = []
        var updatedBy = "system"
        var updatedAt: Date?
        for row in try conn.query("SELECT stage, rule::text AS rule, updated_by, updated_at FROM lifecycle_stages ORDER BY position") {
            guard let stage = LifecycleStage(rawValue: try row.decode("stage")) else { continue }
            var json: JSONValue?
            var parsed: Rule?
            if let text = try row.decode("rule", as: String?.self) {
                json = try JSONCoding.decoder().decode(JSONValue.self, from: Data(text.utf8))
                parsed = json.flatMap { try? Rule(json: $0) }
            }
            stages.append(Stage(stage: stage, rule: json, parsedRule: parsed))
            updatedBy = try row.decode("updated_by")
            updatedAt = try row.decode("updated_at")
        }
        return LifecycleConfiguration(stages: stages, updatedBy: updatedBy, updatedAt: updatedAt)
    }

    /// The stage of the customer described by `facts` at `now`, or nil when no stage holds.
    func stage(for facts: some CustomerFacts, evaluator: RuleEvaluator, now: Date) -> LifecycleStage? {
        for stage in stages {
            guard let rule = stage.parsedRule else {
                if stage.rule == nil { return stage.stage }   // the fallback
                continue
            }
            if evaluator.evaluate(rule, for: facts, now: now) { return stage.stage }
        }
        return nil
    }

    /// Every tag the stage rules read.
    var tagInputs: Set<String> {
        stages.reduce(into: Set<String>()) { $0.formUnion($1.parsedRule?.inputs.tags ?? []) }
    }

    /// Whether a stage rule has a time window (the sweep re-evaluates it as time passes).
    var hasTimeWindows: Bool {
        stages.contains { $0.parsedRule?.inputs.hasTimeWindows ?? false }
    }

    /// The `rule` kept on the `lifecycle` tag definition: any stage with a rule (informational).
    var summaryRule: JSONValue {
        let rules = stages.compactMap(\.rule)
        return rules.count == 1 ? rules[0] : .object(["any": .array(rules)])
    }

    /// The API document: `{"stages": [{stage, label: {zh, en}, rule}], updatedBy, updatedAt}`.
    var document: JSONValue {
        var object: [String: JSONValue] = [
            "stages": .array(stages.map { stage in
                .object(["stage": .string(stage.stage.rawValue),
                         "label": .object(["zh": .string(stage.stage.label.zh), "en": .string(stage.stage.label.en)]),
                         "rule": stage.rule ?? .null])
            }),
            "updatedBy": .string(updatedBy),
        ]
        object["updatedAt"] = updatedAt.map { .string(JSONCoding.formatDate($0)) } ?? .null
        return .object(object)
    }

    /// Parses a `PUT /api/v1/lifecycle` body `{"stages": [{"stage": "new", "rule": cond|null}, ...]}`: every
    /// stage exactly once, in priority order, only the last without a rule. Rules are checked with
    /// `check` (the tag-rule checks, `$.stages[i].rule…` paths).
    static func parse(_ body: [String: JSONValue], check: TagRuleCheck) throws -> [Stage] {
        if let unknown = body.keys.sorted().first(where: { $0 != "stages" }) {
            throw APIError.badRequest("unknown member \(unknown.prefix(64))", field: String(unknown.prefix(64)))
        }
        guard case .array(let items)? = body["stages"] else {
            throw APIError.badRequest("stages must be an array of {stage, rule}", field: "stages")
        }
        guard items.count == LifecycleStage.allCases.count else {
            throw APIError.unprocessable("stages must list each of new, growing, mature, dormant, churned once",
                                         code: "lifecycle_invalid", details: .object(["field": "stages"]))
        }
        var seen = Set<LifecycleStage>()
        var stages: [Stage] = []
        for (i, item) in items.enumerated() {
            let field = "stages[\(i)]"
            guard case .object(let object) = item else { throw APIError.badRequest("\(field) must be {stage, rule}", field: field) }
            if let unknown = object.keys.sorted().first(where: { $0 != "stage" && $0 != "rule" }) {
                throw APIError.badRequest("unknown member \(unknown.prefix(64)) in \(field)", field: field)
            }
            guard case .string(let name)? = object["stage"], let stage = LifecycleStage(rawValue: name) else {
                throw APIError.badRequest("\(field).stage must be one of new, growing, mature, dormant, churned", field: "\(field).stage")
            }
            guard seen.insert(stage).inserted else {
                throw APIError.unprocessable("\(field).stage repeats \(name)", code: "lifecycle_invalid",
                                             details: .object(["field": .string("\(field).stage")]))
            }
            switch object["rule"] {
            case nil, .null?:
                guard i == items.count - 1 else {
                    throw APIError.unprocessable("only the last stage may have no rule (it takes everyone else)",
                                                 code: "lifecycle_invalid", details: .object(["field": .string("\(field).rule")]))
                }
                stages.append(Stage(stage: stage, rule: nil, parsedRule: nil))
            case let json?:
                do throws(RuleError) {
                    let rule = try Rule(json: json, base: "$.\(field).rule")
                    try check.check(rule, base: "$.\(field).rule")
                    stages.append(Stage(stage: stage, rule: rule.json, parsedRule: rule))
                } catch {
                    throw error.apiError
                }
            }
        }
        return stages
    }

    /// Replaces the stages (in the caller's transaction) and asks the sweep to re-evaluate everyone.
    static func save(_ stages: [Stage], by userId: String, on conn: PostgresConnection) throws {
        try conn.execute("DELETE FROM lifecycle_stages")
        let encoder = JSONCoding.encoder()
        for (position, stage) in stages.enumerated() {
            let rule = try stage.rule.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
            try conn.execute("INSERT INTO lifecycle_stages (position, stage, rule, updated_by) VALUES ($1, $2, $3::jsonb, $4)",
                             position, stage.stage.rawValue, rule, userId)
        }
        let summary = LifecycleConfiguration(stages: stages, updatedBy: userId, updatedAt: nil).summaryRule
        try conn.execute("""
            UPDATE tag_definitions SET rule = $1::jsonb, updated_at = now(), version = version + 1 WHERE code = $2
            """, String(decoding: try encoder.encode(summary), as: UTF8.self), TagDefinition.lifecycleCode)
        try RuleTagSweep.requestFull(on: conn)
    }
}
