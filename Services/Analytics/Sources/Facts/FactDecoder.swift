import Contracts
import Foundation
import ServiceKit

/// Turns a received outbox event into a `Fact`, checking what reports rely on; every fault is a 400
/// naming the payload member. Event types analytics does not know are not facts (nil): they are
/// acknowledged and recorded in the inbox, so that a producer's new event type never blocks its relay.
public enum FactDecoder {
    /// `profile.event`: a behaviour event (Services/Profile EventIngestor's payload).
    public static let behaviourEventType = "profile.event"
    /// `profile.lifecycle_changed` (Services/Profile LifecycleChange).
    public static let lifecycleChangedType = "profile.lifecycle_changed"
    static let stages: Set<String> = ["new", "growing", "mature", "dormant", "churned"]

    struct BehaviourEvent: Decodable {
        var eventId: String
        var customerId: String
        var orgPath: String
        var name: String
        var occurredAt: Date
        var properties: JSONValue?
    }

    struct LifecycleMove: Decodable {
        var customerId: String
        var orgPath: String
        var from: String?
        var to: String?
        var changedAt: Date
    }

    public static func fact(from event: ReceivedEvent) throws -> Fact? {
        if let type = MarketingFactType(rawValue: event.type) {
            let payload = try event.payload(as: MarketingFact.self)
            let fact = Fact(eventId: event.id, type: type, occurredAt: event.occurredAt, fact: payload)
            try validate(fact)
            return fact
        }
        switch event.type {
        case behaviourEventType:
            let e = try event.payload(as: BehaviourEvent.self)
            var fact = Fact(eventId: event.id, type: event.type, occurredAt: e.occurredAt, customerId: e.customerId, orgPath: e.orgPath)
            try check(e.name, "payload.name", max: 100)
            fact.eventName = e.name
            if let p = e.properties, p != .null {
                guard case .object = p else { throw APIError.badRequest("payload.properties must be an object", field: "payload.properties") }
                // jsonb refuses \u0000: a 400 now rather than a 500 the relay would retry for ever.
                guard !containsNUL(p) else {
                    throw APIError.badRequest("payload.properties must not contain NUL characters", field: "payload.properties")
                }
                fact.propertiesJSON = String(decoding: try JSONCoding.encoder().encode(p), as: UTF8.self)
            }
            try validate(fact)
            return fact
        case lifecycleChangedType:
            let m = try event.payload(as: LifecycleMove.self)
            var fact = Fact(eventId: event.id, type: event.type, occurredAt: m.changedAt, customerId: m.customerId, orgPath: m.orgPath)
            for (value, field) in [(m.from, "payload.from"), (m.to, "payload.to")] {
                if let value, !stages.contains(value) {
                    throw APIError.badRequest("\(field) must be one of \(stages.sorted().joined(separator: " "))", field: field)
                }
            }
            fact.fromStage = m.from
            fact.toStage = m.to
            try validate(fact)
            return fact
        default:
            return nil
        }
    }

    /// What every fact must hold before it reaches the store.
    static func validate(_ f: Fact) throws {
        try check(f.customerId, "payload.customerId", max: 64)
        guard f.orgPath.hasPrefix("/"), f.orgPath.hasSuffix("/"), f.orgPath.utf8.count <= 500, isPrintable(f.orgPath) else {
            throw APIError.badRequest("payload.orgPath must be an org unit path such as /hq/sh/", field: "payload.orgPath")
        }
        if let p = f.customerOrgPath {
            guard p.hasPrefix("/"), p.utf8.count <= 500, isPrintable(p) else {
                throw APIError.badRequest("payload.customerOrgPath must be an org unit path", field: "payload.customerOrgPath")
            }
        }
        let texts: [(String?, String)] = [(f.canvasId, "canvasId"), (f.nodeId, "nodeId"), (f.nodeType, "nodeType"), (f.arm, "arm"),
                                          (f.channel, "channel"), (f.messageId, "messageId"), (f.templateId, "templateId"),
                                          (f.provider, "provider"), (f.reason, "reason"), (f.rewardId, "rewardId"),
                                          (f.rewardKind, "rewardKind"), (f.grantId, "grantId"), (f.prize, "prize")]
        for (value, name) in texts {
            if let value { try check(value, "payload." + name, max: name == "reason" || name == "prize" ? 200 : 100) }
        }
        if let v = f.canvasVersion, !(0...1_000_000).contains(v) {
            throw APIError.badRequest("payload.canvasVersion must be 0 to 1000000", field: "payload.canvasVersion")
        }
        if let s = f.plannedShare, !(s > 0 && s <= 1) {
            throw APIError.badRequest("payload.plannedShare must be a share above 0 and at most 1", field: "payload.plannedShare")
        }
        // A range test, not `abs`: abs(Int.min) traps, and one event must never stop the service.
        if let p = f.points, !(-1_000_000_000_000...1_000_000_000_000).contains(p) {
            throw APIError.badRequest("payload.points is out of range", field: "payload.points")
        }
        // A cost may be a fraction of a fen (an SMS costs 0.045); an amount converted is money paid.
        for (value, name, decimals) in [(f.cost, "cost", 4), (f.amount, "amount", 2)] {
            if let value, !isMoney(value, decimals: decimals) {
                throw APIError.badRequest("payload.\(name) must be a CNY amount such as \"12.50\" (at most \(decimals) decimals)",
                                          field: "payload.\(name)")
            }
        }
        let year = Calendar(identifier: .gregorian).component(.year, from: f.occurredAt)
        guard (2000...2200).contains(year) else {
            throw APIError.badRequest("occurredAt must be a time between the years 2000 and 2200", field: "occurredAt")
        }
    }

    static func check(_ text: String, _ field: String, max: Int) throws {
        guard !text.isEmpty, text.utf8.count <= max, isPrintable(text) else {
            throw APIError.badRequest("\(field) must be 1 to \(max) bytes without control characters", field: field)
        }
    }

    static func containsNUL(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let s): s.utf8.contains(0)
        case .array(let items): items.contains(where: containsNUL)
        case .object(let members): members.contains { $0.key.utf8.contains(0) || containsNUL($0.value) }
        default: false
        }
    }

    static func isPrintable(_ text: String) -> Bool { !text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f } }

    /// A decimal with at most 12 integer digits and `decimals` decimals, optionally negative (a refund):
    /// the rollups sum into numeric(20,2) / numeric(22,4), which 10M facts of 12 digits cannot overflow.
    static func isMoney(_ text: String, decimals: Int = 2) -> Bool {
        var digits = Substring(text)
        if digits.hasPrefix("-") { digits = digits.dropFirst() }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = parts.first, (1...12).contains(whole.count),
              whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        if parts.count == 2 {
            guard (1...decimals).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        }
        return true
    }
}
