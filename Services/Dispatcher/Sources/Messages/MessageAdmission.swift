import Contracts
import Foundation
import Postgres
import ServiceKit

/// Accepts sends: replays known idempotency keys, checks templates, fetches the customers' facts in one
/// batch, runs the policy chain, and stores messages, frequency counts, tracked links and delivery jobs
/// in one transaction — so a failure midway leaves nothing half-written.
///
/// Frequency counts stay exact across concurrent sends and replicas: the transaction takes an advisory
/// lock per customer (in customer-id order, so two batches never deadlock) before reading the counts.
public struct MessageAdmission: Sendable {
    let database: PostgresPool
    let templates: TemplateStore
    let policies: PolicyStore
    let providers: ProviderStore
    let profile: ProfileClient
    let renderer: TemplateRenderer
    let calendar: BankCalendar
    let queue: JobQueue
    let wake: @Sendable () -> Void
    /// The chain's own time and decisions, so its cost per message is measured where it runs.
    let chainSeconds: Counter?
    let chainDecisions: Counter?
    let facts: MessageFacts

    /// The job queue delivery works on.
    static let sendQueue = "dispatch.send"
    /// Job attempts include waits for a provider's rate; the message's own `attempts` count calls.
    static let jobAttempts = 1_000

    /// One item's outcome: its message (`replayed` when the key was known) or why it was refused.
    enum Outcome {
        case message(Message, replayed: Bool)
        case refused(APIError)
    }

    /// A checked item ready for the chain.
    private struct Prepared {
        var index: Int
        var request: SendRequest
        var template: Template
        var contact: CustomerContact?
        var rendered: TemplateRenderer.Rendered
        var orgPath: String
        var recipient: String?
        var decision: PolicyDecision = .send
        var id = RecordId.timeOrdered("msg_")
    }

    func admit(_ items: [SendRequest], caller: CallerIdentity, requestId: String?, now: Date = Date()) throws -> [Outcome] {
        var outcomes = [Outcome?](repeating: nil, count: items.count)
        // Known keys replay their message.
        let known = try messages(keys: items.map(\.key))
        for (i, item) in items.enumerated() {
            if let m = known[item.key] { outcomes[i] = replay(m, for: item, caller: caller) }
        }
        let fresh = items.indices.filter { outcomes[$0] == nil }
        guard !fresh.isEmpty else { return outcomes.map { $0! } }

        let wanted = Set(fresh.flatMap { [items[$0].templateId] + (items[$0].fallbackTemplateId.map { [$0] } ?? []) })
        let usable = try templates.usable(wanted, caller: caller)
        // Only what the chain and these templates need: the phone (SMS, calls) and the templates' variables.
        let attributes = usable.values.reduce(into: Set(["phone"])) { $0.formUnion($1.variables) }
        let contacts = try profile.contacts(Array(Set(fresh.map { items[$0].customerId })), attributes: attributes, requestId: requestId)
        let policy = try policies.current().policy
        // Routed at admission: a receipt is matched by provider, and may overtake the provider's answer.
        var route: [Channel: String] = [:]
        for channel in Set(usable.values.map(\.channel)) where channel != .inbox {
            route[channel] = try providers.endpoint(for: channel)?.id
        }

        var prepared: [Prepared] = []
        for i in fresh {
            do {
                prepared.append(try prepare(items[i], index: i, templates: usable, contact: contacts[items[i].customerId], caller: caller))
            } catch let error as APIError {
                outcomes[i] = .refused(error)
            }
        }
        let stored = try store(&prepared, policy: policy, route: route, now: now, createdBy: caller.userId)
        var conflicted: [Int] = []
        for p in prepared {
            if let m = stored[p.id] { outcomes[p.index] = .message(m, replayed: false) } else { conflicted.append(p.index) }
        }
        if !stored.isEmpty { wake() }
        // A key inserted by a concurrent request meanwhile: answer with that message.
        if !conflicted.isEmpty {
            let raced = try messages(keys: conflicted.map { items[$0].key })
            for i in conflicted {
                outcomes[i] = raced[items[i].key].map { replay($0, for: items[i], caller: caller) }
                    ?? .refused(APIError.conflict("the send is in progress; retry", code: "idempotency_in_progress"))
            }
        }
        return outcomes.map { $0! }
    }

    private func replay(_ m: Message, for item: SendRequest, caller: CallerIdentity) -> Outcome {
        guard m.customerId == item.customerId, m.templateId == item.templateId, caller.covers(orgPath: m.orgPath) else {
            return .refused(APIError(status: 409, code: "idempotency_key_reused",
                                     message: "this key was used for another message", details: .object(["field": .string(item.field.isEmpty ? "key" : item.field + ".key")])))
        }
        return .message(m, replayed: true)
    }

