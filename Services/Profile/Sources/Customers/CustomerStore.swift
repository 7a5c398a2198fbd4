import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// Customers, always seen through the caller's subtree: a customer of another branch does not exist
/// for the caller (404), exactly like one that was never created.
public struct CustomerStore: Sendable {
    let database: PostgresPool
    let catalog: AttributeCatalog
    let orgs: OrgDirectory

    public init(database: PostgresPool, catalog: AttributeCatalog, orgs: OrgDirectory) {
        self.database = database
        self.catalog = catalog
        self.orgs = orgs
    }

    static let notFound = APIError.notFound("no such customer", code: "customer_not_found")

    /// Customer ids: the bank's own numbers, so printable and bounded.
    public static func isCustomerId(_ id: String) -> Bool {
        guard let first = id.utf8.first, id.utf8.count <= 64 else { return false }
        let ok: (UInt8) -> Bool = { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 46 || c == 58 || c == 45
        }
        return ok(first) && first != 95 && first != 46 && first != 58 && first != 45 && id.utf8.allSatisfy(ok)
    }

    public func customer(id: String, caller: CallerIdentity) throws -> Customer {
        guard Self.isCustomerId(id) else { throw Self.notFound }
        let rows = try database.query("SELECT \(Customer.columns) FROM customers c WHERE c.id = $1 AND starts_with(c.org_path, $2)",
                                      id, caller.orgPath)
        guard let row = rows.first else { throw Self.notFound }
        return try Customer(row: row).visible(to: caller)
    }

    /// Creates or changes a customer (merge: absent keys keep their values). Returns the customer and
    /// whether it was created.
    public func upsert(id: String, body: [String: JSONValue], caller: CallerIdentity, requestId: String) throws -> (Customer, created: Bool) {
        guard Self.isCustomerId(id) else {
            throw APIError.badRequest("customer id must be 1 to 64 letters, digits, _ . : - starting with a letter or digit",
                                      field: "customerId")
        }
        let now = Date()
        let update: CustomerUpdate
        do {
            update = try CustomerUpdate.parse(body, now: now) { try catalog.definition($0) }
        } catch let e as CustomerUpdate.FieldError {
            throw e.apiError
        }
        if let given = body["id"], given != .string(id) {
            throw APIError.badRequest("id in the body differs from the path", field: "id")
        }
        // The owning unit: given (and then in the caller's subtree) or, for a new customer, the caller's own.
        var orgId = caller.orgId, orgPath = caller.orgPath
        if case .text(let given)?? = update.fields[.orgId] {
            orgId = given
            orgPath = try orgs.path(of: given, for: caller)
        }
        var present = update.fields.keys.map(\.rawValue)
        if update.fields[.orgId] == nil { present.removeAll { $0 == "orgId" } }
        func text(_ f: CustomerField) -> String? { update.fields[f].flatMap { $0?.sqlText } }
        let attributesPatch = "{" + update.attributes.sorted { $0.key < $1.key }
            .map { JSONString.quoted($0.key) + ":" + ($0.value?.jsonText ?? "null") }.joined(separator: ",") + "}"

        return try database.transaction { conn in
            let rows = try conn.query("""
                INSERT INTO customers AS c (id, org_id, org_path, name, phone, gender, birth_date, city, risk_level, aum,
                                            deposit_balance, is_payroll, has_credit_card, registered_at, last_active_at,
                                            account_manager_id, attributes)
                VALUES ($1, $2, $3, $4, $5, $6, $7::date, $8, $9, $10::numeric, $11::numeric, $12::boolean, $13::boolean,
                        $14::timestamptz, $15::timestamptz, $16, jsonb_strip_nulls($17::jsonb))
                ON CONFLICT (id) DO UPDATE SET
                    org_id = CASE WHEN 'orgId' = ANY($18) THEN EXCLUDED.org_id ELSE c.org_id END,
                    org_path = CASE WHEN 'orgId' = ANY($18) THEN EXCLUDED.org_path ELSE c.org_path END,
                    name = CASE WHEN 'name' = ANY($18) THEN EXCLUDED.name ELSE c.name END,
                    phone = CASE WHEN 'phone' = ANY($18) THEN EXCLUDED.phone ELSE c.phone END,
                    gender = CASE WHEN 'gender' = ANY($18) THEN EXCLUDED.gender ELSE c.gender END,
                    birth_date = CASE WHEN 'birthDate' = ANY($18) THEN EXCLUDED.birth_date ELSE c.birth_date END,
                    city = CASE WHEN 'city' = ANY($18) THEN EXCLUDED.city ELSE c.city END,
                    risk_level = CASE WHEN 'riskLevel' = ANY($18) THEN EXCLUDED.risk_level ELSE c.risk_level END,
                    aum = CASE WHEN 'aum' = ANY($18) THEN EXCLUDED.aum ELSE c.aum END,
                    deposit_balance = CASE WHEN 'depositBalance' = ANY($18) THEN EXCLUDED.deposit_balance ELSE c.deposit_balance END,
                    is_payroll = CASE WHEN 'isPayroll' = ANY($18) THEN EXCLUDED.is_payroll ELSE c.is_payroll END,
                    has_credit_card = CASE WHEN 'hasCreditCard' = ANY($18) THEN EXCLUDED.has_credit_card ELSE c.has_credit_card END,
                    registered_at = CASE WHEN 'registeredAt' = ANY($18) THEN EXCLUDED.registered_at ELSE c.registered_at END,
                    last_active_at = CASE WHEN 'lastActiveAt' = ANY($18) THEN EXCLUDED.last_active_at ELSE c.last_active_at END,
                    account_manager_id = CASE WHEN 'accountManagerId' = ANY($18) THEN EXCLUDED.account_manager_id
                                              ELSE c.account_manager_id END,
                    attributes = jsonb_strip_nulls(c.attributes || $17::jsonb),
                    version = c.version + 1,
                    updated_at = now()
                WHERE starts_with(c.org_path, $19)
                RETURNING (xmax = 0) AS created
                """, id, orgId, orgPath, text(.name), text(.phone), text(.gender), text(.birthDate), text(.city),
                text(.riskLevel), text(.aum), text(.depositBalance), text(.isPayroll), text(.hasCreditCard),
                text(.registeredAt), text(.lastActiveAt), text(.accountManagerId), attributesPatch, present, caller.orgPath)
            guard let row = rows.first else { throw Self.notFound }   // exists, but in another branch
            let created: Bool = try row.decode("created")
            try ConsentLedger.apply(update.consents, customerId: id, on: conn, recordedBy: caller.userId, requestId: requestId)
            let fetched = try conn.query("SELECT \(Customer.columns) FROM customers c WHERE c.id = $1", id)
            return (try Customer(row: fetched[0]).visible(to: caller), created)
        }
    }

