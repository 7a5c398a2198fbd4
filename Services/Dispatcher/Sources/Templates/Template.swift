import Contracts
import Foundation
import Postgres

/// Whether a template promotes (consent, caps, quiet hours apply) or notifies of a service event
/// (consent applies, caps do not).
public enum TemplateKind: String, Sendable, Codable, CaseIterable {
    case marketing, transactional
}

/// A product's risk level (R1 lowest … R5 highest) as the suitability rule compares it to a customer's
/// tolerance C1 … C5.
public enum ProductRiskLevel: String, Sendable, Codable, CaseIterable {
    case R1, R2, R3, R4, R5
    var rank: Int { Int(rawValue.dropFirst())! }
}

/// A message template as the API shows it.
public struct Template: Sendable, Encodable {
    public enum Status: String, Sendable, Codable { case pending, approved }

    public var id: String
    public var channel: Channel
    public var name: String
    public var title: String?
    public var body: String
    public var kind: TemplateKind
    public var productRiskLevel: ProductRiskLevel?
    public var investment: Bool
    /// The `{{…}}` variables the body uses, in order of first use.
    public var variables: [String]
    public var status: Status
    public var orgId: String
    public var createdBy: String
    public var approvedBy: String?
    public var approvedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64
    var orgPath: String

    static let columns = """
        t.id, t.channel, t.name, t.title, t.body, t.kind, t.product_risk_level, t.investment, t.variables, t.status, t.org_id, t.org_path,
        t.created_by, t.approved_by, t.approved_at, t.created_at, t.updated_at, t.version
        """

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        guard let channel = Channel(rawValue: try row.decode("channel")),
              let kind = TemplateKind(rawValue: try row.decode("kind")),
              let status = Status(rawValue: try row.decode("status")) else {
            throw APIError.internalError("template \(id) holds an unknown channel, kind or status")
        }
        self.channel = channel
        self.kind = kind
        self.status = status
        name = try row.decode("name")
        title = try row.decode("title")
        body = try row.decode("body")
        productRiskLevel = try row.decode("product_risk_level", as: String?.self).flatMap(ProductRiskLevel.init(rawValue:))
        investment = try row.decode("investment")
        variables = try row.decode("variables")
        orgId = try row.decode("org_id")
        orgPath = try row.decode("org_path")
        createdBy = try row.decode("created_by")
        approvedBy = try row.decode("approved_by")
        approvedAt = try row.decode("approved_at")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        version = try row.decode("version")
    }

    enum CodingKeys: String, CodingKey {
        case id, channel, name, title, body, kind, productRiskLevel, investment, variables, status, orgId, createdBy, approvedBy,
             approvedAt, createdAt, updatedAt, version
    }
}
