import Contracts
import Foundation
import Postgres

/// The reports' reads: all from the rollups, each summing the rows whose org path starts with the
/// report's (the caller's scope, or a unit inside it).
///
/// Thread-safety: immutable; the pool is thread-safe.
public struct ReportStore: Sendable {
    let database: PostgresPool
    let days: BankDays

    public init(database: PostgresPool, days: BankDays) {
        self.database = database
        self.days = days
    }

    public func funnel(canvasId: String, orgPath: String) throws -> FunnelReport {
        try database.withConnection { conn in
            let nodeRows = try conn.query("""
                SELECT node_id, max(node_type) AS node_type, sum(reached)::bigint AS reached, sum(sent)::bigint AS sent,
                       sum(delivered)::bigint AS delivered, sum(failed)::bigint AS failed, sum(clicked)::bigint AS clicked,
                       sum(suppressed)::bigint AS suppressed, sum(converted)::bigint AS converted
                  FROM canvas_nodes WHERE canvas_id = $1 AND starts_with(org_path, $2)
                 GROUP BY node_id ORDER BY sum(reached) DESC, node_id
                """, canvasId, orgPath)
            var reasons: [String: [String: Int]] = [:]
            for row in try conn.query("""
                SELECT node_id, reason, sum(messages)::bigint AS messages FROM canvas_suppressions
                 WHERE canvas_id = $1 AND starts_with(org_path, $2) GROUP BY node_id, reason
                """, canvasId, orgPath) {
                reasons[try row.decode("node_id"), default: [:]][try row.decode("reason")] = try row.decode("messages", as: Int.self)
            }
            let totals = try conn.query("""
                SELECT coalesce(sum(entered), 0)::bigint AS entered, coalesce(sum(converted), 0)::bigint AS converted,
                       coalesce(sum(exited), 0)::bigint AS exited, coalesce(sum(converted_amount), 0)::numeric(20, 2)::text AS amount
                  FROM canvas_totals WHERE canvas_id = $1 AND starts_with(org_path, $2)
                """, canvasId, orgPath)[0]
            let nodes = try nodeRows.map { row -> FunnelReport.Node in
                let id: String = try row.decode("node_id")
                let reached: Int = try row.decode("reached"), sent: Int = try row.decode("sent")
                let delivered: Int = try row.decode("delivered"), clicked: Int = try row.decode("clicked")
                let converted: Int = try row.decode("converted")
                return FunnelReport.Node(nodeId: id, nodeType: try row.decode("node_type"), reached: reached, sent: sent, delivered: delivered,
                                         failed: try row.decode("failed"), clicked: clicked, suppressed: try row.decode("suppressed"),
                                         suppressedByReason: reasons[id] ?? [:], converted: converted,
                                         deliveryRate: Ratio.of(delivered, sent), clickRate: Ratio.of(clicked, delivered),
                                         conversionRate: Ratio.of(converted, reached))
            }
            let entered: Int = try totals.decode("entered"), converted: Int = try totals.decode("converted")
            return FunnelReport(canvasId: canvasId, orgPath: orgPath, entered: entered, converted: converted,
                                exited: try totals.decode("exited"), conversionRate: Ratio.of(converted, entered),
                                convertedAmount: try totals.decode("amount"), nodes: nodes)
        }
    }

    /// The arms in scope per canvas version, with each version's planned shares; arms planned but
    /// without customers are included (an empty arm is the plainest mismatch), but only when the
    /// caller sees any arm at all.
    public func experiments(canvasId: String, orgPath: String) throws -> ExperimentReport {
        let rows = try database.query("""
            SELECT coalesce(a.canvas_version, p.canvas_version) AS canvas_version, coalesce(a.arm, p.arm) AS arm,
                   coalesce(a.customers, 0)::bigint AS customers, coalesce(a.conversions, 0)::bigint AS conversions, p.planned_share
              FROM (SELECT canvas_version, arm, sum(customers) AS customers, sum(conversions) AS conversions FROM experiment_arms
                     WHERE canvas_id = $1 AND starts_with(org_path, $2) GROUP BY canvas_version, arm) a
              FULL JOIN (SELECT canvas_version, arm, planned_share FROM experiment_plans WHERE canvas_id = $1) p
                ON p.canvas_version = a.canvas_version AND p.arm = a.arm
             ORDER BY 1, 2
            """, canvasId, orgPath)
        var counts = try rows.map { row in
            let version: Int = try row.decode("canvas_version")
            return ExperimentReport.VersionArm(canvasVersion: version == Rollup.unknownVersion ? nil : version, arm: try row.decode("arm"),
                                               count: ArmCount(customers: try row.decode("customers"), conversions: try row.decode("conversions")),
                                               plannedShare: try row.decode("planned_share", as: Double?.self))
        }
        if counts.allSatisfy({ $0.count.customers == 0 }) { counts = [] }
        return ExperimentReport(canvasId: canvasId, orgPath: orgPath, versionArms: counts)
    }

