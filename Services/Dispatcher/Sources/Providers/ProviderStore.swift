import Contracts
import Foundation
import Postgres
import ServiceKit

/// Providers: bank-wide configuration, created by head office, read by every unit.
public struct ProviderStore: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let notFound = APIError.notFound("no such provider", code: "provider_not_found")

    func create(_ input: ProviderInput, caller: CallerIdentity) throws -> Provider {
        // Where a bank's messages go is bank-wide: only head office (the root unit) configures it.
        guard caller.orgPath.split(separator: "/").count == 1 else {
            throw APIError.forbidden("only head office configures providers")
        }
        let secret = Self.newSecret()
        do {
            let rows = try database.query("""
                INSERT INTO providers AS p (id, channel, name, endpoint, credentials, receipt_secret, rate_per_second, timeout_ms,
                                            org_id, org_path, created_by, unit_cost, batch_size)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::numeric, $13) RETURNING \(Provider.columns)
                """, RecordId.make("prv_"), input.channel.rawValue, input.name, input.endpoint, input.credentials, secret,
                input.ratePerSecond, input.timeoutMs, caller.orgId, caller.orgPath, caller.userId, input.unitCost, input.batchSize)
            var provider = try Provider(row: rows[0])
            provider.receiptSecret = secret
            return provider
        } catch let error as PostgresError where error.isUniqueViolation {
            throw APIError.conflict("a provider named \(input.name) exists for \(input.channel.rawValue)", code: "provider_exists")
        }
    }

    func providers(page: PageRequest) throws -> Page<Provider> {
        let rows = try database.query("""
            SELECT \(Provider.columns) FROM providers p WHERE ($1::text IS NULL OR p.id > $1) ORDER BY p.id LIMIT $2
            """, page.after, page.limit + 1)
        return PageRequest.page(try rows.map { try Provider(row: $0) }, limit: page.limit, key: \.id)
    }

    /// The provider a channel's messages go to: the first one configured for it.
    func endpoint(for channel: Channel) throws -> ProviderEndpoint? {
        try database.query("""
            SELECT id, channel, endpoint, credentials, rate_per_second, timeout_ms, batch_size, unit_cost::text AS unit_cost FROM providers
             WHERE channel = $1 ORDER BY created_at, id LIMIT 1
            """, channel.rawValue).first.map(Self.endpoint(row:))
    }

    /// The secret a provider's callbacks carry, or nil for an unknown provider.
    func receiptSecret(of id: String) throws -> String? {
        guard RecordId.isValid(id, prefix: "prv_") else { return nil }
        return try database.query("SELECT receipt_secret FROM providers WHERE id = $1", id).first?.decode("receipt_secret")
    }

    static func endpoint(row: PostgresRow) throws -> ProviderEndpoint {
        let id: String = try row.decode("id")
        guard let channel = Channel(rawValue: try row.decode("channel")) else {
            throw APIError.internalError("provider \(id) has an unknown channel")
        }
        return ProviderEndpoint(id: id, channel: channel, endpoint: try row.decode("endpoint"), credentials: try row.decode("credentials"),
                                ratePerSecond: try row.decode("rate_per_second"), timeoutMs: try row.decode("timeout_ms"),
                                batchSize: try row.decode("batch_size"), unitCost: try row.decode("unit_cost"))
    }

    /// 32 random bytes as hex.
    static func newSecret() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }
}
