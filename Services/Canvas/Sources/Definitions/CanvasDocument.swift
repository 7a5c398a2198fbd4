import Contracts
import Foundation

/// A canvas document (DESIGN.md §3 "Canvases"), parsed and validated: how customers enter, the node
/// graph they move through, the goal, the control group, re-entry and the schedule window.
///
/// Shape faults are 400 naming the field; graph faults (unknown node type, dangling or missing edge,
/// unreachable node, a cycle without a wait, A/B weights not summing to 100) are 422 `canvas_invalid`
/// with `details.nodeId` and `details.field`. References to other services (segments, templates,
/// rewards) are checked by `ReferenceCheck`.
public struct CanvasDocument: Sendable {
    public var name: String
    public var entry: Entry
    public var audience: Rule?
    public var start: String
    public var nodes: [Node]
    public var goal: Goal?
    public var controlGroupPercent: Int
    public var reentry: Reentry
    public var window: Window
    public var maxEntries: Int?
    /// The document as written (what is stored and shown).
    public var json: JSONValue

    public enum Entry: Sendable {
        case event(name: String, condition: Rule?)
        /// Breakpoint recall: `name` not followed by `then` within `within`.
        case recall(name: String, condition: Rule?, then: String, within: RuleDuration)
        /// A segment at a time (`at`, or when the canvas starts), or every `every` until `until`.
        case segment(id: String, at: Date?, every: RuleDuration?, until: Date?)
        case segmentEnter(id: String)
        /// A lifecycle stage change, optionally only into stage `to`.
        case lifecycleChanged(to: String?)

        var segmentId: String? {
            switch self {
            case .segment(let id, _, _, _), .segmentEnter(let id): return id
            default: return nil
            }
        }
    }

    public enum Reentry: Sendable, Equatable {
        case never, always
        case after(RuleDuration)

        var text: String {
            switch self {
            case .never: return "never"
            case .always: return "always"
            case .after(let d): return "after:\(d)"
            }
        }
    }

    public struct Goal: Sendable {
        public var event: String
        public var within: RuleDuration
        public var exitOnGoal: Bool
        /// The goal event's property holding the converted amount (a deposit's `amount`), carried on
        /// `canvas.journey_converted` for the rewards ROI of analytics; nil: conversions carry no amount.
        public var amountProperty: String?
    }

    public struct Window: Sendable {
        public var startAt: Date?
        public var endAt: Date?
        func contains(_ t: Date) -> Bool { (startAt.map { t >= $0 } ?? true) && (endAt.map { t < $0 } ?? true) }
    }

    public struct Branch: Sendable {
        public var name: String
        public var weight: Int
        public var next: String?
    }

    public enum Kind: Sendable {
        case send(channel: String, templateId: String, fallback: String?, fallbackTemplateId: String?, next: String?)
        case wait(duration: RuleDuration?, untilMinuteOfDay: Int?, next: String?)
        case waitEvent(event: String, timeout: RuleDuration, onEvent: String?, onTimeout: String?)
        case split(condition: Rule, yes: String?, no: String?)
        case ab(branches: [Branch])
        case reward(rewardId: String, next: String?)
        case tag(code: String, value: String?, remove: Bool, next: String?)
        case task(text: String, next: String?)
        case webhook(url: String, next: String?)
        case exit
    }

    public struct Node: Sendable {
        public var id: String
        public var kind: Kind
        /// Where the node sits in the document (`$.nodes[3]`), for error fields.
        public var field: String

        public var type: String {
            switch kind {
            case .send: return "send"
            case .wait: return "wait"
            case .waitEvent: return "waitEvent"
            case .split: return "split"
            case .ab: return "ab"
            case .reward: return "reward"
            case .tag: return "tag"
            case .task: return "task"
            case .webhook: return "webhook"
            case .exit: return "exit"
            }
        }

