/// The dispatcher's endpoints: providers, templates and their approval, send policies, messages,
/// provider callbacks and the in-app inbox. (`GET /t/{code}`, the public tracked-link redirect, is
/// outside `/api/v1` and not part of this catalog.)
extension PublicAPI {
    static let channels = ["sms", "push", "inbox", "wechat", "wecom", "call", "email"]

    static var dispatcherSchemas: [String: JSONValue] {
        let cap = JSONSchema.object([
            "day": JSONSchema.integer(minimum: 0, maximum: 1000, description: "Sends per bank-local day; absent: no cap."),
            "week": JSONSchema.integer(minimum: 0, maximum: 10000, description: "Sends over the last seven local days; absent: no cap."),
        ])
        let quiet = JSONSchema.object([
            "start": JSONSchema.string(pattern: "^[0-2][0-9]:[0-5][0-9]$"),
            "end": JSONSchema.string(pattern: "^[0-2][0-9]:[0-5][0-9]$"),
        ], required: ["start", "end"], description: "Local time (LATTICE_TIMEZONE); start after end wraps midnight.")
        let words = JSONSchema.array(JSONSchema.string(minLength: 1, maxLength: 60))
        let policyProperties: [String: JSONValue] = [
            "quietHours": JSONSchema.map(quiet),
            "quietHoursApplyToTransactional": JSONSchema.boolean,
            "channelCaps": JSONSchema.map(cap),
            "overallCap": cap,
            "campaignCap": cap,
            "bannedClaims": words,
            "smsSignature": JSONSchema.string(minLength: 3, maxLength: 40, description: "Written 【bank name】."),
            "optOutInstructions": words,
            "riskWarnings": words,
            "optOutReplies": words,
            "blacklist": JSONSchema.array(JSONSchema.string(minLength: 1, maxLength: 64), maxItems: 10000),
            "version": JSONSchema.integer(),
        ]
        let messageProperties: [String: JSONValue] = [
            "id": JSONSchema.string(pattern: "^msg_[a-z0-9]{1,60}$"),
            "key": JSONSchema.string(description: "The idempotency key; also sent to the provider as Idempotency-Key."),
            "customerId": JSONSchema.string(),
            "channel": JSONSchema.string(enumeration: channels),
            "fallbackChannel": JSONSchema.nullable(JSONSchema.string(enumeration: channels)),
            "fallbackOf": JSONSchema.nullable(JSONSchema.string()),
            "templateId": JSONSchema.string(),
            "kind": JSONSchema.string(enumeration: ["marketing", "transactional"]),
            "canvasId": JSONSchema.nullable(JSONSchema.string()),
            "nodeId": JSONSchema.nullable(JSONSchema.string()),
            "campaignId": JSONSchema.nullable(JSONSchema.string()),
            "status": JSONSchema.string(enumeration: ["queued", "deferred", "sent", "delivered", "failed", "suppressed"]),
            "reason": JSONSchema.nullable(JSONSchema.string(description: "Why suppressed (blacklisted, marketing_opt_out, no_consent:sms, unsuitable:R4>C2, frequency_cap:sms:day, campaign_cap:week, …), deferred (quiet_hours) or failed.")),
            "title": JSONSchema.nullable(JSONSchema.string()),
            "body": JSONSchema.string(description: "The rendered text."),
            "providerId": JSONSchema.nullable(JSONSchema.string()),
            "attempts": JSONSchema.integer(),
            "deliverAfter": JSONSchema.nullable(JSONSchema.dateTime),
            "createdAt": JSONSchema.dateTime,
            "updatedAt": JSONSchema.dateTime,
            "sentAt": JSONSchema.nullable(JSONSchema.dateTime),
            "deliveredAt": JSONSchema.nullable(JSONSchema.dateTime),
        ]
        return [
            "Provider": JSONSchema.object([
                "id": JSONSchema.string(pattern: "^prv_[a-z0-9]{1,60}$"),
                "channel": JSONSchema.string(enumeration: channels),
                "name": JSONSchema.string(),
                "endpoint": JSONSchema.string(),
                "hasCredentials": JSONSchema.boolean,
                "ratePerSecond": JSONSchema.integer(),
                "timeoutMs": JSONSchema.integer(),
                "batchSize": JSONSchema.integer(description: "Messages one call carries (1: one a request)."),
                "unitCost": JSONSchema.string(description: "CNY per message, a decimal string."),
                "orgId": JSONSchema.string(),
                "createdBy": JSONSchema.string(),
                "createdAt": JSONSchema.dateTime,
                "receiptSecret": JSONSchema.string(description: "Only in the create's answer: what the provider sends as X-Provider-Secret."),
            ], required: ["id", "channel", "name", "endpoint", "hasCredentials", "ratePerSecond", "timeoutMs", "batchSize", "unitCost", "orgId", "createdBy", "createdAt"]),
            "Template": JSONSchema.object([
                "id": JSONSchema.string(pattern: "^tpl_[a-z0-9]{1,60}$"),
                "channel": JSONSchema.string(enumeration: channels),
                "name": JSONSchema.string(),
                "title": JSONSchema.nullable(JSONSchema.string()),
                "body": JSONSchema.string(),
                "kind": JSONSchema.string(enumeration: ["marketing", "transactional"]),
                "productRiskLevel": JSONSchema.nullable(JSONSchema.string(enumeration: ["R1", "R2", "R3", "R4", "R5"])),
                "investment": JSONSchema.boolean,
                "variables": JSONSchema.array(JSONSchema.string()),
                "status": JSONSchema.string(enumeration: ["pending", "approved"]),
                "orgId": JSONSchema.string(),
                "createdBy": JSONSchema.string(),
                "approvedBy": JSONSchema.nullable(JSONSchema.string()),
                "approvedAt": JSONSchema.nullable(JSONSchema.dateTime),
                "createdAt": JSONSchema.dateTime,
                "updatedAt": JSONSchema.dateTime,
                "version": JSONSchema.integer(),
            ], required: ["id", "channel", "name", "body", "kind", "investment", "variables", "status", "orgId", "createdBy", "createdAt",
                          "updatedAt", "version"]),
            "Policies": objectSchema(policyProperties, required: ["quietHours", "channelCaps", "overallCap", "campaignCap", "bannedClaims",
                                                                 "smsSignature", "optOutInstructions", "riskWarnings", "version", "blacklist"]),
            "Message": objectSchema(messageProperties, required: ["id", "key", "customerId", "channel", "templateId", "kind", "status", "body",
                                                                 "attempts", "createdAt", "updatedAt"]),
            "InboxItem": JSONSchema.object([
                "messageId": JSONSchema.string(), "title": JSONSchema.nullable(JSONSchema.string()), "body": JSONSchema.string(),
                "createdAt": JSONSchema.dateTime, "readAt": JSONSchema.nullable(JSONSchema.dateTime),
            ], required: ["messageId", "body", "createdAt"]),
        ]
    }

