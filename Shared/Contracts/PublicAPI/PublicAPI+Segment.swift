/// The segment service's endpoints: estimates, segments and their members, overlaps, white and black lists.
extension PublicAPI {
    static var segmentSchemas: [String: JSONValue] {
        let segmentProperties: KeyValuePairs<String, JSONValue> = [
            "id": JSONSchema.string(pattern: "^seg_[a-z0-9]{1,60}$"),
            "name": JSONSchema.string(),
            "kind": JSONSchema.string(enumeration: ["dynamic", "snapshot"]),
            "rule": JSONSchema.object([:], description: "A rule-language condition."),
            "orgId": JSONSchema.string(description: "The owning unit: members come from its subtree only."),
            "orgPath": JSONSchema.string(),
            "createdBy": JSONSchema.string(),
            "memberCount": JSONSchema.integer(description: "Members when last computed (creation or :refresh)."),
            "refreshedAt": JSONSchema.dateTime,
            "createdAt": JSONSchema.dateTime,
            "updatedAt": JSONSchema.dateTime,
            "version": JSONSchema.integer(),
        ]
        var withCount: [String: JSONValue] = [
            "count": JSONSchema.integer(description: "Members now (dynamic: by the rule; snapshot: frozen members still in scope), global black list excluded."),
        ]
        for (k, v) in segmentProperties { withCount[k] = v }
        let required = ["id", "name", "kind", "rule", "orgId", "orgPath", "createdBy", "memberCount", "refreshedAt", "createdAt",
                        "updatedAt", "version"]
        let list = JSONSchema.object([
            "id": JSONSchema.string(pattern: "^lst_[a-z0-9]{1,60}$"),
            "name": JSONSchema.string(),
            "kind": JSONSchema.string(enumeration: ["white", "black"]),
            "global": JSONSchema.boolean,
            "orgId": JSONSchema.string(),
            "orgPath": JSONSchema.string(),
            "createdBy": JSONSchema.string(),
            "size": JSONSchema.integer(),
            "createdAt": JSONSchema.dateTime,
            "updatedAt": JSONSchema.dateTime,
            "version": JSONSchema.integer(),
        ], required: ["id", "name", "kind", "global", "orgId", "orgPath", "createdBy", "size", "createdAt", "updatedAt", "version"])
        return [
            "Segment": JSONSchema.object(segmentProperties, required: required),
            "SegmentWithCount": objectSchema(withCount, required: required + ["count"]),
            "CustomerList": list,
        ]
    }

    static func segmentEndpoint(_ method: String, _ path: String, _ operationId: String, _ tag: String, _ access: PublicEndpoint.Access,
                                _ summary: String, _ summaryZh: String, request: JSONValue? = nil, status: Int = 200,
                                response: JSONValue? = nil, responseTypes: [String] = ["application/json"],
                                query: [PublicQueryParameter] = [], idempotent: Bool = false, streamsResponse: Bool = false,
                                extraErrors: [Int] = []) -> PublicEndpoint {
        PublicEndpoint(method: method, path: path, service: "segment", operationId: operationId, summary: summary,
                       summaryZh: summaryZh, tag: tag, access: access, requestBody: request, successStatus: status,
                       response: response, responseContentTypes: responseTypes, queryParameters: query,
                       acceptsIdempotencyKey: idempotent, streamsResponseBody: streamsResponse, extraErrorStatuses: extraErrors)
    }