    public func channels(_ q: ReportQuery) throws -> ChannelReport {
        let rows = try database.query("""
            SELECT channel, sum(sent)::bigint AS sent, sum(delivered)::bigint AS delivered, sum(failed)::bigint AS failed,
                   sum(clicked)::bigint AS clicked, sum(suppressed)::bigint AS suppressed, sum(cost)::numeric(20, 2)::text AS cost
              FROM channel_daily WHERE day BETWEEN $1::date AND $2::date AND starts_with(org_path, $3)
             GROUP BY channel ORDER BY channel
            """, q.from, q.to, q.orgPath)
        let channels = try rows.map { row -> ChannelReport.Channel in
            let sent: Int = try row.decode("sent"), delivered: Int = try row.decode("delivered"), clicked: Int = try row.decode("clicked")
            let cost: String = try row.decode("cost")
            return ChannelReport.Channel(channel: try row.decode("channel"), sent: sent, delivered: delivered, failed: try row.decode("failed"),
                                         clicked: clicked, suppressed: try row.decode("suppressed"), cost: cost,
                                         deliveryRate: Ratio.of(delivered, sent), clickRate: Ratio.of(clicked, delivered),
                                         costPerClick: clicked > 0 ? Ratio.money(Ratio.decimal(cost) / Decimal(clicked)) : nil)
        }
        return ChannelReport(from: q.from, to: q.to, orgPath: q.orgPath, channels: channels)
    }

    public static let maxRows = 1_000

    public func rewards(_ q: ReportQuery, by: RewardReport.Grouping) throws -> RewardReport {
        switch by {
        case .reward:
            let rows = try database.query("""
                SELECT reward_id, max(reward_kind) AS reward_kind, sum(granted)::bigint AS granted, sum(redeemed)::bigint AS redeemed,
                       sum(expired)::bigint AS expired, sum(revoked)::bigint AS revoked, sum(drawn)::bigint AS drawn,
                       sum(points_earned)::bigint AS points_earned, sum(points_spent)::bigint AS points_spent,
                       sum(points_expired)::bigint AS points_expired, sum(cost)::numeric(20, 2)::text AS cost
                  FROM reward_daily WHERE day BETWEEN $1::date AND $2::date AND starts_with(org_path, $3)
                 GROUP BY reward_id ORDER BY sum(cost) DESC, reward_id LIMIT $4
                """, q.from, q.to, q.orgPath, Self.maxRows)
            let rewards = try rows.map { row -> RewardReport.Reward in
                let granted: Int = try row.decode("granted"), redeemed: Int = try row.decode("redeemed")
                return RewardReport.Reward(rewardId: try row.decode("reward_id"), rewardKind: try row.decode("reward_kind"), granted: granted,
                                           redeemed: redeemed, expired: try row.decode("expired"), revoked: try row.decode("revoked"),
                                           drawn: try row.decode("drawn"), pointsEarned: try row.decode("points_earned"),
                                           pointsSpent: try row.decode("points_spent"), pointsExpired: try row.decode("points_expired"),
                                           cost: try row.decode("cost"), redemptionRate: Ratio.of(redeemed, granted))
            }
            return RewardReport(by: by.rawValue, from: q.from, to: q.to, orgPath: q.orgPath, rewards: rewards, canvases: nil)
        case .canvas:
            let rows = try database.query("""
                SELECT canvas_id, sum(converted)::bigint AS conversions, sum(converted_amount)::numeric(20, 2)::text AS amount,
                       sum(rewards_granted)::bigint AS granted, sum(reward_cost)::numeric(20, 2)::text AS reward_cost,
                       sum(message_cost)::numeric(20, 2)::text AS message_cost
                  FROM canvas_totals WHERE starts_with(org_path, $1)
                 GROUP BY canvas_id HAVING sum(reward_cost) <> 0 OR sum(message_cost) <> 0 OR sum(converted) > 0
                 ORDER BY sum(reward_cost) + sum(message_cost) DESC, canvas_id LIMIT $2
                """, q.orgPath, Self.maxRows)
            let canvases = try rows.map { row -> RewardReport.Canvas in
                let amount = Ratio.decimal(try row.decode("amount")), reward = Ratio.decimal(try row.decode("reward_cost"))
                let message = Ratio.decimal(try row.decode("message_cost"))
                let cost = reward + message
                return RewardReport.Canvas(canvasId: try row.decode("canvas_id"), conversions: try row.decode("conversions"),
                                           convertedAmount: Ratio.money(amount), rewardsGranted: try row.decode("granted"),
                                           rewardCost: Ratio.money(reward), messageCost: Ratio.money(message), totalCost: Ratio.money(cost),
                                           roi: cost > 0 ? Ratio.of(amount - cost, cost) : nil)
            }
            return RewardReport(by: by.rawValue, from: nil, to: nil, orgPath: q.orgPath, rewards: nil, canvases: canvases)
        }
    }

