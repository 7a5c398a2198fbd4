import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// Delivers queued messages (the job queue's `dispatch.send`) and creates fallbacks (`dispatch.fallback`).
///
/// Crash safety: a message's status change and its job's completion commit in one transaction
/// (`job.complete(on:)`), so a message is called out again only when its replica died between the
/// provider's answer and that commit — and then with the same idempotency key.
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

    static let fallbackQueue = "dispatch.fallback"
    /// Waits for a provider's next second before a rate-limited message goes back to the queue.
    static let rateWaits = 5

    init(database: PostgresPool, providers: ProviderStore, call: ProviderCall, admission: MessageAdmission, queue: JobQueue,
         maxAttempts: Int, retryBase: TimeInterval, logger: Logger) {
        self.database = database
        self.providers = providers
        limiter = ProviderRateLimiter(database: database)
        self.call = call
        self.admission = admission
        self.queue = queue
        self.maxAttempts = maxAttempts
        backoff = RetryBackoff(base: retryBase, maximum: max(retryBase, 600))
        self.logger = logger
    }

    func deliver(_ job: Job) throws {
        let messageId = try job.payload(as: DeliveryJob.self).messageId
        guard let m = try load(messageId) else { throw JobFailure.permanent("message \(messageId) does not exist") }
        guard m.status == .queued || m.status == .deferred else { return }
        if m.channel == .inbox { return try deliverToInbox(m, job: job) }
        guard let provider = try providers.endpoint(for: m.channel) else {
            return try fail(m, reason: "no_provider:\(m.channel.rawValue)", job: job)
        }
        // At the provider's rate, this thread waits for the next second a few times (it could not send
        // anything else to this provider anyway) before handing the message back to the queue.
        var granted = false
        for _ in 0..<Self.rateWaits {
            guard let wait = try limiter.acquire(provider) else { granted = true; break }
            Thread.sleep(forTimeInterval: wait)
        }
        if !granted { throw JobFailure.retry(after: 0.2, reason: "provider \(provider.id) at its rate") }
        // The attempt is counted before the call: a crash during it still counts.
        let attempt: Int = try database.query("""
            UPDATE messages SET attempts = attempts + 1, provider_id = $2, updated_at = now() WHERE id = $1 RETURNING attempts
            """, m.id, provider.id).first?.decode("attempts") ?? 1
        switch call.send(m, via: provider) {
        case .accepted(let reference):
            try database.transaction { conn in
                try conn.execute("""
                    UPDATE messages SET status = 'sent', reason = NULL, provider_ref = $2, sent_at = now(), updated_at = now()
                     WHERE id = $1 AND status IN ('queued', 'deferred')
                    """, m.id, reference)
                try job.complete(on: conn)
            }
        case .rejected(let status):
            try fail(m, reason: "provider_rejected:\(status)", job: job)
        case .unavailable(let why):
            if attempt >= maxAttempts { return try fail(m, reason: "provider_unavailable", job: job) }
            logger.info("provider call failed, retrying", ["message": .string(m.id), "attempt": .int(attempt), "error": .string(why)])
            throw JobFailure.retry(after: backoff.delay(afterAttempt: attempt), reason: why)
        }
    }

    private func deliverToInbox(_ m: Message, job: Job) throws {
        try database.transaction { conn in
            try conn.execute("""
                INSERT INTO inbox_items (message_id, customer_id, title, body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                """, m.id, m.customerId, m.title, m.body)
            try conn.execute("""
                UPDATE messages SET status = 'delivered', reason = NULL, attempts = attempts + 1, sent_at = now(), delivered_at = now(),
                                    updated_at = now()
                 WHERE id = $1 AND status IN ('queued', 'deferred')
                """, m.id)
            try job.complete(on: conn)
        }
    }

    /// Marks `m` failed and, when it names a fallback, queues the fallback's creation — in one transaction.
    private func fail(_ m: Message, reason: String, job: Job?) throws {
        try database.transaction { conn in
            try Self.markFailed(m.id, reason: reason, on: conn, queue: queue)
            try job?.complete(on: conn)
        }
    }

    /// Failed (from queued, deferred or sent), and the fallback queued when there is one.
    static func markFailed(_ id: String, reason: String, on conn: PostgresConnection, queue: JobQueue) throws {
        let rows = try conn.query("""
            UPDATE messages SET status = 'failed', reason = $2, updated_at = now()
             WHERE id = $1 AND status IN ('queued', 'deferred', 'sent') RETURNING fallback_template_id
            """, id, String(reason.prefix(200)))
        guard let row = rows.first, try row.decode("fallback_template_id", as: String?.self) != nil else { return }
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
}
