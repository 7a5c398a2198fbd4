import Foundation
import Postgres

/// The one way behaviour events are written: ingestion and lifecycle changes alike.
enum EventStore {
    /// Stores the events whose ids are new (a repeated id is skipped, never counted twice) with their
    /// aggregates — daily counts (days in `timeZone`) and first/last/total — in one statement on
    /// `conn` (the caller's transaction). Rows are written in key order so concurrent writers cannot
    /// deadlock. Returns the ids stored now. The arrays run in parallel; partitions must exist.
    static func write(on conn: PostgresConnection, eventIds: [String], customerIds: [String], orgPaths: [String],
                      names: [String], occurredAt: [Date], properties: [String], timeZone: String) throws -> Set<String> {
        let rows = try conn.query("""
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
                    AS i(event_id, customer_id, org_path, name, occurred_at, properties)),
            fresh AS (
                INSERT INTO event_ids (event_id) SELECT event_id FROM input ORDER BY event_id
                ON CONFLICT (event_id) DO NOTHING RETURNING event_id),
            stored AS (
                INSERT INTO events (event_id, customer_id, org_path, name, occurred_at, properties)
                SELECT i.event_id, i.customer_id, i.org_path, i.name, i.occurred_at, i.properties::jsonb
                  FROM input i JOIN fresh f ON f.event_id = i.event_id
                RETURNING event_id, customer_id, name, occurred_at),
            daily AS (
                INSERT INTO event_daily_counts AS d (customer_id, name, day, count)
                SELECT customer_id, name, (occurred_at AT TIME ZONE $7)::date AS day, count(*)
                  FROM stored GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                ON CONFLICT (customer_id, name, day) DO UPDATE SET count = d.count + EXCLUDED.count),
            summaries AS (
                INSERT INTO event_summaries AS s (customer_id, name, first_at, last_at, total)
                SELECT customer_id, name, min(occurred_at), max(occurred_at), count(*)
                  FROM stored GROUP BY 1, 2 ORDER BY 1, 2
                ON CONFLICT (customer_id, name) DO UPDATE SET
                    first_at = least(s.first_at, EXCLUDED.first_at),
                    last_at = greatest(s.last_at, EXCLUDED.last_at),
                    total = s.total + EXCLUDED.total)
            SELECT event_id FROM stored
            """, eventIds, customerIds, orgPaths, names, occurredAt, properties, timeZone)
        var stored = Set<String>()
        for row in rows { stored.insert(try row.decode("event_id")) }
        return stored
    }
}