    static var segmentEndpoints: [PublicEndpoint] {
        let rule = JSONSchema.object([:], description: "A rule-language condition; 422 `rule_invalid` with the JSON path of a fault "
            + "(`details.path`, `details.field`), also for unknown attributes, tags, segments and lists; 422 `rule_unsupported` "
            + "for an event `where` (the index keeps per-event aggregates).")
        let shares = JSONSchema.array(JSONSchema.object([
            "value": JSONSchema.any, "count": JSONSchema.integer(),
        ], required: ["value", "count"]))
        return [
            segmentEndpoint("POST", "/api/v1/segments:estimate", "estimateSegment", "Segments", .right("edit"),
                            "How many customers of the caller's subtree a rule selects, with a sample", "估算规则在本机构及下级机构圈选的客户数，并给出样例",
                            request: JSONSchema.object(["rule": rule], required: ["rule"]),
                            response: JSONSchema.object([
                                "count": JSONSchema.integer(),
                                "sample": JSONSchema.array(JSONSchema.string(), maxItems: 10),
                                "tookMs": JSONSchema.number(),
                            ], required: ["count", "sample", "tookMs"]), extraErrors: [422, 503]),
            segmentEndpoint("GET", "/api/v1/segments", "listSegments", "Segments", .right("view"),
                            "Segments of the caller's subtree", "列出本机构及下级机构的客群",
                            response: JSONSchema.page(of: JSONSchema.ref("Segment")),
                            query: [PublicQueryParameter.limit(maximum: 200), .cursor]),
            segmentEndpoint("POST", "/api/v1/segments", "createSegment", "Segments", .right("edit"),
                            "Create a segment: dynamic (kept current) or snapshot (members frozen now)", "新建客群：动态（随数据更新）或快照（成员此刻固化）",
                            request: JSONSchema.object([
                                "name": JSONSchema.string(minLength: 1, maxLength: 100),
                                "rule": rule,
                                "kind": JSONSchema.string(enumeration: ["dynamic", "snapshot"], description: "Default `dynamic`."),
                            ], required: ["name", "rule"]),
                            status: 201, response: JSONSchema.ref("SegmentWithCount"), idempotent: true, extraErrors: [422, 503]),
            segmentEndpoint("GET", "/api/v1/segments/{id}", "getSegment", "Segments", .right("view"),
                            "A segment with its live member count", "客群定义及当前成员数",
                            response: JSONSchema.ref("SegmentWithCount"), extraErrors: [503]),
            segmentEndpoint("PUT", "/api/v1/segments/{id}", "updateSegment", "Segments", .right("edit"),
                            "Rename a segment or change its rule (a cycle of segments is refused)", "修改客群名称或规则（拒绝循环引用）",
                            request: JSONSchema.object([
                                "name": JSONSchema.string(minLength: 1, maxLength: 100),
                                "rule": rule,
                            ]),
                            response: JSONSchema.ref("SegmentWithCount"), extraErrors: [422, 503]),
            segmentEndpoint("POST", "/api/v1/segments/{id}:refresh", "refreshSegment", "Segments", .right("edit"),
                            "Recompute a segment (a snapshot freezes its members anew)", "重新计算客群（快照客群重新固化成员）",
                            response: JSONSchema.ref("SegmentWithCount"), extraErrors: [503]),
            segmentEndpoint("GET", "/api/v1/segments/{id}/members", "listSegmentMembers", "Segments", .right("view"),
                            "A segment's members in customer-id order, or all of them as CSV (format=csv)", "按客户号分页列出客群成员，或以 CSV 导出全部成员",
                            response: JSONSchema.page(of: JSONSchema.object(["customerId": JSONSchema.string()], required: ["customerId"])),
                            responseTypes: ["application/json", "text/csv"],
                            query: [PublicQueryParameter(name: "format", schema: JSONSchema.string(enumeration: ["json", "csv"]),
                                                         description: "`csv` streams every member (`customerId` column)."),
                                    PublicQueryParameter.limit(maximum: 1000, defaultValue: 100), .cursor],
                            streamsResponse: true, extraErrors: [503]),
            segmentEndpoint("GET", "/api/v1/segments/{id}/portrait", "getSegmentPortrait", "Segments", .right("view"),
                            "How a segment's members distribute over chosen attributes and tags", "客群画像：成员在所选属性与标签上的分布",
                            response: JSONSchema.object([
                                "segmentId": JSONSchema.string(),
                                "count": JSONSchema.integer(),
                                "attributes": JSONSchema.array(JSONSchema.object([
                                    "attribute": JSONSchema.string(), "values": shares, "notSet": JSONSchema.integer(),
                                ], required: ["attribute", "values", "notSet"])),
                                "tags": JSONSchema.array(JSONSchema.object([
                                    "tag": JSONSchema.string(), "count": JSONSchema.integer(), "values": shares,
                                ], required: ["tag", "count", "values"])),
                            ], required: ["segmentId", "count", "attributes", "tags"]),
                            query: [PublicQueryParameter(name: "attrs", schema: JSONSchema.string(maxLength: 1400),
                                                         description: "Attributes, comma-separated (at most 20; categorical ones: not name or phone)."),
                                    PublicQueryParameter(name: "tags", schema: JSONSchema.string(maxLength: 1400),
                                                         description: "Tag codes, comma-separated (at most 20).")],
                            extraErrors: [422, 503]),
            segmentEndpoint("POST", "/api/v1/segments:overlap", "overlapSegments", "Segments", .right("edit"),
                            "How two segments overlap", "两个客群的重合度",
                            request: JSONSchema.object(["ids": JSONSchema.array(JSONSchema.string(), maxItems: 2)], required: ["ids"]),
                            response: JSONSchema.object([
                                "segments": JSONSchema.array(JSONSchema.object([
                                    "id": JSONSchema.string(), "count": JSONSchema.integer(),
                                ], required: ["id", "count"])),
                                "both": JSONSchema.integer(), "either": JSONSchema.integer(),
                            ], required: ["segments", "both", "either"]), extraErrors: [422, 503]),

            // MARK: lists
            segmentEndpoint("GET", "/api/v1/lists", "listCustomerLists", "Segments", .right("view"),
                            "White and black lists of the caller's subtree", "列出本机构及下级机构的白名单与黑名单",
                            response: JSONSchema.page(of: JSONSchema.ref("CustomerList")),
                            query: [PublicQueryParameter.limit(maximum: 200), .cursor]),
            segmentEndpoint("POST", "/api/v1/lists", "createCustomerList", "Segments", .right("edit"),
                            "Upload a white or black list of customer ids (unknown ids reported); head office may keep a global black list",
                            "上传客户号白名单或黑名单（报告未知客户号）；总行可维护全局黑名单",
                            request: JSONSchema.object([
                                "name": JSONSchema.string(minLength: 1, maxLength: 100),
                                "kind": JSONSchema.string(enumeration: ["white", "black"]),
                                "global": JSONSchema.boolean,
                                "customerIds": JSONSchema.array(JSONSchema.string(), maxItems: 100_000),
                            ], required: ["name", "kind", "customerIds"]),
                            status: 201, response: JSONSchema.object([
                                "list": JSONSchema.ref("CustomerList"),
                                "accepted": JSONSchema.integer(),
                                "unknownCount": JSONSchema.integer(),
                                "unknownIds": JSONSchema.array(JSONSchema.string(), maxItems: 1000),
                            ], required: ["list", "accepted", "unknownCount", "unknownIds"]),
                            idempotent: true, extraErrors: [403, 503]),
            segmentEndpoint("GET", "/api/v1/lists/{id}", "getCustomerList", "Segments", .right("view"),
                            "A white or black list", "名单详情", response: JSONSchema.ref("CustomerList")),
        ]
    }
}
