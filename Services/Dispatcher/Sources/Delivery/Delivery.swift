import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// Delivers queued messages (the job queue's `dispatch.send`) and creates fallbacks (`dispatch.fallback`).
///
/// Crash safety: a message's status change and its job's completion commit in one transaction
/// (`job.complete(on:)`), so a message is called out again only when its replica died between the
/// provider's answer and that commit — and then with the same idempotency key. An attempt is counted
/// with its outcome: a call cut short by a crash is not counted (the provider saw the key, and the
/// job's own attempts bound the retries).
///
/// Thread-safety: stateless beyond its Sendable collaborators; the job worker runs it on several threads.
public final class Delivery: Sendable {
    let database: PostgresPool
    let providers: ProviderStore
    let limiter: ProviderRateLimiter
    let call: ProviderCall
    let admission: MessageAdmission
    let queue: JobQueue
    let maxAttempts: Int
    let backoff: RetryBackoff
    let logger: Logger
    let facts: MessageFacts

    static let fallbackQueue = "dispatch.fallback"

    init(database: PostgresPool, providers: ProviderStore, call: ProviderCall, admission: MessageAdmission, queue: JobQueue,
         maxAttempts: Int, retryBase: TimeInterval, logger: Logger, facts: MessageFacts) {
        self.database = database
        self.providers = providers
        limiter = ProviderRateLimiter(database: database)
        self.call = call
        self.admission = admission
        self.queue = queue
        self.maxAttempts = maxAttempts
        backoff = RetryBackoff(base: retryBase, maximum: max(retryBase, 600))
        self.logger = logger
        self.facts = facts
    }

