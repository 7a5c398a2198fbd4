import Contracts
import Foundation
import Postgres

/// A provider of one channel as the API shows it. Credentials are never shown again after creation;
/// the receipt secret only in the answer of the create.
public struct Provider: Sendable, Encodable {
    public var id: String
    public var channel: Channel
    public var name: String
    public var endpoint: String
    public var hasCredentials: Bool
    public var ratePerSecond: Int
    public var timeoutMs: Int
    /// Messages one call carries: 1, or the provider's batch submission (see `ProviderCall`).
    public var batchSize: Int
    /// CNY per message (decimal string).
    public var unitCost: String
    public var orgId: String
    public var createdBy: String
    public var createdAt: Date
    /// Only in the create's answer: what the provider sends as `X-Provider-Secret` on its callbacks.
    public var receiptSecret: String?

    static let columns = """
        p.id, p.channel, p.name, p.endpoint, p.credentials IS NOT NULL AS has_credentials, p.rate_per_second, p.timeout_ms,
        p.batch_size, p.unit_cost::text AS unit_cost, p.org_id, p.created_by, p.created_at
        """

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        guard let channel = Channel(rawValue: try row.decode("channel")) else {
            throw APIError.internalError("provider \(id) has an unknown channel")
        }
        self.channel = channel
        name = try row.decode("name")
        endpoint = try row.decode("endpoint")
        hasCredentials = try row.decode("has_credentials")
        ratePerSecond = try row.decode("rate_per_second")
        timeoutMs = try row.decode("timeout_ms")
        batchSize = try row.decode("batch_size")
        unitCost = try row.decode("unit_cost")
        orgId = try row.decode("org_id")
        createdBy = try row.decode("created_by")
        createdAt = try row.decode("created_at")
    }
}

/// What delivery needs of a provider, credentials included (never encoded to a client).
struct ProviderEndpoint: Sendable {
    var id: String
    var channel: Channel
    var endpoint: String
    var credentials: String?
    var ratePerSecond: Int
    var timeoutMs: Int
    var batchSize: Int
    var unitCost: String
}
