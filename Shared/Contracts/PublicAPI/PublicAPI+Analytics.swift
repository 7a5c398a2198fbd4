/// The analytics service's endpoints (DESIGN.md §3): reports read from rollups, each in the caller's
/// org scope, as JSON or (`format=csv`) as a CSV table with Chinese column labels.
extension PublicAPI {
    static var analyticsSchemas: [String: JSONValue] {
        let rate = JSONSchema.number(minimum: 0, description: "A share 0…1; absent when its denominator is zero.")
        let money = JSONSchema.string(pattern: "^-?[0-9]+\\.[0-9]{2}$", description: "CNY, two decimals.")
        let count = JSONSchema.integer(minimum: 0)
        let srmOutcome = JSONSchema.string(enumeration: ["ok", "mismatch", "not_enough_data", "plan_unknown"])
        let figures = JSONSchema.object([
            "entered": count, "sends": count, "delivered": count, "clicks": count, "conversions": count,
            "convertedAmount": money, "rewardCost": money,
        ])
        return [
            "FunnelReport": JSONSchema.object([
                "canvasId": JSONSchema.string(), "orgPath": JSONSchema.string(),
                "entered": count, "converted": count, "exited": count, "conversionRate": rate, "convertedAmount": money,
                "nodes": JSONSchema.array(JSONSchema.object([
                    "nodeId": JSONSchema.string(), "nodeType": JSONSchema.string(),
                    "reached": count, "sent": count, "delivered": count, "failed": count, "clicked": count, "suppressed": count,
                    "suppressedByReason": JSONSchema.map(count),
                    "converted": JSONSchema.integer(minimum: 0, description: "Conversions while the journey was at this node (last touch)."),
                    "deliveryRate": rate, "clickRate": rate, "conversionRate": rate,
                ], required: ["nodeId", "reached", "sent", "delivered", "failed", "clicked", "suppressed", "suppressedByReason", "converted"])),
            ], required: ["canvasId", "orgPath", "entered", "converted", "exited", "convertedAmount", "nodes"]),
            "ExperimentReport": JSONSchema.object([
                "canvasId": JSONSchema.string(), "orgPath": JSONSchema.string(),
                "baseline": JSONSchema.string(description: "The control group, else the first A/B branch by name."),
                "significanceLevel": JSONSchema.number(), "confidenceInterval": JSONSchema.string(),
                "arms": JSONSchema.array(JSONSchema.object([
                    "arm": JSONSchema.string(), "isBaseline": JSONSchema.boolean, "customers": count, "conversions": count,
                    "rate": rate, "plannedShare": rate, "observedShare": rate,
                    "absoluteUplift": JSONSchema.number(description: "Rate minus the baseline's rate."),
                    "relativeUplift": JSONSchema.number(description: "Absolute uplift over the baseline's rate."),
                    "ciLow": JSONSchema.number(description: "95% Newcombe (Wilson score) interval of the difference: low end."),
                    "ciHigh": JSONSchema.number(),
                    "zScore": JSONSchema.number(description: "Pooled two-proportion z statistic."),
                    "pValue": JSONSchema.number(minimum: 0, description: "Two-sided; absent when there is not enough data."),
                    "verdict": JSONSchema.string(enumeration: ["baseline", "significant", "not_significant", "not_enough_data"]),
                ], required: ["arm", "isBaseline", "customers", "conversions", "verdict"])),
                "sampleRatio": JSONSchema.object([
                    "chiSquare": JSONSchema.number(minimum: 0, description: "Summed over canvas versions, each against its own planned shares."),
                    "degreesOfFreedom": JSONSchema.integer(minimum: 1), "pValue": JSONSchema.number(minimum: 0),
                    "outcome": srmOutcome,
                    "warning": JSONSchema.string(description: "Present when p < 0.001."),
                    "versions": JSONSchema.array(JSONSchema.object([
                        "canvasVersion": JSONSchema.integer(minimum: 0, description: "Absent for entries that did not name their version."),
                        "customers": count, "chiSquare": JSONSchema.number(minimum: 0), "pValue": JSONSchema.number(minimum: 0),
                        "outcome": srmOutcome,
                    ], required: ["customers", "outcome"])),
                ], required: ["outcome", "versions"]),
            ], required: ["canvasId", "orgPath", "arms", "sampleRatio"]),
            "ChannelReport": JSONSchema.object([
                "from": JSONSchema.string(format: "date"), "to": JSONSchema.string(format: "date"), "orgPath": JSONSchema.string(),
                "channels": JSONSchema.array(JSONSchema.object([
                    "channel": JSONSchema.string(), "sent": count, "delivered": count, "failed": count, "clicked": count,
                    "suppressed": count, "cost": money, "deliveryRate": rate, "clickRate": rate, "costPerClick": money,
                ], required: ["channel", "sent", "delivered", "failed", "clicked", "suppressed", "cost"])),
            ], required: ["from", "to", "orgPath", "channels"]),
            "RewardReport": JSONSchema.object([
                "by": JSONSchema.string(enumeration: ["reward", "canvas"]), "from": JSONSchema.string(format: "date"),
                "to": JSONSchema.string(format: "date"), "orgPath": JSONSchema.string(),
                "rewards": JSONSchema.array(JSONSchema.object([
                    "rewardId": JSONSchema.string(), "rewardKind": JSONSchema.string(), "granted": count, "redeemed": count,
                    "expired": count, "revoked": count, "drawn": count, "pointsEarned": JSONSchema.integer(),
                    "pointsSpent": JSONSchema.integer(), "pointsExpired": JSONSchema.integer(), "cost": money, "redemptionRate": rate,
                ], required: ["rewardId", "granted", "redeemed", "cost"])),
                "canvases": JSONSchema.array(JSONSchema.object([
                    "canvasId": JSONSchema.string(), "conversions": count, "convertedAmount": money, "rewardsGranted": count,
                    "rewardCost": money, "messageCost": money, "totalCost": money,
                    "roi": JSONSchema.number(description: "(convertedAmount − totalCost) / totalCost; absent when nothing was spent."),
                ], required: ["canvasId", "conversions", "convertedAmount", "rewardCost", "messageCost", "totalCost"])),
            ], required: ["by", "orgPath"]),
            "LifecycleReport": JSONSchema.object([
                "from": JSONSchema.string(format: "date"), "to": JSONSchema.string(format: "date"),
                "interval": JSONSchema.string(enumeration: ["day", "week", "month"]), "orgPath": JSONSchema.string(),
                "movements": JSONSchema.array(JSONSchema.object([
                    "period": JSONSchema.string(format: "date", description: "First day of the period."),
                    "fromStage": JSONSchema.string(description: "Empty: the customer's first stage."),
                    "toStage": JSONSchema.string(description: "Empty: no stage holds any more."), "customers": count,
                ], required: ["period", "fromStage", "toStage", "customers"])),
                "stages": JSONSchema.array(JSONSchema.object([
                    "stage": JSONSchema.string(enumeration: ["new", "growing", "mature", "dormant", "churned"]), "label": JSONSchema.string(),
                    "entered": count, "left": count, "net": JSONSchema.integer(),
                ], required: ["stage", "label", "entered", "left", "net"])),
            ], required: ["from", "to", "interval", "orgPath", "movements", "stages"]),
            "DashboardReport": JSONSchema.object([
                "day": JSONSchema.string(format: "date", description: "Today in the bank's time zone."), "timeZone": JSONSchema.string(),
                "orgPath": JSONSchema.string(), "totals": figures, "behaviourEvents": count,
                "topCanvases": JSONSchema.array(JSONSchema.object([
                    "canvasId": JSONSchema.string(), "entered": count, "sends": count, "conversions": count, "convertedAmount": money,
                ], required: ["canvasId", "entered", "sends", "conversions", "convertedAmount"])),
                "channels": JSONSchema.array(JSONSchema.object([
                    "channel": JSONSchema.string(), "sent": count, "delivered": count, "clicked": count,
                ], required: ["channel", "sent", "delivered", "clicked"])),
                "topEvents": JSONSchema.array(JSONSchema.object(["name": JSONSchema.string(), "events": count], required: ["name", "events"])),
                "units": JSONSchema.array(JSONSchema.object(["orgPath": JSONSchema.string(), "figures": figures], required: ["orgPath", "figures"])),
                "generatedAt": JSONSchema.dateTime,
            ], required: ["day", "timeZone", "orgPath", "totals", "topCanvases", "channels", "units"]),
        ]
    }