    static func dispatcherEndpoint(_ method: String, _ path: String, _ operationId: String, _ tag: String, _ access: PublicEndpoint.Access,
                                   _ summary: String, _ summaryZh: String, request: JSONValue? = nil, status: Int = 200,
                                   response: JSONValue? = nil, query: [PublicQueryParameter] = [], idempotent: Bool = false,
                                   extraErrors: [Int] = []) -> PublicEndpoint {
        PublicEndpoint(method: method, path: path, service: "dispatcher", operationId: operationId, summary: summary, summaryZh: summaryZh,
                       tag: tag, access: access, requestBody: request, successStatus: status, response: response, queryParameters: query,
                       acceptsIdempotencyKey: idempotent, extraErrorStatuses: extraErrors)
    }

    static var dispatcherEndpoints: [PublicEndpoint] {
        let send = JSONSchema.object([
            "customerId": JSONSchema.string(minLength: 1, maxLength: 64),
            "templateId": JSONSchema.string(),
            "channel": JSONSchema.string(enumeration: channels, description: "Must be the template's channel when given."),
            "fallbackChannel": JSONSchema.string(enumeration: channels),
            "fallbackTemplateId": JSONSchema.string(description: "An approved template of fallbackChannel; sent when the primary fails."),
            "variables": JSONSchema.map(JSONSchema.string(maxLength: 500)),
            "canvasId": JSONSchema.string(), "nodeId": JSONSchema.string(),
            "campaignId": JSONSchema.string(description: "Groups sends for per-campaign caps; default canvasId."),
            "key": JSONSchema.string(maxLength: 200, description: "Idempotency key of this message (the canvas passes instance + node); "
                                     + "default the Idempotency-Key header (`<header>:<index>` in a batch)."),
        ], required: ["customerId", "templateId"])
        let template = JSONSchema.object([
            "channel": JSONSchema.string(enumeration: channels),
            "name": JSONSchema.string(minLength: 1, maxLength: 100),
            "title": JSONSchema.string(maxLength: 200),
            "body": JSONSchema.string(minLength: 1, maxLength: 4000, description: "Text with {{variable}} and {{link:https://…}} placeholders."),
            "kind": JSONSchema.string(enumeration: ["marketing", "transactional"]),
            "productRiskLevel": JSONSchema.string(enumeration: ["R1", "R2", "R3", "R4", "R5"]),
            "investment": JSONSchema.boolean,
            "version": JSONSchema.integer(description: "On PUT: the version read (409 when it changed)."),
        ])
        let batchAnswer = JSONSchema.object([
            "items": JSONSchema.array(JSONSchema.object([
                "index": JSONSchema.integer(), "message": JSONSchema.ref("Message"), "replayed": JSONSchema.boolean,
                "error": JSONSchema.object([:], description: "The error of a refused item ({code, message, details})."),
            ], required: ["index"])),
        ], required: ["items"])
        return [
            dispatcherEndpoint("GET", "/api/v1/providers", "listProviders", "Messages", .right("view"),
                               "Providers per channel", "列出各渠道的服务商",
                               response: JSONSchema.page(of: JSONSchema.ref("Provider")), query: [PublicQueryParameter.limit(maximum: 200), .cursor]),
            dispatcherEndpoint("POST", "/api/v1/providers", "createProvider", "Messages", .right("edit"),
                               "Configure a channel's provider (head office)", "配置渠道服务商（总行）",
                               request: JSONSchema.object([
                                   "channel": JSONSchema.string(enumeration: channels.filter { $0 != "inbox" }),
                                   "name": JSONSchema.string(minLength: 1, maxLength: 100),
                                   "endpoint": JSONSchema.string(maxLength: 2000),
                                   "credentials": JSONSchema.string(maxLength: 500, description: "Sent as a bearer token; never shown again."),
                                   "ratePerSecond": JSONSchema.integer(minimum: 1, maximum: 100000),
                                   "timeoutMs": JSONSchema.integer(minimum: 100, maximum: 60000, defaultValue: 5000),
                                   "batchSize": JSONSchema.integer(minimum: 1, maximum: 1000, defaultValue: 1,
                                                                   description: "1: one message a request, its key in Idempotency-Key. More: the provider's batch submission, {\"messages\": [...]} answered {\"results\": [{idempotencyKey, status: accepted|rejected|failed, id?, error?}]}, each message with its own idempotencyKey."),
                                   "unitCost": JSONSchema.string(pattern: "^[0-9]{1,8}(\\.[0-9]{1,4})?$",
                                                                 description: "CNY per message (default 0): the channel cost analytics reports."),
                               ], required: ["channel", "name", "endpoint", "ratePerSecond"]),
                               status: 201, response: JSONSchema.ref("Provider"), idempotent: true, extraErrors: [409]),
            dispatcherEndpoint("GET", "/api/v1/templates", "listTemplates", "Messages", .right("view"),
                               "Templates of the caller's subtree and its ancestors", "列出本机构及上级机构的消息模板",
                               response: JSONSchema.page(of: JSONSchema.ref("Template")), query: [PublicQueryParameter.limit(maximum: 200), .cursor]),
            dispatcherEndpoint("POST", "/api/v1/templates", "createTemplate", "Messages", .right("edit"),
                               "Create a template; the compliance review refuses banned claims, an SMS without signature or opt-out, an investment promotion without risk warning (422 template_noncompliant)",
                               "新建消息模板并进行合规审查（禁用词、短信签名与退订、投资风险提示）",
                               request: template, status: 201, response: JSONSchema.ref("Template"), idempotent: true, extraErrors: [422]),
            dispatcherEndpoint("GET", "/api/v1/templates/{id}", "getTemplate", "Messages", .right("view"),
                               "A template", "查看消息模板", response: JSONSchema.ref("Template")),
            dispatcherEndpoint("PUT", "/api/v1/templates/{id}", "updateTemplate", "Messages", .right("edit"),
                               "Edit a template: reviewed again, approval needed again", "修改消息模板（重新合规审查，需重新审批）",
                               request: template, response: JSONSchema.ref("Template"), extraErrors: [409, 422]),
            dispatcherEndpoint("POST", "/api/v1/templates/{id}:approve", "approveTemplate", "Messages", .right("publish"),
                               "Approve a template (not its author); only approved templates are sent", "审批消息模板（不得审批本人所建模板）",
                               response: JSONSchema.ref("Template"), extraErrors: [409, 422]),
            dispatcherEndpoint("GET", "/api/v1/policies", "getPolicies", "Messages", .right("view"),
                               "Send policies: quiet hours, frequency caps, compliance word lists, black list", "查看发送策略：免打扰时段、频次上限、合规词库、黑名单",
                               response: JSONSchema.ref("Policies")),
            dispatcherEndpoint("PUT", "/api/v1/policies", "updatePolicies", "Messages", .right("edit"),
                               "Change send policies (head office); absent members keep their values", "修改发送策略（总行）；未给出的项保持不变",
                               request: JSONSchema.ref("Policies"), response: JSONSchema.ref("Policies"), extraErrors: [409]),
            dispatcherEndpoint("POST", "/api/v1/messages", "sendMessages", "Messages", .right("edit"),
                               "Send one message or a batch of up to 1,000 through the policy chain; idempotent by key",
                               "经策略链发送单条或批量（至多 1000 条）消息，按幂等键去重",
                               request: JSONSchema.object([
                                   "messages": JSONSchema.array(send, maxItems: 1000),
                               ], description: "One message (the members of a batch item) or {messages: [...]}."),
                               status: 201, response: JSONSchema.ref("Message"), idempotent: true, extraErrors: [409, 422, 503]),
            dispatcherEndpoint("GET", "/api/v1/messages", "listMessages", "Messages", .right("view"),
                               "Messages of a customer or a canvas", "按客户或画布查询消息及其状态",
                               response: JSONSchema.page(of: JSONSchema.ref("Message")),
                               query: [PublicQueryParameter(name: "customerId", schema: JSONSchema.string(maxLength: 64), description: "The customer."),
                                       PublicQueryParameter(name: "canvasId", schema: JSONSchema.string(maxLength: 64), description: "The canvas."),
                                       PublicQueryParameter(name: "status", schema: JSONSchema.string(enumeration: ["queued", "deferred", "sent", "delivered", "failed", "suppressed"]),
                                                            description: "Only messages in this status."),
                                       PublicQueryParameter.limit(maximum: 200), .cursor]),
            dispatcherEndpoint("GET", "/api/v1/messages/{id}", "getMessage", "Messages", .right("view"),
                               "A message and its status", "查看单条消息及其状态", response: JSONSchema.ref("Message")),
            dispatcherEndpoint("POST", "/api/v1/receipts/{provider}", "postReceipts", "Messages", .anonymous,
                               "A provider's callback (X-Provider-Secret): delivery receipts and replies; a reply T/TD opts the customer out",
                               "服务商回调（X-Provider-Secret 认证）：送达回执与上行回复，回复 T/TD 即退订",
                               request: JSONSchema.object([
                                   "receipts": JSONSchema.array(JSONSchema.object([
                                       "messageId": JSONSchema.string(), "idempotencyKey": JSONSchema.string(),
                                       "status": JSONSchema.string(enumeration: ["delivered", "failed"]), "error": JSONSchema.string(maxLength: 200),
                                   ], required: ["status"]), maxItems: 1000),
                                   "replies": JSONSchema.array(JSONSchema.object([
                                       "customerId": JSONSchema.string(), "phone": JSONSchema.string(), "text": JSONSchema.string(maxLength: 500),
                                   ], required: ["text"]), maxItems: 1000),
                               ]),
                               response: JSONSchema.object([
                                   "applied": JSONSchema.integer(), "unknown": JSONSchema.integer(),
                                   "optedOut": JSONSchema.integer(), "ignoredReplies": JSONSchema.integer(),
                               ], required: ["applied", "unknown", "optedOut", "ignoredReplies"]), extraErrors: [401, 503]),
            dispatcherEndpoint("GET", "/api/v1/inbox/{customerId}", "getInbox", "Messages", .right("view"),
                               "A customer's in-app inbox, newest first", "客户的站内信（最新在前）",
                               response: JSONSchema.page(of: JSONSchema.ref("InboxItem")),
                               query: [PublicQueryParameter(name: "unread", schema: JSONSchema.string(enumeration: ["true", "false"]), description: "Only unread ones."),
                                       PublicQueryParameter.limit(maximum: 200), .cursor]),
            dispatcherEndpoint("POST", "/api/v1/inbox/{customerId}/{messageId}:read", "markInboxRead", "Messages", .right("edit"),
                               "Mark an inbox message read", "将站内信标记为已读", response: JSONSchema.ref("InboxItem")),
        ]
    }
}
