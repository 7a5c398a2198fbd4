import Contracts
import Foundation
import Postgres

/// Writes facts and keeps the rollups in step, in the caller's transaction: a fact and its counts
/// commit together or not at all, so a report never counts a fact that is not stored, and a fact
/// stored already (a redelivery the inbox let through, a replayed batch) is neither stored nor
/// counted again: `facts` is unique on (event_id, occurred_at) and the rollups read only the rows
/// this transaction inserted.
///
/// One path for one fact and for ten million: the facts are COPYed into a per-session staging table
/// (`incoming_facts`, emptied at commit), the staged rows go into the partitioned `facts` (those
/// already there leave the staging table), then each rollup is one set-based upsert from it. A
/// statement runs only when the batch holds a fact type it counts. Upserts go in key order, so that
/// concurrent transactions lock shared rollup rows in the same order (no deadlocks). A fact's day
/// gets its partition before the fact goes in (`FactPartitions`).
///
/// Thread-safety: immutable but for the partition cache, which guards itself; the connection belongs
/// to the calling thread.
public struct FactStore: Sendable {
    /// The bank's time zone identifier: rollup days are its local days.
    public let timeZone: String
    /// Rows each rollup counter is split into (`shard`, 0 ..< rollupShards); a transaction adds to one.
    public let rollupShards: Int
    let partitionDays: FactPartitions

    /// - Parameter partitionReach: days either side of today for which a fact's arrival creates its
    ///   day's partition; facts further away wait in the default partition.
    public init(timeZone: String, rollupShards: Int = 8, partitionReach: Int = 400) {
        precondition((1...256).contains(rollupShards), "rollupShards must be 1…256")
        precondition((0...36_600).contains(partitionReach), "partitionReach must be 0…36600 days")
        self.timeZone = timeZone
        self.rollupShards = rollupShards
        partitionDays = FactPartitions(timeZone: timeZone, reach: partitionReach)
    }

