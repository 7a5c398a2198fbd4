import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// Fetches an `external` grant's benefit from its provider (an outside party) with the grant id as
/// `Idempotency-Key`, so a retried fetch never issues twice. The grant commits first (stock, budget and
/// limits are ours); the fetch follows at once, and the scheduler retries grants still `pending`.
struct ExternalFetch: Sendable {
    let database: PostgresPool
    let client: HTTPClient
    let logger: Logger

    /// One attempt; the grant as it is afterwards (still pending when the provider did not answer well).
    func fetch(_ grant: Grant, providerURL: String) -> Grant {
        var request = HTTPClientRequest(method: "POST", url: providerURL)
        request.headers.add("content-type", "application/json")
        request.headers.add("idempotency-key", grant.id)
        let body: JSONValue = .object(["grantId": .string(grant.id), "customerId": .string(grant.customerId),
                                       "rewardCode": .string(grant.rewardCode), "channel": .string("reward")])
        request.body = (try? JSONEncoder().encode(body)).map { Array($0) } ?? []
        do {
            let answer = try client.send(request)
            guard (200..<300).contains(answer.status), let value = try? answer.decode(JSONValue.self),
                  let ref = value["id"]?.stringValue ?? value["code"]?.stringValue ?? value["ref"]?.stringValue else {
                logger.warning("external reward fetch refused", ["grantId": .string(grant.id), "status": .int(answer.status)])
                return grant
            }
            var updated = grant
            if try database.execute("""
                UPDATE grants SET external_ref = $2, external_status = 'fetched' WHERE id = $1 AND external_status = 'pending'
                """, grant.id, String(ref.prefix(200))) == 1 {
                updated.externalRef = String(ref.prefix(200))
                updated.externalStatus = "fetched"
            }
            return updated
        } catch {
            logger.warning("external reward fetch failed", ["grantId": .string(grant.id), "error": .string("\(error)")])
            return grant
        }
    }

    /// Retries up to `limit` grants pending for more than `olderThan` seconds.
    func retryPending(limit: Int = 50, olderThan: TimeInterval = 5) throws -> Int {
        let rows = try database.query("""
            SELECT \(Grant.columns), r.provider_url FROM grants g JOIN rewards r ON r.id = g.reward_id
             WHERE g.external_status = 'pending' AND g.granted_at < now() - make_interval(secs => $1) ORDER BY g.granted_at LIMIT $2
            """, olderThan, limit)
        var fetched = 0
        for row in rows {
            guard let url: String = try row.decode("provider_url") else { continue }
            if fetch(try Grant(row: row), providerURL: url).externalStatus == "fetched" { fetched += 1 }
        }
        return fetched
    }
}
