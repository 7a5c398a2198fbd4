import Contracts
import Foundation
import Postgres

/// A customer as the API shows it: built-in attributes, custom attributes, consents.
///
/// `phone` is masked (`138****5678`) unless the caller holds the `pii` right (JR/T 0171-2020 C2 data).
public struct Customer: Sendable, Codable, Equatable {
    public var id: String
    public var orgId: String
    public var orgPath: String
    public var name: String?
    public var phone: String?
    public var gender: String?
    public var birthDate: String?
    public var city: String?
    public var riskLevel: String?
    public var aum: Decimal?
    public var depositBalance: Decimal?
    public var isPayroll: Bool?
    public var hasCreditCard: Bool?
    public var registeredAt: Date?
    public var lastActiveAt: Date?
    public var accountManagerId: String?
    public var attributes: [String: JSONValue]
    public var consents: [String: ConsentState]
    public var marketingOptOut: Bool
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date

    /// Selected from `customers c`; consents gathered by a subquery.
    static let columns = """
        c.id, c.org_id, c.org_path, c.name, c.phone, c.gender, c.birth_date::text AS birth_date, c.city, c.risk_level,
        c.aum, c.deposit_balance, c.is_payroll, c.has_credit_card,
        c.registered_at, c.last_active_at, c.account_manager_id, c.attributes::text AS attributes,
        c.marketing_opt_out, c.version, c.created_at, c.updated_at,
        (SELECT coalesce(jsonb_object_agg(k.channel, jsonb_build_object('granted', k.granted, 'source', k.source,
                 'changedAt', to_char(k.changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))), '{}')::text
           FROM consents k WHERE k.customer_id = c.id) AS consents
        """

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        orgId = try row.decode("org_id")
        orgPath = try row.decode("org_path")
        name = try row.decode("name")
        phone = try row.decode("phone")
        gender = try row.decode("gender")
        birthDate = try row.decode("birth_date")
        city = try row.decode("city")
        riskLevel = try row.decode("risk_level")
        aum = try row.decode("aum")
        depositBalance = try row.decode("deposit_balance")
        isPayroll = try row.decode("is_payroll")
        hasCreditCard = try row.decode("has_credit_card")
        registeredAt = try row.decode("registered_at")
        lastActiveAt = try row.decode("last_active_at")
        accountManagerId = try row.decode("account_manager_id")
        guard case .object(let stored) = try JSONParser.parse(Array(try row.decode("attributes", as: String.self).utf8)) else {
            throw PostgresError.decoding(column: "attributes", swiftType: "[String: JSONValue]", postgresType: "jsonb", reason: "not a JSON object")
        }
        attributes = stored
        consents = try Self.consents(fromJSON: try row.decode("consents", as: String.self))
        marketingOptOut = try row.decode("marketing_opt_out")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }

    /// The `consents` column (a JSON object of channel → state, built by the store's query) read with
    /// the project's parser: Foundation's JSONDecoder per row was a fifth of the rule-tag worker's time.
    static func consents(fromJSON text: String) throws -> [String: ConsentState] {
        func malformed(_ why: String) -> PostgresError {
            PostgresError.decoding(column: "consents", swiftType: "[String: ConsentState]", postgresType: "json", reason: why)
        }
        guard case .object(let channels) = try JSONParser.parse(Array(text.utf8)) else { throw malformed("not a JSON object") }
        var out: [String: ConsentState] = [:]
        out.reserveCapacity(channels.count)
        for (channel, value) in channels {
            guard case .bool(let granted)? = value["granted"], case .string(let source)? = value["source"],
                  case .string(let changed)? = value["changedAt"], let changedAt = JSONCoding.parseDate(changed) else {
                throw malformed("channel \(channel.prefix(40)) lacks granted, source or an RFC 3339 changedAt")
            }
            out[channel] = ConsentState(granted: granted, source: source, changedAt: changedAt)
        }
        return out
    }

    /// The customer as `caller` may see it.
    func visible(to caller: CallerIdentity) -> Customer {
        guard !caller.has(right: "pii") else { return self }
        var copy = self
        copy.phone = phone.map(PhoneMask.mask)
        return copy
    }
}

/// `138****5678`: the first three and last four digits stay, so a person can still recognise the number.
public enum PhoneMask {
    public static func mask(_ phone: String) -> String {
        let chars = Array(phone)
        guard chars.count > 7 else { return String(repeating: "*", count: chars.count) }
        return String(chars.prefix(3)) + String(repeating: "*", count: chars.count - 7) + String(chars.suffix(4))
    }
}