    static func analyticsEndpoint(_ path: String, _ operationId: String, _ summary: String, _ summaryZh: String, response: String,
                                  query: [PublicQueryParameter]) -> PublicEndpoint {
        PublicEndpoint(method: "GET", path: path, service: "analytics", operationId: operationId, summary: summary, summaryZh: summaryZh,
                       tag: "Analytics", access: .right("view"), response: JSONSchema.ref(response),
                       responseContentTypes: ["application/json", "text/csv"], queryParameters: query, extraErrorStatuses: [403])
    }

    static var analyticsEndpoints: [PublicEndpoint] {
        let format = PublicQueryParameter(name: "format", schema: JSONSchema.string(enumeration: ["json", "csv"]),
                                          description: "`csv`: the report's table as CSV (UTF-8 with BOM, Chinese column labels).")
        let orgPath = PublicQueryParameter(name: "orgPath", schema: JSONSchema.string(pattern: "^/.*/$"),
                                           description: "Narrow the report to this org unit and below (inside the caller's scope; default the caller's unit).")
        let from = PublicQueryParameter(name: "from", schema: JSONSchema.string(format: "date"),
                                        description: "First bank-local day (default 29 days before `to`).")
        let to = PublicQueryParameter(name: "to", schema: JSONSchema.string(format: "date"),
                                      description: "Last bank-local day (default today); at most 366 days after `from`.")
        return [
            analyticsEndpoint("/api/v1/analytics/canvases/{id}/funnel", "getCanvasFunnel",
                              "A canvas's funnel per node: reached, sent, delivered, clicked, suppressed by reason, converted",
                              "画布各节点漏斗：到达、发送、送达、点击、按原因拦截、转化", response: "FunnelReport", query: [format, orgPath]),
            analyticsEndpoint("/api/v1/analytics/canvases/{id}/experiments", "getCanvasExperiments",
                              "A canvas's A/B branches and control group: rates, uplift, 95% CI, z-test p-value, sample-ratio check",
                              "画布 A/B 分支与对照组：转化率、提升、95% 置信区间、Z 检验 P 值、样本比例检验",
                              response: "ExperimentReport", query: [format, orgPath]),
            analyticsEndpoint("/api/v1/analytics/channels", "getChannelPerformance",
                              "Channel performance over days: send, delivery and click rates, cost",
                              "各渠道触达效果：发送、送达率、点击率与成本", response: "ChannelReport", query: [format, orgPath, from, to]),
            analyticsEndpoint("/api/v1/analytics/rewards", "getRewardPerformance",
                              "Reward cost and redemption per reward, or cost against converted amount (ROI) per canvas",
                              "权益成本与核销（按权益），或按画布的投入产出（ROI）", response: "RewardReport",
                              query: [format, orgPath, from, to,
                                      PublicQueryParameter(name: "by", schema: JSONSchema.string(enumeration: ["reward", "canvas"]),
                                                           description: "`reward` (default, over from…to) or `canvas` (ROI over each canvas's life).")]),
            analyticsEndpoint("/api/v1/analytics/lifecycle", "getLifecycleMovement",
                              "Customers moving between lifecycle stages per day, week or month",
                              "客户生命周期阶段迁移（按日、周、月）", response: "LifecycleReport",
                              query: [format, orgPath, from, to,
                                      PublicQueryParameter(name: "interval", schema: JSONSchema.string(enumeration: ["day", "week", "month"]),
                                                           description: "Period of the rows (default day; weeks start on Monday).")]),
            analyticsEndpoint("/api/v1/analytics/dashboard", "getDashboard",
                              "Today's figures for an org unit: sends, conversions, top canvases, per-unit rows (big screen)",
                              "机构当日数据大屏：发送、转化、热门画布、各机构明细", response: "DashboardReport", query: [format, orgPath]),
        ]
    }
}