        /// The outgoing edges with the member that holds each.
        var edges: [(member: String, target: String?)] {
            switch kind {
            case .send(_, _, _, _, let n), .wait(_, _, let n), .reward(_, let n), .tag(_, _, _, let n), .task(_, let n), .webhook(_, let n):
                return [("next", n)]
            case .waitEvent(_, _, let e, let t): return [("onEvent", e), ("onTimeout", t)]
            case .split(_, let y, let n): return [("yes", y), ("no", n)]
            case .ab(let branches): return branches.enumerated().map { ("branches[\($0.offset)].next", $0.element.next) }
            case .exit: return []
            }
        }

        /// A wait breaks a cycle: a journey looping through it advances in time, not in a hot loop.
        var waits: Bool {
            switch kind {
            case .wait, .waitEvent: return true
            default: return false
            }
        }
    }

    public static let channels: Set<String> = ["sms", "push", "inbox", "wechat", "wecom", "call", "email"]
    static let maxNodes = 200
    static let topKeys: Set<String> = ["name", "orgId", "entry", "audience", "start", "nodes", "goal", "controlGroupPercent",
                                       "reentry", "schedule", "maxEntries", "isTemplate"]

    public func node(_ id: String) -> Node? { nodes.first { $0.id == id } }

    /// Parses and validates `json` (an object; `orgId` and `isTemplate` are canvas properties read by
    /// the caller and ignored here).
    public init(json: JSONValue) throws {
        guard case .object(let o) = json else { throw APIError.badRequest("the canvas must be a JSON object", field: "$") }
        if let unknown = o.keys.sorted().first(where: { !Self.topKeys.contains($0) }) {
            throw APIError.badRequest("unknown member \(unknown.prefix(64))", field: String(unknown.prefix(64)))
        }
        var doc = o
        doc.removeValue(forKey: "orgId")
        doc.removeValue(forKey: "isTemplate")
        self.json = .object(doc)
        let f = Fields(o, path: "")
        name = try f.string("name", length: 1...100)
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty, !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw APIError.badRequest("name must be 1 to 100 characters without control characters", field: "name")
        }
        entry = try Self.entry(try f.object("entry"))
        audience = try o["audience"].map { try Self.rule($0, at: "$.audience", allowEvents: true) }
        start = try f.string("start", length: 1...64)
        guard case .array(let list)? = o["nodes"], !list.isEmpty, list.count <= Self.maxNodes else {
            throw APIError.badRequest("nodes must be an array of 1 to \(Self.maxNodes) nodes", field: "nodes")
        }
        nodes = try list.enumerated().map { try Self.node($0.element, field: "$.nodes[\($0.offset)]") }
        if let g = try f.optionalObject("goal") {
            let gf = Fields(g, path: "goal.", allowed: ["event", "within", "exitOnGoal", "amountProperty"])
            try gf.checkKeys()
            goal = Goal(event: try gf.string("event", length: 1...100), within: try gf.duration("within"),
                        exitOnGoal: try gf.optionalBool("exitOnGoal") ?? false, amountProperty: try Self.amountProperty(g["amountProperty"]))
        }
        controlGroupPercent = try f.optionalInt("controlGroupPercent", in: 0...90) ?? 0
        switch try f.optionalString("reentry", length: 1...20) ?? "never" {
        case "never": reentry = .never
        case "always": reentry = .always
        case let text where text.hasPrefix("after:"):
            guard let d = try? RuleDuration(parsing: String(text.dropFirst(6))) else {
                throw APIError.badRequest("reentry must be never, always or after:<duration> like after:30d", field: "reentry")
            }
            reentry = .after(d)
        default: throw APIError.badRequest("reentry must be never, always or after:<duration> like after:30d", field: "reentry")
        }
        window = Window()
        if let s = try f.optionalObject("schedule") {
            let sf = Fields(s, path: "schedule.", allowed: ["startAt", "endAt"])
            try sf.checkKeys()
            window = Window(startAt: try sf.optionalDate("startAt"), endAt: try sf.optionalDate("endAt"))
            if let a = window.startAt, let b = window.endAt, b <= a {
                throw APIError.badRequest("schedule.endAt must be after schedule.startAt", field: "schedule.endAt")
            }
        }
        maxEntries = try f.optionalInt("maxEntries", in: 1...100_000_000)
        try validateGraph()
    }

    /// `goal.amountProperty`: absent or null, or an event property name as the profile service accepts
    /// them (a letter, then up to 63 letters, digits or `_`), since only such a name can ever be on the
    /// goal event; anything else is 422 naming the field.
    static func amountProperty(_ value: JSONValue?) throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let name)? where isPropertyName(name): return name
        default:
            throw invalid("goal.amountProperty must name a property of the goal event (a letter, then up to 63 letters, digits or _)",
                          node: nil, field: "goal.amountProperty")
        }
    }

    /// The profile's rule for event property names (`EventType.isPropertyName`).
    static func isPropertyName(_ name: String) -> Bool {
        let bytes = name.utf8
        func letter(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 65 && b <= 90) }
        guard let first = bytes.first, bytes.count <= 64, letter(first) else { return false }
        return bytes.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    // MARK: the graph

    static func invalid(_ message: String, node: String?, field: String) -> APIError {
        var details: [String: JSONValue] = ["field": .string(field)]
        if let node { details["nodeId"] = .string(node) }
        return .unprocessable(message, code: "canvas_invalid", details: .object(details))
    }

    private func validateGraph() throws {
        var index: [String: Node] = [:]
        for n in nodes {
            guard index[n.id] == nil else { throw Self.invalid("node id \(n.id) is used twice", node: n.id, field: n.field + ".id") }
            index[n.id] = n
        }
        guard index[start] != nil else { throw Self.invalid("start names no node: \(start)", node: start, field: "start") }
        for n in nodes {
            for e in n.edges {
                if let t = e.target, index[t] == nil {
                    throw Self.invalid("node \(n.id): \(e.member) points to no node (\(t.prefix(64)))", node: n.id, field: n.field + "." + e.member)
                }
            }
            if case .ab(let branches) = n.kind {
                let total = branches.reduce(0) { $0 + $1.weight }
                guard total == 100 else {
                    throw Self.invalid("node \(n.id): A/B weights sum to \(total), not 100", node: n.id, field: n.field + ".branches")
                }
            }
        }
        // Reachability from start.
        var seen: Set<String> = [start]
        var stack = [start]
        while let id = stack.popLast() {
            for e in index[id]!.edges { if let t = e.target, seen.insert(t).inserted { stack.append(t) } }
        }
        if let lost = nodes.first(where: { !seen.contains($0.id) }) {
            throw Self.invalid("node \(lost.id) cannot be reached from start", node: lost.id, field: lost.field)
        }
        // A cycle through nodes that do not wait: depth-first search on the graph without wait nodes.
        var color: [String: Int] = [:]   // 1: on the path, 2: done
        func visit(_ id: String) throws {
            color[id] = 1
            for e in index[id]!.edges {
                guard let t = e.target, let target = index[t], !target.waits else { continue }
                if color[t] == 1 { throw Self.invalid("node \(t) is on a cycle without a wait", node: t, field: target.field) }
                if color[t] == nil { try visit(t) }
            }
            color[id] = 2
        }
        for n in nodes where color[n.id] == nil && !n.waits { try visit(n.id) }
    }

    // MARK: parsing

    private static func entry(_ o: [String: JSONValue]) throws -> Entry {
        let f = Fields(o, path: "entry.")
        switch try f.string("type", length: 1...32) {
        case "event":
            try Fields(o, path: "entry.", allowed: ["type", "event", "where", "notFollowedBy"]).checkKeys()
            let name = try f.string("event", length: 1...100)
            let condition = try o["where"].map { try rule($0, at: "$.entry.where", allowEvents: false) }
            if let nf = try f.optionalObject("notFollowedBy") {
                let nff = Fields(nf, path: "entry.notFollowedBy.", allowed: ["event", "within"])
                try nff.checkKeys()
                return .recall(name: name, condition: condition, then: try nff.string("event", length: 1...100), within: try nff.duration("within"))
            }
            return .event(name: name, condition: condition)
        case "segment":
            try Fields(o, path: "entry.", allowed: ["type", "segmentId", "schedule"]).checkKeys()
            let id = try f.string("segmentId", length: 1...64)
            guard let s = try f.optionalObject("schedule") else { return .segment(id: id, at: nil, every: nil, until: nil) }
            let sf = Fields(s, path: "entry.schedule.", allowed: ["at", "every", "until"])
            try sf.checkKeys()
            let at = try sf.optionalDate("at")
            let every = try s["every"].map { _ in try sf.duration("every") }
            let until = try sf.optionalDate("until")
            if every == nil && until != nil {
                throw APIError.badRequest("entry.schedule.until goes with every", field: "entry.schedule.until")
            }
            if let every, every.seconds < 3600 {
                throw APIError.badRequest("entry.schedule.every must be at least 1h", field: "entry.schedule.every")
            }
            return .segment(id: id, at: at, every: every, until: until)
        case "segment_enter":
            try Fields(o, path: "entry.", allowed: ["type", "segmentId"]).checkKeys()
            return .segmentEnter(id: try f.string("segmentId", length: 1...64))
        case "lifecycle_changed":
            try Fields(o, path: "entry.", allowed: ["type", "to"]).checkKeys()
            return .lifecycleChanged(to: try f.optionalString("to", length: 1...64))
        default:
            throw APIError.badRequest("entry.type must be event, segment, segment_enter or lifecycle_changed", field: "entry.type")
        }
    }

    static func rule(_ json: JSONValue, at path: String, allowEvents: Bool) throws -> Rule {
        do throws(RuleError) {
            let rule = try Rule(json: json, base: path)
            return rule
        } catch {
            throw APIError.unprocessable("invalid rule at \(error.path): \(error.message)", code: "rule_invalid",
                                         details: .object(["path": .string(error.path), "field": .string(error.path)]))
        }
    }

    private static func node(_ json: JSONValue, field: String) throws -> Node {
        guard case .object(let o) = json else { throw APIError.badRequest("a node must be an object", field: field) }
        let f = Fields(o, path: field + ".")
        let id = try f.string("id", length: 1...64)
        guard id.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45 }) else {
            throw APIError.badRequest("node ids are letters, digits, _ and -", field: field + ".id")
        }
        guard case .string(let type)? = o["type"] else { throw invalid("node \(id) has no type", node: id, field: field + ".type") }
        func keys(_ allowed: Set<String>) throws {
            if let unknown = o.keys.sorted().first(where: { !allowed.union(["id", "type"]).contains($0) }) {
                throw invalid("node \(id): unknown member \(unknown.prefix(64)) for a \(type) node", node: id, field: field + "." + unknown.prefix(64))
            }
        }
        func edge(_ member: String) throws -> String? {
            switch o[member] {
            case .string(let s)?: return s
            case .null?: return nil
            case nil:
                // An edge is written out, `null` when the journey ends there: a forgotten one is a fault.
                throw invalid("node \(id): \(member) is missing (a node id, or null to end the journey)", node: id, field: field + "." + member)
            default: throw invalid("node \(id): \(member) must be a node id or null", node: id, field: field + "." + member)
            }
        }
        let kind: Kind
        switch type {
        case "send":
            try keys(["channel", "templateId", "fallback", "fallbackTemplateId", "next"])
            let channel = try f.string("channel", length: 1...16)
            guard channels.contains(channel) else { throw APIError.badRequest("unknown channel \(channel)", field: field + ".channel") }
            let fallback = try f.optionalString("fallback", length: 1...16)
            let fallbackTemplate = try f.optionalString("fallbackTemplateId", length: 1...64)
            if let fallback {
                guard channels.contains(fallback), fallback != channel else {
                    throw APIError.badRequest("fallback must be another channel", field: field + ".fallback")
                }
                guard fallbackTemplate != nil else {
                    throw APIError.badRequest("a fallback needs fallbackTemplateId (a template of the fallback channel)",
                                              field: field + ".fallbackTemplateId")
                }
            } else if fallbackTemplate != nil {
                throw APIError.badRequest("fallbackTemplateId goes with fallback", field: field + ".fallback")
            }
            kind = .send(channel: channel, templateId: try f.string("templateId", length: 1...64), fallback: fallback,
                         fallbackTemplateId: fallbackTemplate, next: try edge("next"))
        case "wait":
            try keys(["duration", "until", "next"])
            var minute: Int?
            if let text = try f.optionalString("until", length: 4...5) {
                let parts = text.split(separator: ":")
                guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0...23).contains(h), (0...59).contains(m) else {
                    throw APIError.badRequest("until is a time of day HH:MM", field: field + ".until")
                }
                minute = h * 60 + m
            }
            let duration = try o["duration"].map { _ in try f.duration("duration") }
            guard (duration == nil) != (minute == nil) else {
                throw invalid("node \(id): a wait has either duration or until", node: id, field: field + ".duration")
            }
            kind = .wait(duration: duration, untilMinuteOfDay: minute, next: try edge("next"))
        case "waitEvent":
            try keys(["event", "timeout", "onEvent", "onTimeout"])
            kind = .waitEvent(event: try f.string("event", length: 1...100), timeout: try f.duration("timeout"),
                              onEvent: try edge("onEvent"), onTimeout: try edge("onTimeout"))
        case "split":
            try keys(["condition", "yes", "no"])
            guard let c = o["condition"] else { throw invalid("node \(id): condition is missing", node: id, field: field + ".condition") }
            let rule = try rule(c, at: field + ".condition", allowEvents: true)
            if !rule.inputs.segments.isEmpty || !rule.inputs.lists.isEmpty {
                throw invalid("node \(id): a split decides on the customer's profile; segment and list conditions are not supported",
                              node: id, field: field + ".condition")
            }
            kind = .split(condition: rule, yes: try edge("yes"), no: try edge("no"))
        case "ab":
            try keys(["branches"])
            guard case .array(let list)? = o["branches"], (2...10).contains(list.count) else {
                throw invalid("node \(id): branches must be 2 to 10 branches", node: id, field: field + ".branches")
            }
            var names = Set<String>()
            kind = .ab(branches: try list.enumerated().map { i, b in
                guard case .object(let bo) = b else { throw APIError.badRequest("a branch is an object", field: field + ".branches[\(i)]") }
                let bf = Fields(bo, path: field + ".branches[\(i)].", allowed: ["name", "weight", "next"])
                try bf.checkKeys()
                let name = try bf.string("name", length: 1...32)
                guard name != "control", names.insert(name).inserted else {
                    throw invalid("node \(id): branch names are unique and not \"control\"", node: id, field: field + ".branches[\(i)].name")
                }
                let next: String?
                switch bo["next"] {
                case .string(let s)?: next = s
                case .null?: next = nil
                case nil: throw invalid("node \(id): branch \(name) has no next (a node id, or null)", node: id, field: field + ".branches[\(i)].next")
                default: throw invalid("node \(id): next must be a node id or null", node: id, field: field + ".branches[\(i)].next")
                }
                return Branch(name: name, weight: try bf.int("weight", in: 0...100), next: next)
            })
        case "reward":
            try keys(["rewardId", "next"])
            kind = .reward(rewardId: try f.string("rewardId", length: 1...64), next: try edge("next"))
        case "tag":
            try keys(["add", "remove", "value", "next"])
            let add = try f.optionalString("add", length: 1...64), remove = try f.optionalString("remove", length: 1...64)
            guard (add == nil) != (remove == nil) else { throw invalid("node \(id): a tag node has add or remove", node: id, field: field + ".add") }
            kind = .tag(code: add ?? remove!, value: try f.optionalString("value", length: 1...100), remove: remove != nil, next: try edge("next"))
        case "task":
            try keys(["assignee", "text", "next"])
            if let a = try f.optionalString("assignee", length: 1...32), a != "accountManager" {
                throw APIError.badRequest("assignee must be accountManager", field: field + ".assignee")
            }
            kind = .task(text: try f.string("text", length: 1...500), next: try edge("next"))
        case "webhook":
            try keys(["url", "next"])
            let url = try f.string("url", length: 8...2000)
            // Only the web: no file:, gopher: or other scheme libcurl might speak. Where the host points
            // is checked at call time (WebhookGuard), since DNS answers change after the save.
            guard let u = URL(string: url), ["http", "https"].contains(u.scheme?.lowercased() ?? ""), let host = u.host, !host.isEmpty else {
                throw invalid("node \(id): url must be an http or https URL with a host", node: id, field: field + ".url")
            }
            kind = .webhook(url: url, next: try edge("next"))
        case "exit":
            try keys([])
            kind = .exit
        default:
            throw invalid("node \(id): unknown node type \(type.prefix(32))", node: id, field: field + ".type")
        }
        return Node(id: id, kind: kind, field: field)
    }
}

