/// The profile service's endpoints: customers, the attribute catalog, consents, imports, events,
/// event types, tags and lifecycle.
extension PublicAPI {
    static let consentChannels = ["sms", "push", "inbox", "wechat", "wecom", "call", "email", "marketing"]

    static var profileSchemas: [String: JSONValue] {
        let consent = JSONSchema.object([
            "granted": JSONSchema.boolean,
            "source": JSONSchema.string(description: "Where the answer was given, e.g. `app`, `branch_counter`."),
            "changedAt": JSONSchema.dateTime,
        ], required: ["granted", "source", "changedAt"])
        let builtIns: KeyValuePairs<String, JSONValue> = [
            "orgId": JSONSchema.string(description: "The owning org unit (branch); the caller's own unit when absent on create."),
            "name": JSONSchema.nullable(JSONSchema.string(maxLength: 100)),
            "phone": JSONSchema.nullable(JSONSchema.string(description: "Masked (`138****5678`) unless the caller holds the `pii` right.")),
            "gender": JSONSchema.nullable(JSONSchema.string(enumeration: ["male", "female", "other"])),
            "birthDate": JSONSchema.nullable(JSONSchema.string(format: "date")),
            "city": JSONSchema.nullable(JSONSchema.string(maxLength: 64)),
            "riskLevel": JSONSchema.nullable(JSONSchema.string(enumeration: ["C1", "C2", "C3", "C4", "C5"])),
            "aum": JSONSchema.nullable(JSONSchema.number(minimum: 0, description: "CNY, 2 decimals.")),
            "depositBalance": JSONSchema.nullable(JSONSchema.number(minimum: 0, description: "CNY, 2 decimals.")),
            "isPayroll": JSONSchema.nullable(JSONSchema.boolean),
            "hasCreditCard": JSONSchema.nullable(JSONSchema.boolean),
            "registeredAt": JSONSchema.nullable(JSONSchema.dateTime),
            "lastActiveAt": JSONSchema.nullable(JSONSchema.dateTime),
            "accountManagerId": JSONSchema.nullable(JSONSchema.string(maxLength: 64)),
        ]
        var customer: [String: JSONValue] = [
            "id": JSONSchema.string(),
            "orgPath": JSONSchema.string(),
            "attributes": JSONSchema.map(JSONSchema.any),
            "consents": JSONSchema.map(consent),
            "marketingOptOut": JSONSchema.boolean,
            "version": JSONSchema.integer(),
            "createdAt": JSONSchema.dateTime,
            "updatedAt": JSONSchema.dateTime,
        ]
        for (k, v) in builtIns { customer[k] = v }
        var view = customer
        view["tags"] = JSONSchema.array(JSONSchema.object([
            "code": JSONSchema.string(), "value": JSONSchema.string(), "source": JSONSchema.string(), "setAt": JSONSchema.dateTime,
        ], required: ["code", "value", "source", "setAt"]))
        view["lifecycle"] = JSONSchema.nullable(JSONSchema.string(enumeration: ["new", "growing", "mature", "dormant", "churned"]))
        view["recentEvents"] = JSONSchema.array(JSONSchema.ref("Event"))
        view["journeys"] = JSONSchema.nullable(JSONSchema.any)
        view["messages"] = JSONSchema.nullable(JSONSchema.any)
        view["rewards"] = JSONSchema.nullable(JSONSchema.any)
        view["unavailable"] = JSONSchema.array(JSONSchema.string(description: "A service whose part could not be gathered."))
        let customerRequired = ["id", "orgId", "orgPath", "attributes", "consents", "marketingOptOut", "version",
                                "createdAt", "updatedAt"]
        var upsert: [String: JSONValue] = [
            "attributes": JSONSchema.map(JSONSchema.any),
            "consents": JSONSchema.map(JSONSchema.any),
            "marketingOptOut": JSONSchema.boolean,
            "consentSource": JSONSchema.string(maxLength: 100),
        ]
        for (k, v) in builtIns { upsert[k] = v }
        return [
            "Customer": objectSchema(customer, required: customerRequired),
            "CustomerView": objectSchema(view, required: customerRequired + ["tags", "recentEvents", "unavailable"]),
            "CustomerUpsert": objectSchema(upsert, required: [],
                                           description: "Absent keys keep their values; null clears. Custom attribute codes may also be given at the top level. "
                                               + "A consent is `true`/`false` or `{granted, source, at}`."),
            "Attribute": JSONSchema.object([
                "code": JSONSchema.string(),
                "name": JSONSchema.string(),
                "type": JSONSchema.string(enumeration: ["string", "int", "decimal", "bool", "date", "timestamp", "enum"]),
                "values": JSONSchema.array(JSONSchema.string()),
                "description": JSONSchema.nullable(JSONSchema.string()),
                "builtIn": JSONSchema.boolean,
                "orgId": JSONSchema.nullable(JSONSchema.string()),
                "createdAt": JSONSchema.nullable(JSONSchema.dateTime),
            ], required: ["code", "name", "type", "builtIn"]),
            "Tag": JSONSchema.object([
                "code": JSONSchema.string(pattern: "^[a-z][a-z0-9_]{0,63}$"),
                "name": JSONSchema.string(),
                "kind": JSONSchema.string(enumeration: ["manual", "rule", "score", "activity"]),
                "rule": JSONSchema.object([:], description: "A rule-language condition (rule tags)."),
                "values": JSONSchema.array(JSONSchema.string()),
                "buckets": JSONSchema.array(JSONSchema.object([
                    "value": JSONSchema.string(), "min": JSONSchema.number(), "max": JSONSchema.number(),
                ], required: ["value"])),
                "description": JSONSchema.nullable(JSONSchema.string()),
                "orgId": JSONSchema.string(),
                "orgPath": JSONSchema.string(),
                "isTemplate": JSONSchema.boolean,
                "builtIn": JSONSchema.boolean,
                "createdBy": JSONSchema.string(),
                "createdAt": JSONSchema.dateTime,
                "updatedAt": JSONSchema.dateTime,
                "version": JSONSchema.integer(),
            ], required: ["code", "name", "kind", "orgId", "orgPath", "isTemplate", "builtIn", "createdAt", "updatedAt", "version"]),
            "Lifecycle": JSONSchema.object([
                "stages": JSONSchema.array(JSONSchema.object([
                    "stage": JSONSchema.string(enumeration: ["new", "growing", "mature", "dormant", "churned"]),
                    "label": JSONSchema.object(["zh": JSONSchema.string(), "en": JSONSchema.string()]),
                    "rule": JSONSchema.nullable(JSONSchema.object([:], description: "A rule-language condition; null catches everyone else (last stage only).")),
                ], required: ["stage", "rule"])),
                "updatedBy": JSONSchema.nullable(JSONSchema.string()),
                "updatedAt": JSONSchema.nullable(JSONSchema.dateTime),
            ], required: ["stages"]),
            "EventType": JSONSchema.object([
                "name": JSONSchema.string(pattern: "^[a-z][a-z0-9_]{0,63}$"),
                "displayName": JSONSchema.string(),
                "description": JSONSchema.nullable(JSONSchema.string()),
                "properties": JSONSchema.map(JSONSchema.object([
                    "type": JSONSchema.string(enumeration: ["string", "int", "decimal", "bool", "date", "timestamp", "enum"]),
                    "values": JSONSchema.array(JSONSchema.string()),
                ], required: ["type"])),
                "builtIn": JSONSchema.boolean,
                "orgId": JSONSchema.nullable(JSONSchema.string()),
                "createdBy": JSONSchema.nullable(JSONSchema.string()),
                "createdAt": JSONSchema.dateTime,
            ], required: ["name", "displayName", "properties", "builtIn", "createdAt"]),
            "Event": JSONSchema.object([
                "eventId": JSONSchema.string(maxLength: 128),
                "name": JSONSchema.string(),
                "occurredAt": JSONSchema.dateTime,
                "properties": JSONSchema.map(JSONSchema.any),
            ], required: ["eventId", "name", "occurredAt", "properties"]),
        ]
    }

