import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// Fetches an `external` grant's benefit from its provider (an outside party) with the grant id as
/// `Idempotency-Key`, so a retried fetch never issues twice. The grant commits first (stock, budget and
/// limits are ours); the fetch follows at once, and the scheduler retries grants still `pending`.
///
/// What an answer means: 2xx with a reference is the benefit (`fetched`). Any other 4xx is final — the
/// provider will never issue it (a bad request, an unknown product) — so the grant is revoked with the
/// provider's reason and its stock unit, budget, limits and quota are given back in the same transaction
/// (`failed`). A 5xx, 408, 429, a 2xx without a reference or no answer at all (timeout, refused
/// connection) is retried, each time after twice the pause before, until `maxAttempts` attempts were
/// made; then it fails the same way.
struct ExternalFetch: Sendable {
    let database: PostgresPool
    let ledger: GrantLedger
    let client: HTTPClient
    let logger: Logger
    /// Attempts before a grant the provider keeps failing is given up (`LATTICE_REWARDS_EXTERNAL_ATTEMPTS`).
    let maxAttempts: Int
    /// The pause after the first failed attempt, doubled after each next one, at most an hour
    /// (`LATTICE_REWARDS_EXTERNAL_RETRY_INTERVAL`).
    let retryInterval: TimeInterval

    /// What one call to the provider came to.
    enum Answer: Equatable {
        case fetched(ref: String)
        /// Final: the provider will not issue this benefit.
        case refused(String)
        /// Worth another attempt later.
        case unavailable(String)
    }

    /// Reads a provider's answer (see the type's comment for what each status means).
    static func classify(status: Int, body: JSONValue?) -> Answer {
        if (200..<300).contains(status) {
            guard let ref = body?["id"]?.stringValue ?? body?["code"]?.stringValue ?? body?["ref"]?.stringValue, !ref.isEmpty else {
                return .unavailable("HTTP \(status) without a reference")
            }
            return .fetched(ref: String(ref.prefix(200)))
        }
        let said = body?["error"]?["code"]?.stringValue ?? body?["error"]?.stringValue ?? body?["message"]?.stringValue
        let reason = "HTTP \(status)" + (said.map { " " + String($0.prefix(200)) } ?? "")
        if (400..<500).contains(status), status != 408, status != 429 { return .refused(reason) }
        return .unavailable(reason)
    }

    /// One attempt, recorded; the grant as it is afterwards: `fetched`, still `pending` (to be retried),
    /// or `failed` (revoked, what it used given back).
    func fetch(_ grant: Grant, providerURL: String) -> Grant {
        var request = HTTPClientRequest(method: "POST", url: providerURL)
        request.headers.add("content-type", "application/json")
        request.headers.add("idempotency-key", grant.id)
        let body: JSONValue = .object(["grantId": .string(grant.id), "customerId": .string(grant.customerId),
                                       "rewardCode": .string(grant.rewardCode), "channel": .string("reward")])
        request.body = (try? JSONEncoder().encode(body)).map { Array($0) } ?? []
        let answer: Answer
        do {
            let response = try client.send(request)
            answer = Self.classify(status: response.status, body: try? response.decode(JSONValue.self))
        } catch {
            answer = .unavailable("no answer: \(error)")
        }
        do {
            return try record(answer, for: grant)
        } catch {
            // The attempt stays unrecorded: the grant is still pending and the retry tick comes back to it.
            logger.warning("external reward fetch not recorded", ["grantId": .string(grant.id), "error": .string("\(error)")])
            return grant
        }
    }

    private func record(_ answer: Answer, for grant: Grant) throws -> Grant {
        var updated = grant
        switch answer {
        case .fetched(let ref):
            if try database.execute("""
                UPDATE grants SET external_ref = $2, external_attempts = external_attempts + 1, external_error = NULL, external_next_at = NULL,
                                  external_status = CASE WHEN external_status = 'pending' THEN 'fetched' ELSE external_status END
                 WHERE id = $1 AND (external_status = 'pending' OR (external_status = 'cancelled' AND external_ref IS NULL))
                """, grant.id, ref) == 1 {
                updated.externalRef = ref
                if updated.externalStatus == "pending" { updated.externalStatus = "fetched" }
            }
            return updated
        case .refused(let reason):
            logger.warning("external reward refused by the provider", ["grantId": .string(grant.id), "reason": .string(reason)])
            return try ledger.failExternal(id: grant.id, reason: "provider refused: " + reason) ?? (try ledger.find(id: grant.id) ?? grant)
        case .unavailable(let reason):
            let rows = try database.query("""
                UPDATE grants SET external_attempts = external_attempts + 1, external_error = $2,
                                  external_next_at = now() + make_interval(secs => least(3600, $3 * power(2, external_attempts)))
                 WHERE id = $1 AND external_status = 'pending' RETURNING external_attempts
                """, grant.id, String(reason.prefix(500)), retryInterval)
            guard let attempts: Int = try rows.first?.decode("external_attempts") else { return try ledger.find(id: grant.id) ?? grant }
            guard attempts >= maxAttempts else {
                logger.warning("external reward fetch failed, to be retried",
                               ["grantId": .string(grant.id), "attempt": .int(attempts), "reason": .string(reason)])
                updated.externalError = reason
                return updated
            }
            logger.warning("external reward given up", ["grantId": .string(grant.id), "attempts": .int(attempts), "reason": .string(reason)])
            return try ledger.failExternal(id: grant.id, reason: "provider unavailable after \(attempts) attempts: " + reason)
                ?? (try ledger.find(id: grant.id) ?? grant)
        }
    }

    /// Retries up to `limit` pending grants whose pause is over (the scheduler's tick).
    func retryPending(limit: Int = 50) throws -> Int {
        let rows = try database.query("""
            SELECT \(Grant.columns), r.provider_url FROM grants g JOIN rewards r ON r.id = g.reward_id
             WHERE g.external_status = 'pending' AND g.status = 'granted' AND coalesce(g.external_next_at, g.granted_at + make_interval(secs => $1)) <= now()
             ORDER BY g.external_next_at NULLS FIRST LIMIT $2
            """, retryInterval, limit)
        var fetched = 0
        for row in rows {
            guard let url: String = try row.decode("provider_url") else { continue }
            if fetch(try Grant(row: row), providerURL: url).externalStatus == "fetched" { fetched += 1 }
        }
        return fetched
    }
}