    /// Delivers a claimed batch: one query loads its messages, inbox messages are stored together, the
    /// rest take their provider's rate in one statement per provider and are called side by side; the
    /// outcomes of the batch commit in one transaction per kind with their jobs' completions.
    func deliver(_ jobs: [Job]) throws -> [Int64: JobFailure] {
        var failures: [Int64: JobFailure] = [:]
        var jobOf: [String: Job] = [:]
        for job in jobs {
            do { jobOf[try job.payload(as: DeliveryJob.self).messageId] = job } catch { failures[job.id] = .permanent("\(error)") }
        }
        let loaded = try load(Array(jobOf.keys))
        for (id, job) in jobOf where loaded[id] == nil { failures[job.id] = .permanent("message \(id) does not exist") }
        // Already past delivery (a retried job whose message moved on): nothing to do, the job is done.
        let due = loaded.values.filter { $0.status == .queued || $0.status == .deferred }.sorted { $0.id < $1.id }
        try deliverToInbox(due.filter { $0.channel == .inbox }, jobOf: jobOf)
        var byChannel: [Channel: [Message]] = [:]
        for m in due where m.channel != .inbox { byChannel[m.channel, default: []].append(m) }
        for (channel, messages) in byChannel.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let provider = try providers.endpoint(for: channel) else {
                try fail(messages.map { ($0, "no_provider:\(channel.rawValue)") }, jobOf: jobOf)
                continue
            }
            let (granted, wait) = try limiter.acquire(provider, wanted: messages.count)
            var waited: [(Message, String)] = []
            for m in messages[granted...] {
                // A message whose job is on its last attempt fails now rather than staying queued forever.
                if jobOf[m.id]!.isLastAttempt { waited.append((m, "provider_rate_exhausted")); continue }
                failures[jobOf[m.id]!.id] = .retry(after: wait, reason: "provider \(provider.id) at its rate")
            }
            try fail(waited, jobOf: jobOf)
            let calling = Array(messages[..<granted])
            guard !calling.isEmpty else { continue }
            // A receipt may overtake the provider's answer (or outlive a replica killed during the call) and is
            // matched by provider: a message routed elsewhere at admission (or before any provider existed)
            // is routed to this one before the call. Attempts are counted with their outcome.
            let rerouted = calling.filter { $0.providerId != provider.id }.map(\.id)
            if !rerouted.isEmpty {
                try database.execute("UPDATE messages SET provider_id = $2, updated_at = now() WHERE id = ANY($1::text[])", rerouted, provider.id)
            }
            var sent: [(Message, String?)] = [], failed: [(Message, String)] = [], retried: [String] = []
            for (m, result) in zip(calling, call.send(calling, via: provider)) {
                var m = m
                m.providerId = provider.id
                switch result {
                case .accepted(let reference): sent.append((m, reference))
                case .rejected(let why): failed.append((m, "provider_rejected:\(why)"))
                case .unavailable(let why):
                    let attempt = m.attempts + 1
                    if attempt >= maxAttempts || jobOf[m.id]!.isLastAttempt { failed.append((m, "provider_unavailable")); continue }
                    logger.info("provider call failed, retrying", ["message": .string(m.id), "attempt": .int(attempt), "error": .string(why)])
                    failures[jobOf[m.id]!.id] = .retry(after: backoff.delay(afterAttempt: attempt), reason: why)
                    retried.append(m.id)
                }
            }
            if !retried.isEmpty {
                try database.execute("UPDATE messages SET attempts = attempts + 1, updated_at = now() WHERE id = ANY($1::text[])", retried)
            }
            try markSent(sent, cost: provider.unitCost, jobOf: jobOf)
            try fail(failed, called: true, jobOf: jobOf)
        }
        return failures
    }

    /// Accepted by the provider: `sent` (unless a receipt that overtook the answer moved it on), with the
    /// provider's reference and the attempt counted, and the jobs done — together.
    private func markSent(_ sent: [(Message, String?)], cost: String, jobOf: [String: Job]) throws {
        guard !sent.isEmpty else { return }
        try database.transaction { conn in
            // Rows locked in id order, as a receipt's callback locks them: a receipt arriving while this
            // commits waits instead of deadlocking (a deadlock here would roll back the batch, whose
            // jobs would then call the provider again).
            try conn.execute("SELECT id FROM messages WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", sent.map(\.0.id))
            try conn.execute("""
                UPDATE messages AS m
                   SET status = CASE WHEN m.status IN ('queued', 'deferred') THEN 'sent' ELSE m.status END,
                       reason = CASE WHEN m.status IN ('queued', 'deferred') THEN NULL ELSE m.reason END,
                       provider_ref = s.ref, attempts = m.attempts + 1, sent_at = coalesce(m.sent_at, now()), updated_at = now()
                  FROM unnest($1::text[], $2::text[]) AS s(id, ref)
                 WHERE m.id = s.id
                """, sent.map(\.0.id), sent.map(\.1))
            try facts.record(.messageSent, sent.map { m, _ in
                var s = MessageFacts.Subject(m)
                s.cost = cost
                return (s, nil)
            }, on: conn)
            try Job.complete(sent.map { jobOf[$0.0.id]! }, on: conn)
        }
    }

    private func deliverToInbox(_ messages: [Message], jobOf: [String: Job]) throws {
        guard !messages.isEmpty else { return }
        try database.transaction { conn in
            try conn.execute("""
                INSERT INTO inbox_items (message_id, customer_id, title, body)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING
                """, messages.map(\.id), messages.map(\.customerId), messages.map(\.title), messages.map(\.body))
            try conn.execute("""
                UPDATE messages SET status = 'delivered', reason = NULL, attempts = attempts + 1, sent_at = now(), delivered_at = now(),
                                    updated_at = now()
                 WHERE id = ANY($1::text[]) AND status IN ('queued', 'deferred')
                """, messages.map(\.id))
            let subjects = messages.map { (MessageFacts.Subject($0), reason: String?.none) }
            try facts.record(.messageSent, subjects, on: conn)
            try facts.record(.messageDelivered, subjects, on: conn)
            try Job.complete(messages.map { jobOf[$0.id]! }, on: conn)
        }
    }

    /// Marks messages failed (fallbacks queued where they have one) and their jobs done — together;
    /// `called`: after a call to the provider, which counts as an attempt.
    private func fail(_ failed: [(Message, String)], called: Bool = false, jobOf: [String: Job]) throws {
        guard !failed.isEmpty else { return }
        try database.transaction { conn in
            for (m, reason) in failed { try Self.markFailed(m.id, reason: reason, called: called, on: conn, queue: queue, facts: facts) }
            try Job.complete(failed.map { jobOf[$0.0.id]! }, on: conn)
        }
    }

    /// Failed (from queued, deferred or sent), and the fallback queued when there is one; `called`
    /// counts the provider call that failed it as an attempt.
    static func markFailed(_ id: String, reason: String, called: Bool = false, on conn: PostgresConnection, queue: JobQueue,
                           facts: MessageFacts) throws {
        let rows = try conn.query("""
            UPDATE messages SET status = 'failed', reason = $2, attempts = attempts + $3, updated_at = now()
             WHERE id = $1 AND status IN ('queued', 'deferred', 'sent') RETURNING fallback_template_id, \(MessageFacts.Subject.returning)
            """, id, String(reason.prefix(200)), called ? 1 : 0)
        guard let row = rows.first else { return }
        try facts.record(.messageFailed, [(try MessageFacts.Subject(row: row), reason)], on: conn)
        guard try row.decode("fallback_template_id", as: String?.self) != nil else { return }
        try queue.enqueue(on: conn, queue: fallbackQueue, payload: DeliveryJob(messageId: id), maxAttempts: 20, dedupeKey: id)
    }

    /// Creates the fallback of a failed message through the whole policy chain (its channel has its own
    /// consent, caps and quiet hours).
    func createFallback(_ job: Job) throws {
        let id = try job.payload(as: DeliveryJob.self).messageId
        guard let m = try load(id), m.status == .failed, let channel = m.fallbackChannel else { return }
        guard let templateId = try database.query("SELECT fallback_template_id FROM messages WHERE id = $1", id).first?
            .decode("fallback_template_id", as: String?.self) else { return }
        // The fallback acts within the original message's unit, which sent it.
        let identity = CallerIdentity(userId: "svc:dispatcher", orgId: "", orgPath: m.orgPath, roles: [], rights: [])
        let outcome = try admission.admit([SendRequest(fallbackOf: m, templateId: templateId, channel: channel)], caller: identity, requestId: nil)
        if case .refused(let error) = outcome[0] {
            logger.warning("fallback refused", ["message": .string(id), "error": .string(error.description)])
        }
    }

    func load(_ id: String) throws -> Message? {
        try database.query("SELECT \(Message.columns) FROM messages m WHERE m.id = $1", id).first.map(Message.init(row:))
    }

    func load(_ ids: [String]) throws -> [String: Message] {
        try MessageStore(database: database).messages(.ids(ids))
    }
}