/// Typed reads of a JSON object's members with 400s naming the field.
struct Fields {
    let o: [String: JSONValue]
    let path: String
    var allowed: Set<String>? = nil

    init(_ o: [String: JSONValue], path: String, allowed: Set<String>? = nil) {
        self.o = o
        self.path = path
        self.allowed = allowed
    }

    func checkKeys() throws {
        guard let allowed else { return }
        if let unknown = o.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError.badRequest("unknown member \(unknown.prefix(64))", field: path + unknown.prefix(64))
        }
    }

    func string(_ k: String, length: ClosedRange<Int>) throws -> String {
        guard let s = try optionalString(k, length: length) else { throw APIError.badRequest("\(path)\(k) is required", field: path + k) }
        return s
    }

    func optionalString(_ k: String, length: ClosedRange<Int>) throws -> String? {
        switch o[k] {
        case nil, .null?: return nil
        case .string(let s)? where length.contains(s.count): return s
        default: throw APIError.badRequest("\(path)\(k) must be a string of \(length.lowerBound) to \(length.upperBound) characters", field: path + k)
        }
    }

    func int(_ k: String, in range: ClosedRange<Int>) throws -> Int {
        guard let v = try optionalInt(k, in: range) else { throw APIError.badRequest("\(path)\(k) is required", field: path + k) }
        return v
    }

    func optionalInt(_ k: String, in range: ClosedRange<Int>) throws -> Int? {
        switch o[k] {
        case nil, .null?: return nil
        case .number(let n)? where n.rounded() == n && n >= Double(range.lowerBound) && n <= Double(range.upperBound): return Int(n)
        default: throw APIError.badRequest("\(path)\(k) must be an integer in \(range.lowerBound)…\(range.upperBound)", field: path + k)
        }
    }

    func optionalBool(_ k: String) throws -> Bool? {
        switch o[k] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw APIError.badRequest("\(path)\(k) must be true or false", field: path + k)
        }
    }

    func object(_ k: String) throws -> [String: JSONValue] {
        guard let v = try optionalObject(k) else { throw APIError.badRequest("\(path)\(k) is required", field: path + k) }
        return v
    }

    func optionalObject(_ k: String) throws -> [String: JSONValue]? {
        switch o[k] {
        case nil, .null?: return nil
        case .object(let v)?: return v
        default: throw APIError.badRequest("\(path)\(k) must be an object", field: path + k)
        }
    }

    func duration(_ k: String) throws -> RuleDuration {
        guard case .string(let s)? = o[k], let d = try? RuleDuration(parsing: s), d.seconds > 0 else {
            throw APIError.badRequest("\(path)\(k) must be a duration like 30s, 10m, 2h or 7d", field: path + k)
        }
        return d
    }

    func optionalDate(_ k: String) throws -> Date? {
        switch o[k] {
        case nil, .null?: return nil
        case .string(let s)?:
            guard let d = JSONCoding.parseDate(s) else { throw APIError.badRequest("\(path)\(k) must be an RFC 3339 time", field: path + k) }
            return d
        default: throw APIError.badRequest("\(path)\(k) must be an RFC 3339 time", field: path + k)
        }
    }
}