    /// A JSON Schema object from a dictionary of properties.
    static func objectSchema(_ properties: [String: JSONValue], required: [String], description: String? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": .string("object"), "properties": .object(properties)]
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        if let description { schema["description"] = .string(description) }
        return .object(schema)
    }

    static func profileEndpoint(_ method: String, _ path: String, _ operationId: String, _ tag: String, _ access: PublicEndpoint.Access,
                                _ summary: String, _ summaryZh: String, request: JSONValue? = nil,
                                requestTypes: [String] = ["application/json"], status: Int = 200, response: JSONValue? = nil,
                                responseTypes: [String] = ["application/json"], query: [PublicQueryParameter] = [],
                                idempotent: Bool = false, streamsRequest: Bool = false, extraErrors: [Int] = []) -> PublicEndpoint {
        PublicEndpoint(method: method, path: path, service: "profile", operationId: operationId, summary: summary,
                       summaryZh: summaryZh, tag: tag, access: access, requestBody: request, requestContentTypes: requestTypes,
                       successStatus: status, response: response, responseContentTypes: responseTypes, queryParameters: query,
                       acceptsIdempotencyKey: idempotent, streamsRequestBody: streamsRequest, extraErrorStatuses: extraErrors)
    }

    static var profileEndpoints: [PublicEndpoint] {
        let text = { (name: String, max: Int, description: String) in
            PublicQueryParameter(name: name, schema: JSONSchema.string(maxLength: max), description: description)
        }
        return [
            // MARK: customers
            profileEndpoint("GET", "/api/v1/customers", "searchCustomers", "Customers", .right("view"),
                            "Search customers of the caller's subtree", "在本机构及下级机构内查找客户",
                            response: JSONSchema.page(of: JSONSchema.ref("Customer")),
                            query: [text("query", 100, "An exact id, a name prefix or a phone suffix."),
                                    text("id", 64, "Exact customer id."), text("name", 100, "Name prefix."),
                                    text("phone", 20, "The last 4 or more digits."),
                                    text("tag", 165, "A tag code, or `code:value`."),
                                    text("orgId", 32, "Only this unit's subtree."),
                                    PublicQueryParameter.limit(maximum: 200), .cursor]),
            profileEndpoint("GET", "/api/v1/customers/{customerId}", "getCustomer", "Customers", .right("view"),
                            "The 360° view of a customer: attributes, consents, tags, lifecycle, recent events, journeys, messages, rewards",
                            "客户 360° 视图：属性、授权、标签、生命周期、近期行为、旅程、消息、权益",
                            response: JSONSchema.ref("CustomerView")),
            profileEndpoint("PUT", "/api/v1/customers/{customerId}", "upsertCustomer", "Customers", .right("edit"),
                            "Create or change a customer (absent keys are kept); consent changes keep their evidence",
                            "新建或修改客户（未给出的字段保持不变）；授权变更保留证据",
                            request: JSONSchema.ref("CustomerUpsert"), response: JSONSchema.ref("Customer"), extraErrors: [422]),

            // MARK: attributes
            profileEndpoint("GET", "/api/v1/attributes", "listAttributes", "Customers", .right("view"),
                            "The attribute catalog: built-in and the bank's own typed attributes", "属性目录：内置属性与自定义类型化属性",
                            response: JSONSchema.object(["items": JSONSchema.array(JSONSchema.ref("Attribute"))], required: ["items"])),
            profileEndpoint("POST", "/api/v1/attributes", "createAttribute", "Customers", .right("edit"),
                            "Define a custom customer attribute", "定义自定义客户属性",
                            request: JSONSchema.object([
                                "code": JSONSchema.string(pattern: "^[a-z][a-zA-Z0-9_]{0,63}$"),
                                "name": JSONSchema.string(minLength: 1, maxLength: 100),
                                "type": JSONSchema.string(enumeration: ["string", "int", "decimal", "bool", "date", "timestamp", "enum"]),
                                "values": JSONSchema.array(JSONSchema.string(), uniqueItems: true, maxItems: 200),
                                "description": JSONSchema.string(maxLength: 1000),
                            ], required: ["code", "name", "type"]),
                            status: 201, response: JSONSchema.ref("Attribute"), idempotent: true, extraErrors: [409, 422]),

            // MARK: imports
            profileEndpoint("POST", "/api/v1/customers:import", "importCustomers", "Customers", .right("edit"),
                            "Import customers from a CSV (header row of customer keys) or NDJSON file, streamed; answers with the import job",
                            "从 CSV（首行为客户字段名）或 NDJSON 文件流式导入客户，返回导入任务",
                            request: JSONSchema.string(description: "CSV (RFC 4180, UTF-8, header row: `id` plus built-in names or catalog codes; "
                                + "an empty cell clears, an empty orgId keeps the unit) or one customer JSON object per line with `id`."),
                            requestTypes: ["text/csv", "application/x-ndjson"], status: 202, response: importJobSchema,
                            streamsRequest: true, extraErrors: [413, 415, 422, 429]),
            profileEndpoint("GET", "/api/v1/imports/{id}", "getImport", "Customers", .right("view"),
                            "An import's progress, outcome counts and first row errors", "导入任务的进度、结果计数与前若干行错误",
                            response: importJobSchema),
            profileEndpoint("GET", "/api/v1/imports/{id}/errors", "listImportErrors", "Customers", .right("view"),
                            "Every rejected row of an import, by line: its line in the file, the field at fault and why",
                            "导入任务的全部错误行（按行号）：文件中的行号、出错字段与原因",
                            response: JSONSchema.page(of: importRowErrorSchema),
                            query: [PublicQueryParameter.limit(maximum: 1000, defaultValue: 200), .cursor]),
            // MARK: events
            profileEndpoint("POST", "/api/v1/events", "ingestEvents", "Events", .right("edit"),
                            "Ingest behaviour events: one event or {events: [...]} (up to 1000); idempotent by eventId",
                            "上报行为事件：单个或批量（最多 1000 个），按 eventId 幂等",
                            request: JSONSchema.object([
                                "eventId": JSONSchema.string(maxLength: 128), "customerId": JSONSchema.string(),
                                "name": JSONSchema.string(), "occurredAt": JSONSchema.dateTime,
                                "properties": JSONSchema.map(JSONSchema.any),
                                "events": JSONSchema.array(JSONSchema.object([
                                    "eventId": JSONSchema.string(maxLength: 128), "customerId": JSONSchema.string(),
                                    "name": JSONSchema.string(), "occurredAt": JSONSchema.dateTime,
                                    "properties": JSONSchema.map(JSONSchema.any),
                                ], required: ["eventId", "customerId", "name", "occurredAt"]), maxItems: 1000),
                            ]),
                            response: JSONSchema.object([
                                "accepted": JSONSchema.integer(), "duplicates": JSONSchema.integer(),
                                "rejected": JSONSchema.array(JSONSchema.object([
                                    "index": JSONSchema.integer(), "eventId": JSONSchema.string(), "error": JSONSchema.ref("Error"),
                                ], required: ["index", "error"])),
                            ], required: ["accepted", "duplicates", "rejected"]), extraErrors: [413, 422]),
            profileEndpoint("GET", "/api/v1/event-types", "listEventTypes", "Events", .right("view"),
                            "The event-type catalog with property types", "事件类型目录（含属性类型）",
                            response: JSONSchema.page(of: JSONSchema.ref("EventType"))),
            profileEndpoint("POST", "/api/v1/event-types", "createEventType", "Events", .right("edit"),
                            "Define an event type and its property types", "新建事件类型及其属性类型",
                            request: JSONSchema.object([
                                "name": JSONSchema.string(pattern: "^[a-z][a-z0-9_]{0,63}$"),
                                "displayName": JSONSchema.string(minLength: 1, maxLength: 100),
                                "description": JSONSchema.string(maxLength: 1000),
                                "properties": JSONSchema.map(JSONSchema.object([
                                    "type": JSONSchema.string(enumeration: ["string", "int", "decimal", "bool", "date", "timestamp", "enum"]),
                                    "values": JSONSchema.array(JSONSchema.string()),
                                ], required: ["type"])),
                            ], required: ["name", "displayName"]),
                            status: 201, response: JSONSchema.ref("EventType"), idempotent: true, extraErrors: [409, 422]),

            // MARK: tags and lifecycle
            profileEndpoint("GET", "/api/v1/tags", "listTags", "Tags", .right("view"),
                            "Tags of the caller's subtree and templates of its ancestors", "列出本机构及下级机构的标签和上级机构发布的模板标签",
                            response: JSONSchema.page(of: JSONSchema.ref("Tag")),
                            query: [PublicQueryParameter(name: "kind", schema: JSONSchema.string(enumeration: ["manual", "rule", "score", "activity"]),
                                                         description: "Only tags of this kind."),
                                    PublicQueryParameter.limit(maximum: 200), .cursor]),
            profileEndpoint("POST", "/api/v1/tags", "createTag", "Tags", .right("edit"),
                            "Define a tag (manual, rule, score or activity)", "定义标签（手工、规则、模型分、活动）",
                            request: JSONSchema.object([
                                "code": JSONSchema.string(pattern: "^[a-z][a-z0-9_]{0,63}$"),
                                "name": JSONSchema.string(minLength: 1, maxLength: 100),
                                "kind": JSONSchema.string(enumeration: ["manual", "rule", "score", "activity"]),
                                "rule": JSONSchema.object([:], description: "Required for rule tags; 422 `rule_invalid` with the JSON path of a fault."),
                                "values": JSONSchema.array(JSONSchema.string(), uniqueItems: true, maxItems: 200),
                                "buckets": JSONSchema.array(JSONSchema.object([
                                    "value": JSONSchema.string(), "min": JSONSchema.number(), "max": JSONSchema.number(),
                                ], required: ["value"]), maxItems: 50),
                                "description": JSONSchema.string(maxLength: 1000),
                                "isTemplate": JSONSchema.boolean,
                            ], required: ["code", "name", "kind"]),
                            status: 201, response: JSONSchema.ref("Tag"), idempotent: true, extraErrors: [409, 422]),
            profileEndpoint("GET", "/api/v1/tags/{code}", "getTag", "Tags", .right("view"), "A tag's definition", "标签定义",
                            response: JSONSchema.ref("Tag")),
            profileEndpoint("POST", "/api/v1/tags/{code}/members", "setTagMembers", "Tags", .right("edit"),
                            "Set or remove members of a manual, activity or score tag", "设置或移除手工、活动、模型分标签的客户",
                            request: JSONSchema.object([
                                "customerIds": JSONSchema.array(JSONSchema.string(), maxItems: 10_000),
                                "value": JSONSchema.string(maxLength: 100),
                                "remove": JSONSchema.boolean,
                                "scores": JSONSchema.array(JSONSchema.object([
                                    "customerId": JSONSchema.string(), "score": JSONSchema.number(),
                                ], required: ["customerId", "score"]), maxItems: 10_000),
                            ]),
                            response: JSONSchema.object([
                                "tag": JSONSchema.string(), "applied": JSONSchema.integer(), "unchanged": JSONSchema.integer(),
                                "rejected": JSONSchema.array(JSONSchema.object([
                                    "customerId": JSONSchema.string(), "reason": JSONSchema.string(),
                                ], required: ["customerId", "reason"])),
                            ], required: ["tag", "applied", "unchanged", "rejected"]), extraErrors: [422]),
            profileEndpoint("GET", "/api/v1/lifecycle", "getLifecycle", "Tags", .right("view"),
                            "Lifecycle stages and their rules", "客户生命周期阶段及规则", response: JSONSchema.ref("Lifecycle")),
            profileEndpoint("PUT", "/api/v1/lifecycle", "setLifecycle", "Tags", .right("edit"),
                            "Change the lifecycle stage rules (head office only; first matching stage wins)",
                            "修改生命周期阶段规则（仅总行；按顺序首个匹配的阶段生效）",
                            request: JSONSchema.object([
                                "stages": JSONSchema.array(JSONSchema.object([
                                    "stage": JSONSchema.string(enumeration: ["new", "growing", "mature", "dormant", "churned"]),
                                    "rule": JSONSchema.nullable(JSONSchema.object([:])),
                                ], required: ["stage", "rule"])),
                            ], required: ["stages"]),
                            response: JSONSchema.ref("Lifecycle"), extraErrors: [403, 422]),
        ]
    }
}