    /// Customers of the caller's subtree matching `filter`, in id order.
    public func search(_ filter: CustomerFilter, caller: CallerIdentity, page: PageRequest) throws -> Page<Customer> {
        let rows = try database.query("""
            SELECT \(Customer.columns) FROM customers c
             WHERE starts_with(c.org_path, $1)
               AND ($2::text IS NULL OR c.id > $2)
               AND ($3::text IS NULL OR c.id = $3)
               AND ($4::text IS NULL OR c.name LIKE $4 || '%')
               AND ($5::text IS NULL OR reverse(c.phone) LIKE reverse($5) || '%')
               AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag_code = $6
                                                AND ($7::text IS NULL OR t.value = $7)))
               AND ($8::text IS NULL OR starts_with(c.org_path, $8))
               AND ($9::text IS NULL OR c.id = $9 OR c.name LIKE $9 || '%' OR reverse(c.phone) LIKE reverse($9) || '%')
             ORDER BY c.id LIMIT $10
            """, caller.orgPath, page.after, filter.id, filter.namePrefix.map(Self.likeEscaped),
            filter.phoneSuffix.map(Self.likeEscaped), filter.tag, filter.tagValue, try filter.orgId.map { try orgs.path(of: $0, for: caller) },
            filter.query.map(Self.likeEscaped), page.limit + 1)
        return PageRequest.page(try rows.map { try Customer(row: $0).visible(to: caller) }, limit: page.limit, key: \.id)
    }

    /// LIKE treats `%`, `_` and `\` specially: input must match literally.
    static func likeEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}

/// What `GET /api/v1/customers` can filter by.
public struct CustomerFilter: Sendable, Equatable {
    public var query: String?
    public var id: String?
    public var namePrefix: String?
    public var phoneSuffix: String?
    public var tag: String?
    public var tagValue: String?
    public var orgId: String?

    public init(query: QueryParameters) throws {
        func param(_ name: String, max: Int) throws -> String? {
            guard let v = query[name], !v.isEmpty else { return nil }
            guard v.count <= max else { throw APIError.badRequest("\(name) is longer than \(max) characters", field: name) }
            return v
        }
        self.query = try param("query", max: 100)
        id = try param("id", max: 64)
        namePrefix = try param("name", max: 100)
        phoneSuffix = try param("phone", max: 20)
        if let p = phoneSuffix, p.count < 4 || !p.allSatisfy({ $0.isASCII && $0.isNumber }) {
            throw APIError.badRequest("phone searches by the last 4 or more digits", field: "phone")
        }
        if let t = try param("tag", max: 165) {
            let parts = t.split(separator: ":", maxSplits: 1).map(String.init)
            tag = parts.first
            tagValue = parts.count > 1 ? parts[1] : nil
        }
        orgId = try param("orgId", max: 32)
    }
}