    public func lifecycle(_ q: ReportQuery, interval: LifecycleReport.Interval) throws -> LifecycleReport {
        let rows = try database.query("""
            SELECT to_char(date_trunc($4, day::timestamp), 'YYYY-MM-DD') AS period, from_stage, to_stage, sum(customers)::bigint AS customers
              FROM lifecycle_daily WHERE day BETWEEN $1::date AND $2::date AND starts_with(org_path, $3)
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            """, q.from, q.to, q.orgPath, interval.rawValue)
        let movements = try rows.map { row in
            LifecycleReport.Movement(period: try row.decode("period"), fromStage: try row.decode("from_stage"),
                                     toStage: try row.decode("to_stage"), customers: try row.decode("customers"))
        }
        return LifecycleReport(from: q.from, to: q.to, interval: interval.rawValue, orgPath: q.orgPath, movements: movements)
    }

    public static let topCanvases = 10

    public func dashboard(orgPath: String, now: Date = Date()) throws -> DashboardReport {
        let day = days.today(now: now)
        return try database.withConnection { conn in
            let figures = """
                coalesce(sum(entered), 0)::bigint AS entered, coalesce(sum(sends), 0)::bigint AS sends,
                coalesce(sum(delivered), 0)::bigint AS delivered, coalesce(sum(clicks), 0)::bigint AS clicks,
                coalesce(sum(conversions), 0)::bigint AS conversions, coalesce(sum(converted_amount), 0)::numeric(20, 2)::text AS amount,
                coalesce(sum(reward_cost), 0)::numeric(20, 2)::text AS reward_cost
                """
            func read(_ row: PostgresRow) throws -> DashboardReport.Figures {
                DashboardReport.Figures(entered: try row.decode("entered"), sends: try row.decode("sends"), delivered: try row.decode("delivered"),
                                        clicks: try row.decode("clicks"), conversions: try row.decode("conversions"),
                                        convertedAmount: try row.decode("amount"), rewardCost: try row.decode("reward_cost"))
            }
            let totals = try read(try conn.query("SELECT \(figures) FROM activity_daily WHERE day = $1::date AND starts_with(org_path, $2)",
                                                 day, orgPath)[0])
            let units = try conn.query("""
                SELECT org_path, \(figures) FROM activity_daily WHERE day = $1::date AND starts_with(org_path, $2)
                 GROUP BY org_path ORDER BY org_path LIMIT $3
                """, day, orgPath, Self.maxRows).map { DashboardReport.UnitFigures(orgPath: try $0.decode("org_path"), figures: try read($0)) }
            let canvases = try conn.query("""
                SELECT canvas_id, sum(entered)::bigint AS entered, sum(sends)::bigint AS sends, sum(conversions)::bigint AS conversions,
                       sum(converted_amount)::numeric(20, 2)::text AS amount
                  FROM activity_daily WHERE day = $1::date AND starts_with(org_path, $2) AND canvas_id <> ''
                 GROUP BY canvas_id ORDER BY sum(conversions) DESC, sum(sends) DESC, canvas_id LIMIT $3
                """, day, orgPath, Self.topCanvases).map {
                DashboardReport.CanvasFigures(canvasId: try $0.decode("canvas_id"), entered: try $0.decode("entered"), sends: try $0.decode("sends"),
                                              conversions: try $0.decode("conversions"), convertedAmount: try $0.decode("amount"))
            }
            let channels = try conn.query("""
                SELECT channel, sum(sent)::bigint AS sent, sum(delivered)::bigint AS delivered, sum(clicked)::bigint AS clicked
                  FROM channel_daily WHERE day = $1::date AND starts_with(org_path, $2) GROUP BY channel ORDER BY channel
                """, day, orgPath).map {
                DashboardReport.ChannelSends(channel: try $0.decode("channel"), sent: try $0.decode("sent"), delivered: try $0.decode("delivered"),
                                             clicked: try $0.decode("clicked"))
            }
            let events = try conn.query("""
                SELECT event_name, sum(events)::bigint AS events FROM event_daily WHERE day = $1::date AND starts_with(org_path, $2)
                 GROUP BY event_name ORDER BY sum(events) DESC, event_name
                """, day, orgPath).map { DashboardReport.EventCount(name: try $0.decode("event_name"), events: try $0.decode("events")) }
            return DashboardReport(day: day, timeZone: days.timeZone.identifier, orgPath: orgPath, totals: totals,
                                   behaviourEvents: events.reduce(0) { $0 + $1.events }, topCanvases: canvases, channels: channels,
                                   topEvents: Array(events.prefix(10)), units: units, generatedAt: now)
        }
    }
}
