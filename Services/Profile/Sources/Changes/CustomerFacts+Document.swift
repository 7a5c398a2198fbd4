import Contracts
import Foundation
import Postgres

extension CustomerFactsDocument {
    /// The documents of `ids` (in the order given), read on `conn` so a snapshot reads one consistent view.
    static func load(_ ids: [String], on conn: PostgresConnection) throws -> [CustomerFactsDocument] {
        guard !ids.isEmpty else { return [] }
        var documents: [String: CustomerFactsDocument] = [:]
        // Each table is probed by its key per id (`OFFSET 0` keeps the planner from flattening the probe):
        // `customer_id = ANY($1)` on a table not analyzed since a bulk load was planned as a sequential scan
        // matching every row against the whole array (seconds per page of a million customers' tags).
        for row in try conn.query("""
            SELECT \(Customer.columns) FROM unnest($1::text[]) AS i(id)
             CROSS JOIN LATERAL (SELECT * FROM customers WHERE id = i.id OFFSET 0) AS c
            """, ids) {
            let c = try Customer(row: row)
            documents[c.id] = CustomerFactsDocument(customerId: c.id, exists: true, orgPath: c.orgPath,
                                                    attributes: attributes(of: c), tags: [:], events: [:])
        }
        for row in try conn.query("""
            SELECT t.customer_id, t.tag_code, t.value FROM unnest($1::text[]) AS i(id)
             CROSS JOIN LATERAL (SELECT customer_id, tag_code, value FROM customer_tags WHERE customer_id = i.id OFFSET 0) AS t
            """, ids) {
            let id: String = try row.decode("customer_id")
            documents[id]?.tags[try row.decode("tag_code")] = try row.decode("value")
        }
        for row in try conn.query("""
            SELECT s.customer_id, s.name, s.total, s.first_at, s.last_at FROM unnest($1::text[]) AS i(id)
             CROSS JOIN LATERAL (SELECT customer_id, name, total, first_at, last_at FROM event_summaries WHERE customer_id = i.id OFFSET 0) AS s
            """, ids) {
            let id: String = try row.decode("customer_id")
            documents[id]?.events[try row.decode("name")] = EventAggregate(
                total: try row.decode("total"), firstAt: try row.decode("first_at"), lastAt: try row.decode("last_at"), daily: [:])
        }
        for row in try conn.query("""
            SELECT d.customer_id, d.name, d.day::text AS day, d.count FROM unnest($1::text[]) AS i(id)
             CROSS JOIN LATERAL (SELECT customer_id, name, day, count FROM event_daily_counts
                                  WHERE customer_id = i.id AND day >= current_date - $2::int OFFSET 0) AS d
            """, ids, dailyWindowDays) {
            let id: String = try row.decode("customer_id"), name: String = try row.decode("name")
            documents[id]?.events[name]?.daily[try row.decode("day")] = try row.decode("count")
        }
        return ids.map {
            documents[$0] ?? CustomerFactsDocument(customerId: $0, exists: false, orgPath: nil, attributes: [:], tags: [:], events: [:])
        }
    }

    /// Built-in and custom attributes in one map, under their API names (as rules name them).
    static func attributes(of c: Customer) -> [String: JSONValue] {
        var a = c.attributes
        func put(_ key: CustomerField, _ value: JSONValue?) { if let value { a[key.rawValue] = value } }
        put(.orgId, .string(c.orgId))
        put(.name, c.name.map(JSONValue.string))
        put(.phone, c.phone.map(JSONValue.string))
        put(.gender, c.gender.map(JSONValue.string))
        put(.birthDate, c.birthDate.map(JSONValue.string))
        put(.city, c.city.map(JSONValue.string))
        put(.riskLevel, c.riskLevel.map(JSONValue.string))
        put(.aum, c.aum.map { .string("\($0)") })          // decimal text: the rule evaluator compares it exactly
        put(.depositBalance, c.depositBalance.map { .string("\($0)") })
        put(.isPayroll, c.isPayroll.map(JSONValue.bool))
        put(.hasCreditCard, c.hasCreditCard.map(JSONValue.bool))
        put(.registeredAt, c.registeredAt.map { .string(JSONCoding.formatDate($0)) })
        put(.lastActiveAt, c.lastActiveAt.map { .string(JSONCoding.formatDate($0)) })
        put(.accountManagerId, c.accountManagerId.map(JSONValue.string))
        a["marketingOptOut"] = .bool(c.marketingOptOut)
        return a
    }
}