// MARK: imports
extension PublicAPI {
    /// Why one row of an import was rejected.
    static var importRowErrorSchema: JSONValue {
        JSONSchema.object([
            "line": JSONSchema.integer(description: "Physical line of the file (the CSV header is line 1)."),
            "field": JSONSchema.nullable(JSONSchema.string()),
            "message": JSONSchema.string(),
        ], required: ["line", "message"])
    }

    /// An import job (`POST /api/v1/customers:import`, `GET /api/v1/imports/{id}`).
    static var importJobSchema: JSONValue {
        JSONSchema.object([
            "id": JSONSchema.string(),
            "orgId": JSONSchema.string(description: "The uploader's unit: the import's scope, and the owner of new customers without orgId."),
            "format": JSONSchema.string(enumeration: ["csv", "ndjson"]),
            "status": JSONSchema.string(enumeration: ["receiving", "merging", "done", "failed"]),
            "processed": JSONSchema.integer(description: "Rows whose outcome is final."),
            "total": JSONSchema.integer(description: "Data rows read (final once the upload ended)."),
            "accepted": JSONSchema.integer(),
            "rejected": JSONSchema.integer(),
            // The first row errors; `GET /api/v1/imports/{id}/errors` lists them all.
            "errors": JSONSchema.array(importRowErrorSchema, maxItems: 100),
            "failure": JSONSchema.nullable(JSONSchema.string()),
            "createdBy": JSONSchema.string(),
            "createdAt": JSONSchema.dateTime,
            "finishedAt": JSONSchema.nullable(JSONSchema.dateTime),
        ], required: ["id", "orgId", "format", "status", "processed", "total", "accepted", "rejected", "errors", "createdBy", "createdAt"])
    }
}
