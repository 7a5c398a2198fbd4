import Contracts
import Foundation
import HTTP
import ServiceKit

/// `POST /internal/v1/events`: the rewards service's facts become the customer's behaviour events
/// (`reward_granted`, `reward_redeemed`, `reward_expired`, `lottery_drawn`), so that tag rules, segments
/// and canvases can use a customer's part in marketing activities — an activity tag such as 参与过抽奖 is
/// a rule over `lottery_drawn`, and a journey can thank a customer the moment a coupon is redeemed.
///
/// The events go through `EventIngestor` like any other, under ids derived from the facts' outbox ids:
/// a fact delivered twice is one event, so no inbox table is needed, and no connection is held while the
/// ingestor takes its own. Facts of other types are acknowledged and ignored, and so is a fact about a
/// customer the profile does not know (logged): retrying would not make the customer appear.
///
/// Answers as `InboxReceiver` does: `{"eventId", "outcome"}` for one envelope, `OutboxEnvelope.BatchAnswer`
/// for a batch (`OutboxEnvelope.batchContentType`).
struct MarketingFactReceiver: Sendable {
    let ingestor: EventIngestor
    let logger: Logger

    /// The facts that become customer events, and the events' names (built-in types, migration 032).
    static let eventNames: [String: String] = [
        MarketingFactType.rewardGranted.rawValue: "reward_granted",
        MarketingFactType.rewardRedeemed.rawValue: "reward_redeemed",
        MarketingFactType.rewardExpired.rawValue: "reward_expired",
        MarketingFactType.lotteryDrawn.rawValue: "lottery_drawn",
    ]

    /// Facts are about customers of any unit: the ingestor looks customers up from the root.
    static let caller = CallerIdentity(userId: "system:rewards", orgId: "system", orgPath: "/", roles: ["system"], rights: [])

    func register(on router: Router) {
        let receiver = self
        router.post("/internal/v1/events", options: RouteOptions(maxBodyBytes: 8 << 20)) { request, _ in
            try receiver.handle(request)
        }
    }

    func handle(_ request: Request) throws -> Response {
        let body = try request.collectBody()
        guard OutboxEnvelope.isBatch(request.headers) else {
            let result = try receive([body[...]]).results[0]
            if result.outcome == "failed" {
                throw APIError.badRequest(result.message ?? "the event envelope is malformed", field: "$")
            }
            return try .json(JSONValue.object(["eventId": .string(result.eventId ?? ""), "outcome": .string(result.outcome)]))
        }
        return try .json(receive(try OutboxEnvelope.batch(of: body)))
    }

    /// The envelopes' results in their order; the facts that are customer events stored together.
    func receive(_ envelopes: [ArraySlice<UInt8>]) throws -> OutboxEnvelope.BatchAnswer {
        var results: [OutboxEnvelope.BatchResult] = []
        results.reserveCapacity(envelopes.count)
        var submissions: [JSONValue] = []
        var positions: [Int] = []
        for envelope in envelopes {
            let event: ReceivedEvent
            let fact: MarketingFact
            do {
                event = try ReceivedEvent(envelope: Array(envelope))
                guard Self.eventNames[event.type] != nil else {
                    results.append(.init(eventId: event.id.uuidString.lowercased(), outcome: "processed"))
                    continue
                }
                fact = try event.payload(as: MarketingFact.self)
            } catch {
                let api = ErrorMapping.apiError(for: error)
                results.append(.init(eventId: nil, outcome: "failed", status: api.status, message: String(api.message.prefix(500))))
                continue
            }
            positions.append(results.count)
            results.append(.init(eventId: event.id.uuidString.lowercased(), outcome: "processed"))
            submissions.append(Self.submission(event, fact))
        }
        guard !submissions.isEmpty else { return OutboxEnvelope.BatchAnswer(results: results) }
        let outcomes = try ingestor.ingestEach(submissions, caller: Self.caller)
        for (position, outcome) in zip(positions, outcomes) {
            switch outcome {
            case .stored: break
            case .duplicate: results[position].outcome = "duplicate"
            case .rejected(let rejection):
                logger.warning("a reward fact was not recorded as a customer event",
                               ["eventId": .string(results[position].eventId ?? ""), "error": .string(String(decoding: rejection.error.jsonBytes, as: UTF8.self))])
            }
        }
        return OutboxEnvelope.BatchAnswer(results: results)
    }

    /// The customer event of a fact: its grant, reward and canvas step as properties.
    static func submission(_ event: ReceivedEvent, _ fact: MarketingFact) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        func put(_ key: String, _ value: String?) { if let value { properties[key] = .string(value) } }
        put("rewardId", fact.rewardId)
        put("rewardKind", fact.rewardKind)
        put("grantId", fact.grantId)
        put("prize", fact.prize)
        put("cost", fact.cost)
        put("canvasId", fact.canvasId)
        put("nodeId", fact.nodeId)
        return .object([
            "eventId": .string("rewards:" + event.id.uuidString.lowercased()),
            "customerId": .string(fact.customerId),
            "name": .string(eventNames[event.type] ?? event.type),
            "occurredAt": .string(JSONCoding.formatDate(event.occurredAt)),
            "properties": .object(properties),
        ])
    }
}