    private func prepare(_ r: SendRequest, index: Int, templates: [String: Template], contact: CustomerContact?,
                         caller: CallerIdentity) throws -> Prepared {
        let p = r.field.isEmpty ? "" : r.field + "."
        guard let template = templates[r.templateId] else {
            throw APIError.unprocessable("no such template in your scope", code: "template_not_found", details: .object(["field": .string(p + "templateId")]))
        }
        guard template.status == .approved else {
            throw APIError.unprocessable("the template is not approved yet", code: "template_not_approved", details: .object(["field": .string(p + "templateId")]))
        }
        if let channel = r.channel, channel != template.channel {
            throw APIError.badRequest("the template is for \(template.channel.rawValue), not \(channel.rawValue)", field: p + "channel")
        }
        if let fallbackId = r.fallbackTemplateId {
            guard let fallback = templates[fallbackId], fallback.status == .approved else {
                throw APIError.unprocessable("the fallback template is unknown or not approved", code: "template_not_approved",
                                             details: .object(["field": .string(p + "fallbackTemplateId")]))
            }
            guard fallback.channel == r.fallbackChannel, fallback.channel != template.channel else {
                throw APIError.badRequest("the fallback template must be of the fallback channel", field: p + "fallbackTemplateId")
            }
        }
        var orgPath = caller.orgPath
        var rendered = TemplateRenderer.Rendered(title: template.title, body: template.body, links: [])
        if let contact, contact.exists, let path = contact.orgPath {
            // Another unit's customer is not the caller's to message (and not revealed to exist).
            guard caller.covers(orgPath: path) else {
                throw APIError.unprocessable("no such customer in your scope", code: "customer_not_found",
                                             details: .object(["field": .string(p + "customerId")]))
            }
            orgPath = path
            rendered = try renderer.render(template, variables: r.variables, contact: contact, field: p + "variables")
        }
        let recipient: String? = switch template.channel {
        case .sms, .call: contact?.phone
        default: r.customerId
        }
        return Prepared(index: index, request: r, template: template, contact: contact, rendered: rendered, orgPath: orgPath, recipient: recipient)
    }

    /// Runs the chain and writes everything of the batch in one transaction; the stored messages by id.
    private func store(_ prepared: inout [Prepared], policy: SendPolicy, route: [Channel: String], now: Date,
                       createdBy: String) throws -> [String: Message] {
        guard !prepared.isEmpty else { return [:] }
        let chain = PolicyChain(policy: policy, calendar: calendar)
        let today = calendar.day(of: now), weekStart = calendar.day(of: now, offset: -6)
        let customers = Array(Set(prepared.map(\.request.customerId))).sorted()
        return try database.transaction { conn in
            try conn.execute("""
                SELECT pg_advisory_xact_lock(hashtextextended('dispatch.caps:' || c, 0)) FROM (SELECT unnest($1::text[]) AS c ORDER BY 1) s
                """, customers)
            let blacklisted = try policies.blacklisted(customers, on: conn)
            var counts: [String: CustomerCounts] = [:]
            for row in try conn.query("""
                SELECT customer_id, scope, day::text AS day, sends FROM frequency_counters
                 WHERE customer_id = ANY($1::text[]) AND day >= $2::date
                """, customers, weekStart) {
                let id: String = try row.decode("customer_id"), scope: String = try row.decode("scope")
                // The overall count is the sum of the channels' (rows of scope `*` written before that are ignored).
                guard scope != PolicyChain.allChannels else { continue }
                let sends: Int = try row.decode("sends")
                let isToday = try row.decode("day", as: String.self) == today
                for s in Channel(rawValue: scope) == nil ? [scope] : [scope, PolicyChain.allChannels] {
                    counts[id, default: CustomerCounts()].week[s, default: 0] += sends
                    if isToday { counts[id, default: CustomerCounts()].today[s, default: 0] += sends }
                }
            }
            timingTheChain(decisions: prepared.count) {
                for i in prepared.indices {
                    let r = prepared[i].request, t = prepared[i].template
                    let decision = chain.decide(channel: t.channel, kind: t.kind, productRisk: t.productRiskLevel, campaign: r.campaign,
                                                contact: prepared[i].contact, blacklisted: blacklisted.contains(r.customerId),
                                                counts: counts[r.customerId] ?? CustomerCounts(), now: now)
                    prepared[i].decision = decision
                    if t.kind == .marketing && !decision.isSuppressed {
                        for scope in PolicyChain.scopes(channel: t.channel, campaign: r.campaign) { counts[r.customerId, default: CustomerCounts()].add(scope) }
                    }
                }
            }
            let inserted = try insertMessages(prepared, route: route, on: conn, createdBy: createdBy)
            let kept = prepared.filter { inserted[$0.id] != nil }
            try count(kept, day: today, on: conn)
            try insertLinks(kept, on: conn)
            try facts.record(.messageSuppressed, kept.compactMap { p in
                guard case .suppressed(let reason) = p.decision else { return nil }
                return (MessageFacts.Subject(messageId: p.id, customerId: p.request.customerId, orgPath: p.orgPath, channel: p.template.channel.rawValue,
                                             templateId: p.template.id, canvasId: p.request.canvasId, nodeId: p.request.nodeId, providerId: nil), reason)
            }, on: conn, at: now)
            var jobs: [NewJob] = []
            for p in kept {
                switch p.decision {
                case .suppressed: continue
                case .send: jobs.append(try NewJob(queue: Self.sendQueue, payload: DeliveryJob(messageId: p.id), maxAttempts: Self.jobAttempts, dedupeKey: p.id))
                case .deferred(let until):
                    jobs.append(try NewJob(queue: Self.sendQueue, payload: DeliveryJob(messageId: p.id), runAt: until, maxAttempts: Self.jobAttempts, dedupeKey: p.id))
                }
            }
            try queue.enqueue(on: conn, jobs: jobs)
            return inserted
        }
    }