    /// Stores `facts` and updates every rollup they touch; returns how many were new (a fact stored
    /// before, or twice in `facts`, is stored and counted once). Must run inside a transaction.
    @discardableResult
    public func ingest(_ facts: [Fact], on conn: PostgresConnection, now: Date = Date()) throws -> Int {
        guard !facts.isEmpty else { return 0 }
        guard conn.isInTransaction else { throw PostgresError.invalidState("FactStore.ingest runs inside a transaction") }
        // One row per event id, so that the staged rows match the inserted ones one for one.
        var seen = Set<UUID>()
        let facts = facts.filter { seen.insert($0.eventId).inserted }
        try partitionDays.prepare(for: facts, now: now, on: conn)
        try conn.execute("CREATE TEMP TABLE IF NOT EXISTS incoming_facts (LIKE facts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        // Empty here: rows staged by an earlier transaction went at its commit, or with its rollback.
        try conn.copyFrom("COPY incoming_facts (\(Fact.columns)) FROM STDIN", values: facts.lazy.map(\.copyRow))
        // A concurrent transaction inserting the same fact makes this one wait for its outcome, then
        // skip the row (committed) or insert it (rolled back): either way exactly one counts it. Rows go
        // in key order, so that two batches sharing facts wait for each other in one order (no deadlock).
        let stored = try conn.query("""
            WITH stored AS (
                INSERT INTO facts (\(Fact.columns)) SELECT \(Fact.columns) FROM incoming_facts ORDER BY event_id, occurred_at
                ON CONFLICT (event_id, occurred_at) DO NOTHING RETURNING event_id),
            stored_before AS (
                DELETE FROM incoming_facts i WHERE NOT EXISTS (SELECT 1 FROM stored s WHERE s.event_id = i.event_id))
            SELECT count(*)::bigint AS n FROM stored
            """)[0].decode("n", as: Int.self)
        guard stored > 0 else { return 0 }
        let types = Set(facts.map(\.type))
        let shard = Int.random(in: 0..<rollupShards)
        for rollup in Rollup.all where !rollup.types.isDisjoint(with: types) {
            for statement in rollup.statements {
                let binds: [(any PostgresEncodable)?] = statement.contains("$2") ? [shard, timeZone] : statement.contains("$1") ? [shard] : []
                try conn.execute(statement, binds: binds)
            }
        }
        return stored
    }

    /// Creates the partitions of the bank-local days from `from` to `through`; returns how many were new.
    @discardableResult
    public func ensurePartitions(from: Date, through: Date, on conn: PostgresConnection) throws -> Int {
        let rows = try conn.query("""
            SELECT count(*) FILTER (WHERE ensure_fact_partition(d::date, $3)) AS created
              FROM generate_series(($1::timestamptz AT TIME ZONE $3)::date, ($2::timestamptz AT TIME ZONE $3)::date, interval '1 day') d
            """, from, through, timeZone)
        return try rows.first?.decode("created", as: Int.self) ?? 0
    }

    /// The fact partitions that exist (names `facts_YYYYMMDD`), in order.
    public func partitions(on conn: PostgresConnection) throws -> [String] {
        try conn.query("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
             WHERE p.relname = 'facts' AND p.relnamespace = current_schema()::regnamespace ORDER BY c.relname
            """).map { try $0.decode("relname", as: String.self) }
    }
}

/// One rollup's upserts and the fact types that feed it.
struct Rollup: Sendable {
    let types: Set<String>
    /// Each takes the transaction's shard as `$1` when it names it, and the bank's time zone as `$2`.
    let statements: [String]

    static let entered = MarketingFactType.journeyEntered.rawValue, reached = MarketingFactType.nodeReached.rawValue,
        converted = MarketingFactType.journeyConverted.rawValue, exited = MarketingFactType.journeyExited.rawValue,
        sent = MarketingFactType.messageSent.rawValue, delivered = MarketingFactType.messageDelivered.rawValue,
        failed = MarketingFactType.messageFailed.rawValue, clicked = MarketingFactType.messageClicked.rawValue,
        suppressed = MarketingFactType.messageSuppressed.rawValue, granted = MarketingFactType.rewardGranted.rawValue
    static let messageTypes: Set<String> = [sent, delivered, failed, clicked, suppressed]
    static let rewardTypes: Set<String> = [granted, MarketingFactType.rewardRedeemed.rawValue, MarketingFactType.rewardExpired.rawValue,
                                           MarketingFactType.rewardRevoked.rawValue, MarketingFactType.lotteryDrawn.rawValue,
                                           MarketingFactType.pointsEarned.rawValue, MarketingFactType.pointsSpent.rawValue,
                                           MarketingFactType.pointsExpired.rawValue]
    static let day = "(occurred_at AT TIME ZONE $2)::date"

    /// Per-customer rows first; the shared counters last, so that their row locks are held for the
    /// shortest time before the commit.
    static let all: [Rollup] = [experiments, experimentPlans, canvasNodes, canvasSuppressions, canvasTotals, channels, rewards,
                                lifecycle, activity, behaviour]

    static let canvasNodes = Rollup(types: messageTypes.union([reached, converted]), statements: ["""
        INSERT INTO canvas_nodes AS r (canvas_id, node_id, org_path, node_type, reached, sent, delivered, failed, clicked, suppressed, converted, shard)
        SELECT canvas_id, node_id, org_path, max(node_type),
               count(*) FILTER (WHERE type = '\(reached)'), count(*) FILTER (WHERE type = '\(sent)'),
               count(*) FILTER (WHERE type = '\(delivered)'), count(*) FILTER (WHERE type = '\(failed)'),
               count(*) FILTER (WHERE type = '\(clicked)'), count(*) FILTER (WHERE type = '\(suppressed)'),
               count(*) FILTER (WHERE type = '\(converted)'), $1::smallint
          FROM incoming_facts
         WHERE canvas_id IS NOT NULL AND node_id IS NOT NULL
           AND type IN ('\(reached)', '\(sent)', '\(delivered)', '\(failed)', '\(clicked)', '\(suppressed)', '\(converted)')
         GROUP BY canvas_id, node_id, org_path ORDER BY canvas_id, node_id, org_path
        ON CONFLICT (canvas_id, node_id, org_path, shard) DO UPDATE SET
               node_type = coalesce(excluded.node_type, r.node_type), reached = r.reached + excluded.reached,
               sent = r.sent + excluded.sent, delivered = r.delivered + excluded.delivered, failed = r.failed + excluded.failed,
               clicked = r.clicked + excluded.clicked, suppressed = r.suppressed + excluded.suppressed,
               converted = r.converted + excluded.converted
        """])

    static let canvasSuppressions = Rollup(types: [suppressed], statements: ["""
        INSERT INTO canvas_suppressions AS r (canvas_id, node_id, org_path, reason, messages, shard)
        SELECT canvas_id, node_id, org_path, coalesce(reason, 'unknown'), count(*), $1::smallint
          FROM incoming_facts WHERE type = '\(suppressed)' AND canvas_id IS NOT NULL AND node_id IS NOT NULL
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (canvas_id, node_id, org_path, reason, shard) DO UPDATE SET messages = r.messages + excluded.messages
        """])

    /// A lottery draw is the grant of a lottery reward (the rewards service sends it instead of `granted`):
    /// both count as granted rewards and their cost.
    static let drawn = MarketingFactType.lotteryDrawn.rawValue
    static let canvasTotals = Rollup(types: messageTypes.union([entered, converted, exited, granted, drawn]), statements: ["""
        INSERT INTO canvas_totals AS r (canvas_id, org_path, entered, converted, exited, converted_amount, message_cost, reward_cost, rewards_granted, shard)
        SELECT canvas_id, org_path, count(*) FILTER (WHERE type = '\(entered)'), count(*) FILTER (WHERE type = '\(converted)'),
               count(*) FILTER (WHERE type = '\(exited)'), coalesce(sum(amount) FILTER (WHERE type = '\(converted)'), 0),
               coalesce(sum(cost) FILTER (WHERE type IN ('\(sent)', '\(delivered)', '\(failed)', '\(clicked)', '\(suppressed)')), 0),
               coalesce(sum(cost) FILTER (WHERE type IN ('\(granted)', '\(drawn)')), 0),
               count(*) FILTER (WHERE type IN ('\(granted)', '\(drawn)')), $1::smallint
          FROM incoming_facts
         WHERE canvas_id IS NOT NULL
           AND type IN ('\(entered)', '\(converted)', '\(exited)', '\(granted)', '\(drawn)', '\(sent)', '\(delivered)', '\(failed)', '\(clicked)', '\(suppressed)')
         GROUP BY canvas_id, org_path ORDER BY canvas_id, org_path
        ON CONFLICT (canvas_id, org_path, shard) DO UPDATE SET
               entered = r.entered + excluded.entered, converted = r.converted + excluded.converted, exited = r.exited + excluded.exited,
               converted_amount = r.converted_amount + excluded.converted_amount, message_cost = r.message_cost + excluded.message_cost,
               reward_cost = r.reward_cost + excluded.reward_cost, rewards_granted = r.rewards_granted + excluded.rewards_granted
        """])

    /// The `canvas_version` key of an entry that did not name its version.
    static let unknownVersion = -1

    /// Each (canvas, customer) of the batch: the arm and the canvas version of its first entry (the
    /// same entry for both: ties on the time go by event id), and whether it converted.
    static let experimentSource = """
        src AS (
            SELECT canvas_id, customer_id, (array_agg(org_path ORDER BY occurred_at))[1] AS org_path,
                   (array_agg(arm ORDER BY occurred_at, event_id) FILTER (WHERE type = '\(entered)' AND arm IS NOT NULL))[1] AS arm,
                   (array_agg(coalesce(canvas_version, \(unknownVersion)) ORDER BY occurred_at, event_id)
                        FILTER (WHERE type = '\(entered)' AND arm IS NOT NULL))[1] AS canvas_version,
                   bool_or(type = '\(converted)') AS converted
              FROM incoming_facts WHERE canvas_id IS NOT NULL AND type IN ('\(entered)', '\(converted)')
             GROUP BY canvas_id, customer_id)
        """

    /// A customer counts in its arm (of its entry's canvas version) once its arm is known, and as a
    /// conversion once, whichever of the entry and the conversion arrives first. The members are made to exist, then locked (so the
    /// third statement reads their latest state: READ COMMITTED takes its snapshot after the locks),
    /// then moved and the arms' counts raised by exactly the members whose state changed.
    static let experiments = Rollup(types: [entered, converted], statements: [
        """
        WITH \(experimentSource)
        INSERT INTO experiment_members (canvas_id, customer_id, org_path)
        SELECT canvas_id, customer_id, org_path FROM src ORDER BY canvas_id, customer_id
        ON CONFLICT (canvas_id, customer_id) DO NOTHING
        """,
        """
        WITH \(experimentSource)
        SELECT 1 FROM experiment_members m JOIN src s ON s.canvas_id = m.canvas_id AND s.customer_id = m.customer_id
         ORDER BY m.canvas_id, m.customer_id FOR UPDATE OF m
        """,
        """
        WITH \(experimentSource),
        moved AS (
            SELECT m.canvas_id, m.customer_id, m.org_path, m.arm AS old_arm, m.converted AS old_converted,
                   coalesce(m.arm, s.arm) AS arm,
                   CASE WHEN m.arm IS NULL THEN s.canvas_version ELSE coalesce(m.canvas_version, \(unknownVersion)) END AS canvas_version,
                   m.converted OR s.converted AS converted
              FROM experiment_members m JOIN src s ON s.canvas_id = m.canvas_id AND s.customer_id = m.customer_id),
        updated AS (
            UPDATE experiment_members m SET arm = v.arm, canvas_version = v.canvas_version, converted = v.converted FROM moved v
             WHERE m.canvas_id = v.canvas_id AND m.customer_id = v.customer_id
               AND (m.arm IS DISTINCT FROM v.arm OR m.converted <> v.converted))
        INSERT INTO experiment_arms AS r (canvas_id, canvas_version, arm, org_path, customers, conversions, shard)
        SELECT canvas_id, canvas_version, arm, org_path, count(*) FILTER (WHERE old_arm IS NULL),
               count(*) FILTER (WHERE converted AND (old_arm IS NULL OR NOT old_converted)), $1::smallint
          FROM moved WHERE arm IS NOT NULL
         GROUP BY canvas_id, canvas_version, arm, org_path
        HAVING count(*) FILTER (WHERE old_arm IS NULL) > 0 OR count(*) FILTER (WHERE converted AND (old_arm IS NULL OR NOT old_converted)) > 0
         ORDER BY canvas_id, canvas_version, arm, org_path
        ON CONFLICT (canvas_id, canvas_version, arm, org_path, shard) DO UPDATE SET
               customers = r.customers + excluded.customers, conversions = r.conversions + excluded.conversions
        """,
    ])

    /// Each canvas version's planned share of each arm: a new version may change the weights.
    static let experimentPlans = Rollup(types: [entered], statements: ["""
        INSERT INTO experiment_plans AS r (canvas_id, canvas_version, arm, planned_share, seen_at)
        SELECT * FROM (
            SELECT DISTINCT ON (canvas_id, coalesce(canvas_version, \(unknownVersion)), arm)
                   canvas_id, coalesce(canvas_version, \(unknownVersion)) AS canvas_version, arm, planned_share, occurred_at
              FROM incoming_facts WHERE type = '\(entered)' AND canvas_id IS NOT NULL AND arm IS NOT NULL AND planned_share IS NOT NULL
             ORDER BY canvas_id, coalesce(canvas_version, \(unknownVersion)), arm, occurred_at DESC) s
         -- An unchanged plan is not written: every entry carries it, and the upsert would lock the row.
         WHERE NOT EXISTS (SELECT 1 FROM experiment_plans p WHERE p.canvas_id = s.canvas_id AND p.canvas_version = s.canvas_version
                             AND p.arm = s.arm AND p.planned_share = s.planned_share)
         ORDER BY canvas_id, canvas_version, arm
        ON CONFLICT (canvas_id, canvas_version, arm) DO UPDATE SET planned_share = excluded.planned_share, seen_at = excluded.seen_at
         WHERE excluded.seen_at >= r.seen_at
        """])

    static let channels = Rollup(types: messageTypes, statements: ["""
        INSERT INTO channel_daily AS r (day, channel, org_path, sent, delivered, failed, clicked, suppressed, cost, shard)
        SELECT \(day), coalesce(channel, 'unknown'), org_path,
               count(*) FILTER (WHERE type = '\(sent)'), count(*) FILTER (WHERE type = '\(delivered)'),
               count(*) FILTER (WHERE type = '\(failed)'), count(*) FILTER (WHERE type = '\(clicked)'),
               count(*) FILTER (WHERE type = '\(suppressed)'), coalesce(sum(cost), 0), $1::smallint
          FROM incoming_facts WHERE type IN ('\(sent)', '\(delivered)', '\(failed)', '\(clicked)', '\(suppressed)')
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (day, channel, org_path, shard) DO UPDATE SET
               sent = r.sent + excluded.sent, delivered = r.delivered + excluded.delivered, failed = r.failed + excluded.failed,
               clicked = r.clicked + excluded.clicked, suppressed = r.suppressed + excluded.suppressed, cost = r.cost + excluded.cost
        """])

    static let rewards = Rollup(types: rewardTypes, statements: ["""
        INSERT INTO reward_daily AS r (day, reward_id, org_path, reward_kind, granted, redeemed, expired, revoked, drawn,
                                       points_earned, points_spent, points_expired, cost, shard)
        SELECT \(day), coalesce(reward_id, '-'), org_path, max(reward_kind),
               count(*) FILTER (WHERE type = '\(granted)'), count(*) FILTER (WHERE type = 'rewards.redeemed'),
               count(*) FILTER (WHERE type = 'rewards.expired'), count(*) FILTER (WHERE type = 'rewards.revoked'),
               count(*) FILTER (WHERE type = 'rewards.lottery_drawn'),
               coalesce(sum(points) FILTER (WHERE type = 'rewards.points_earned'), 0),
               coalesce(sum(points) FILTER (WHERE type = 'rewards.points_spent'), 0),
               coalesce(sum(points) FILTER (WHERE type = 'rewards.points_expired'), 0),
               coalesce(sum(cost) FILTER (WHERE type IN ('\(granted)', 'rewards.lottery_drawn')), 0), $1::smallint
          FROM incoming_facts WHERE type LIKE 'rewards.%'
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (day, reward_id, org_path, shard) DO UPDATE SET
               reward_kind = coalesce(excluded.reward_kind, r.reward_kind), granted = r.granted + excluded.granted,
               redeemed = r.redeemed + excluded.redeemed, expired = r.expired + excluded.expired, revoked = r.revoked + excluded.revoked,
               drawn = r.drawn + excluded.drawn, points_earned = r.points_earned + excluded.points_earned,
               points_spent = r.points_spent + excluded.points_spent, points_expired = r.points_expired + excluded.points_expired,
               cost = r.cost + excluded.cost
        """])

    static let lifecycle = Rollup(types: [FactDecoder.lifecycleChangedType], statements: ["""
        INSERT INTO lifecycle_daily AS r (day, org_path, from_stage, to_stage, customers, shard)
        SELECT \(day), org_path, coalesce(from_stage, ''), coalesce(to_stage, ''), count(*), $1::smallint
          FROM incoming_facts WHERE type = '\(FactDecoder.lifecycleChangedType)'
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (day, org_path, from_stage, to_stage, shard) DO UPDATE SET customers = r.customers + excluded.customers
        """])

    static let activity = Rollup(types: [entered, converted, sent, delivered, clicked, granted, drawn], statements: ["""
        INSERT INTO activity_daily AS r (day, org_path, canvas_id, entered, sends, delivered, clicks, conversions, converted_amount, reward_cost, shard)
        SELECT \(day), org_path, coalesce(canvas_id, ''), count(*) FILTER (WHERE type = '\(entered)'),
               count(*) FILTER (WHERE type = '\(sent)'), count(*) FILTER (WHERE type = '\(delivered)'),
               count(*) FILTER (WHERE type = '\(clicked)'), count(*) FILTER (WHERE type = '\(converted)'),
               coalesce(sum(amount) FILTER (WHERE type = '\(converted)'), 0), coalesce(sum(cost) FILTER (WHERE type IN ('\(granted)', '\(drawn)')), 0), $1::smallint
          FROM incoming_facts WHERE type IN ('\(entered)', '\(converted)', '\(sent)', '\(delivered)', '\(clicked)', '\(granted)', '\(drawn)')
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (day, org_path, canvas_id, shard) DO UPDATE SET
               entered = r.entered + excluded.entered, sends = r.sends + excluded.sends, delivered = r.delivered + excluded.delivered,
               clicks = r.clicks + excluded.clicks, conversions = r.conversions + excluded.conversions,
               converted_amount = r.converted_amount + excluded.converted_amount, reward_cost = r.reward_cost + excluded.reward_cost
        """])

    static let behaviour = Rollup(types: [FactDecoder.behaviourEventType], statements: ["""
        INSERT INTO event_daily AS r (day, org_path, event_name, events, shard)
        SELECT \(day), org_path, event_name, count(*), $1::smallint
          FROM incoming_facts WHERE type = '\(FactDecoder.behaviourEventType)' AND event_name IS NOT NULL
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (day, org_path, event_name, shard) DO UPDATE SET events = r.events + excluded.events
        """])
}