    private func timingTheChain(decisions: Int, _ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        chainSeconds?.increment(by: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        chainDecisions?.increment(by: decisions)
    }

    /// Inserts the batch's messages; the messages stored, by id (a key a concurrent request stored first
    /// is skipped).
    private func insertMessages(_ prepared: [Prepared], route: [Channel: String], on conn: PostgresConnection,
                                createdBy: String) throws -> [String: Message] {
        func status(_ d: PolicyDecision) -> String {
            switch d { case .send: "queued"; case .deferred: "deferred"; case .suppressed: "suppressed" }
        }
        func reason(_ d: PolicyDecision) -> String? {
            switch d { case .send: nil; case .deferred: "quiet_hours"; case .suppressed(let r): r }
        }
        func until(_ d: PolicyDecision) -> Date? { if case .deferred(let u) = d { return u }; return nil }
        let rows = try conn.query("""
            INSERT INTO messages AS m (id, idempotency_key, customer_id, org_path, channel, fallback_channel, template_id, kind, canvas_id, node_id,
                                  campaign_id, status, reason, title, body, recipient, deliver_after, created_by, fallback_template_id, fallback_of,
                                  provider_id)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                                 $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::timestamptz[],
                                 $18::text[], $19::text[], $20::text[], $21::text[])
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING \(Message.columns)
            """,
            prepared.map(\.id), prepared.map(\.request.key), prepared.map(\.request.customerId), prepared.map(\.orgPath),
            prepared.map(\.template.channel.rawValue), prepared.map { $0.request.fallbackChannel?.rawValue }, prepared.map(\.template.id),
            prepared.map(\.template.kind.rawValue), prepared.map(\.request.canvasId), prepared.map(\.request.nodeId),
            prepared.map(\.request.campaignId), prepared.map { status($0.decision) }, prepared.map { reason($0.decision) },
            prepared.map(\.rendered.title), prepared.map(\.rendered.body), prepared.map(\.recipient), prepared.map { until($0.decision) },
            [String](repeating: createdBy, count: prepared.count), prepared.map(\.request.fallbackTemplateId),
            prepared.map(\.request.fallbackOf), prepared.map { $0.decision.isSuppressed ? nil : route[$0.template.channel] })
        var stored: [String: Message] = [:]
        for row in rows {
            let m = try Message(row: row)
            stored[m.id] = m
        }
        return stored
    }

    /// Adds today's sends of marketing messages that were not suppressed to the customers' counters: per
    /// channel and per campaign (the overall count is their channels' sum, one row fewer a message).
    private func count(_ kept: [Prepared], day: String, on conn: PostgresConnection) throws {
        var increments: [String: [String: Int]] = [:]
        for p in kept where p.template.kind == .marketing && !p.decision.isSuppressed {
            for scope in PolicyChain.scopes(channel: p.template.channel, campaign: p.request.campaign) where scope != PolicyChain.allChannels {
                increments[p.request.customerId, default: [:]][scope, default: 0] += 1
            }
        }
        guard !increments.isEmpty else { return }
        var ids: [String] = [], scopes: [String] = [], counts: [Int] = []
        for (id, byScope) in increments { for (scope, n) in byScope { ids.append(id); scopes.append(scope); counts.append(n) } }
        try conn.execute("""
            INSERT INTO frequency_counters AS f (customer_id, scope, day, sends)
            SELECT c, s, $4::date, n FROM unnest($1::text[], $2::text[], $3::int8[]) AS i(c, s, n)
            ON CONFLICT (customer_id, scope, day) DO UPDATE SET sends = f.sends + EXCLUDED.sends
            """, ids, scopes, counts, day)
    }

    private func insertLinks(_ kept: [Prepared], on conn: PostgresConnection) throws {
        var codes: [String] = [], messages: [String] = [], customers: [String] = [], urls: [String] = []
        for p in kept where !p.decision.isSuppressed {
            for link in p.rendered.links { codes.append(link.code); messages.append(p.id); customers.append(p.request.customerId); urls.append(link.url) }
        }
        guard !codes.isEmpty else { return }
        try conn.execute("""
            INSERT INTO links (code, message_id, customer_id, url) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
            """, codes, messages, customers, urls)
    }

    func messages(keys: [String]) throws -> [String: Message] {
        try MessageStore(database: database).messages(.keys(keys))
    }
}

/// The payload of a delivery job.
struct DeliveryJob: Codable, Sendable {
    var messageId: String
}
