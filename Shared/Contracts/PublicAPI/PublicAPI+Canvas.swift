/// The canvas service's endpoints (DESIGN.md §3): canvases and their lifecycle, template copies,
/// statistics, and the account managers' follow-up tasks.
extension PublicAPI {
    static var canvasSchemas: [String: JSONValue] {
        let document = JSONSchema.object([
            "name": JSONSchema.string(minLength: 1, maxLength: 100),
            "entry": JSONSchema.object([
                "type": JSONSchema.string(enumeration: ["event", "segment", "segment_enter", "lifecycle_changed"]),
                "event": JSONSchema.string(), "where": JSONSchema.any,
                "notFollowedBy": JSONSchema.object(["event": JSONSchema.string(), "within": JSONSchema.string()]),
                "segmentId": JSONSchema.string(),
                "schedule": JSONSchema.object(["at": JSONSchema.dateTime, "every": JSONSchema.string(), "until": JSONSchema.dateTime]),
                "to": JSONSchema.string(description: "lifecycle_changed: only changes into this stage."),
            ], required: ["type"]),
            "audience": JSONSchema.object([:], description: "A rule-language condition on the customer's profile at entry."),
            "start": JSONSchema.string(),
            "nodes": JSONSchema.array(JSONSchema.object([
                "id": JSONSchema.string(),
                "type": JSONSchema.string(enumeration: ["send", "wait", "waitEvent", "split", "ab", "reward", "tag", "task", "webhook", "exit"]),
            ], required: ["id", "type"], description: "Members per type as in DESIGN.md §3; `next: null` ends the journey.")),
            "goal": JSONSchema.object([
                "event": JSONSchema.string(), "within": JSONSchema.string(), "exitOnGoal": JSONSchema.boolean,
                "amountProperty": JSONSchema.nullable(JSONSchema.string(pattern: "^[A-Za-z][A-Za-z0-9_]{0,63}$",
                    description: "The goal event's property holding the converted amount (e.g. a deposit's `amount`), reported "
                        + "on conversions for the rewards ROI; an event without a numeric value there converts without an amount.")),
            ]),
            "controlGroupPercent": JSONSchema.integer(minimum: 0, maximum: 90),
            "reentry": JSONSchema.string(description: "never (default), always, or after:<duration> such as after:30d."),
            "schedule": JSONSchema.object(["startAt": JSONSchema.dateTime, "endAt": JSONSchema.dateTime]),
            "maxEntries": JSONSchema.integer(minimum: 1),
        ], required: ["name", "entry", "start", "nodes"])
        return [
            "CanvasDocument": document,
            "Canvas": JSONSchema.object([
                "id": JSONSchema.string(pattern: "^cnv_[a-z0-9]{1,60}$"),
                "name": JSONSchema.string(),
                "orgId": JSONSchema.string(), "orgPath": JSONSchema.string(), "createdBy": JSONSchema.string(),
                "status": JSONSchema.string(enumeration: ["draft", "submitted", "rejected", "scheduled", "running", "paused", "stopped"]),
                "isTemplate": JSONSchema.boolean,
                "copiedFrom": JSONSchema.nullable(JSONSchema.string()),
                "version": JSONSchema.nullable(JSONSchema.integer(description: "The live version; journeys keep the version they entered with.")),
                "document": JSONSchema.nullable(JSONSchema.ref("CanvasDocument")),
                "draft": JSONSchema.nullable(JSONSchema.object([
                    "document": JSONSchema.ref("CanvasDocument"),
                    "state": JSONSchema.string(enumeration: ["editing", "submitted", "rejected"]),
                    "author": JSONSchema.string(), "reviewNote": JSONSchema.nullable(JSONSchema.string()),
                ], required: ["document", "state", "author"])),
                "entries": JSONSchema.integer(),
                "createdAt": JSONSchema.dateTime, "updatedAt": JSONSchema.dateTime, "revision": JSONSchema.integer(),
            ], required: ["id", "name", "orgId", "orgPath", "createdBy", "status", "isTemplate", "entries", "createdAt", "updatedAt", "revision"]),
            "CanvasStats": JSONSchema.object([
                "canvasId": JSONSchema.string(),
                "entered": JSONSchema.integer(), "control": JSONSchema.integer(), "active": JSONSchema.integer(),
                "converted": JSONSchema.integer(), "exited": JSONSchema.integer(),
                "exits": JSONSchema.map(JSONSchema.integer()), "arms": JSONSchema.map(JSONSchema.integer()),
                "nodes": JSONSchema.array(JSONSchema.object([
                    "nodeId": JSONSchema.string(), "type": JSONSchema.string(), "reached": JSONSchema.integer(),
                    "outcomes": JSONSchema.map(JSONSchema.integer()),
                ], required: ["nodeId", "reached", "outcomes"])),
            ], required: ["canvasId", "entered", "control", "active", "converted", "exited", "exits", "arms", "nodes"]),
            "CanvasTestRun": JSONSchema.object([
                "id": JSONSchema.string(pattern: "^tst_[a-z0-9]{1,60}$"), "canvasId": JSONSchema.string(),
                "tested": JSONSchema.string(enumeration: ["draft", "version"], description: "The draft, or (without one) the live version."),
                "version": JSONSchema.nullable(JSONSchema.integer()),
                "customerIds": JSONSchema.array(JSONSchema.string()), "createdBy": JSONSchema.string(), "createdAt": JSONSchema.dateTime,
                "journeys": JSONSchema.array(JSONSchema.object([
                    "customerId": JSONSchema.string(), "arm": JSONSchema.nullable(JSONSchema.string()),
                    "state": JSONSchema.string(enumeration: ["active", "done"]), "node": JSONSchema.nullable(JSONSchema.string()),
                    "exitReason": JSONSchema.nullable(JSONSchema.string()),
                ], required: ["customerId", "state"])),
                "nodes": JSONSchema.array(JSONSchema.object([
                    "nodeId": JSONSchema.string(), "type": JSONSchema.string(), "reached": JSONSchema.integer(),
                    "outcomes": JSONSchema.map(JSONSchema.integer()),
                ], required: ["nodeId", "reached", "outcomes"])),
                "exits": JSONSchema.map(JSONSchema.integer()),
            ], required: ["id", "canvasId", "tested", "customerIds", "createdBy", "createdAt"],
               description: "`journeys`, `nodes` (outcome `test_skipped` for a skipped effect) and `exits` come with GET."),
            "FollowUpTask": JSONSchema.object([
                "id": JSONSchema.string(), "canvasId": JSONSchema.string(), "nodeId": JSONSchema.string(), "customerId": JSONSchema.string(),
                "assignee": JSONSchema.nullable(JSONSchema.string()), "text": JSONSchema.string(),
                "status": JSONSchema.string(enumeration: ["open", "done"]), "createdAt": JSONSchema.dateTime,
                "completedAt": JSONSchema.nullable(JSONSchema.dateTime),
            ], required: ["id", "canvasId", "nodeId", "customerId", "text", "status", "createdAt"]),
        ]
    }

    static func canvasEndpoint(_ method: String, _ path: String, _ operationId: String, _ access: PublicEndpoint.Access,
                               _ summary: String, _ summaryZh: String, request: JSONValue? = nil, status: Int = 200,
                               response: JSONValue? = JSONSchema.ref("Canvas"), query: [PublicQueryParameter] = [],
                               idempotent: Bool = false, extraErrors: [Int] = []) -> PublicEndpoint {
        PublicEndpoint(method: method, path: path, service: "canvas", operationId: operationId, summary: summary,
                       summaryZh: summaryZh, tag: "Canvases", access: access, requestBody: request, successStatus: status,
                       response: response, responseContentTypes: ["application/json"], queryParameters: query,
                       acceptsIdempotencyKey: idempotent, streamsResponseBody: false, extraErrorStatuses: extraErrors)
    }

    static var canvasEndpoints: [PublicEndpoint] {
        let writable = JSONSchema.object([
            "orgId": JSONSchema.string(description: "The owning unit (default the caller's); must be in the caller's subtree."),
            "isTemplate": JSONSchema.boolean,
        ], description: "A CanvasDocument with these extra members. Graph faults are 422 `canvas_invalid` with `details.nodeId` and "
            + "`details.field`; an unknown or unapproved segment, template or reward too; 503 when that service cannot answer.")
        let reason = JSONSchema.object(["reason": JSONSchema.string(maxLength: 500)])
        return [
            canvasEndpoint("GET", "/api/v1/canvases", "listCanvases", .right("view"),
                           "Canvases of the caller's subtree and templates of the units above", "列出本机构及下级机构的画布和上级机构的模板",
                           response: JSONSchema.page(of: JSONSchema.ref("Canvas")),
                           query: [PublicQueryParameter.limit(maximum: 200), .cursor,
                                   PublicQueryParameter(name: "status", schema: JSONSchema.string(), description: "Only canvases in this status."),
                                   PublicQueryParameter(name: "template", schema: JSONSchema.boolean, description: "Only templates (true) or none (false).")]),
            canvasEndpoint("POST", "/api/v1/canvases", "createCanvas", .right("edit"),
                           "Create a canvas draft, validated on save", "新建画布草稿（保存时校验）",
                           request: writable, status: 201, idempotent: true, extraErrors: [422, 503]),
            canvasEndpoint("GET", "/api/v1/canvases/{id}", "getCanvas", .right("view"), "A canvas: its live version and its draft", "查看画布：生效版本与草稿"),
            canvasEndpoint("PUT", "/api/v1/canvases/{id}", "updateCanvas", .right("edit"),
                           "Replace the draft (of a live canvas: its next version; journeys inside keep theirs)",
                           "修改草稿（已上线画布修改的是下一版本，旅程中的客户保持原版本）",
                           request: writable, extraErrors: [409, 422, 503]),
            canvasEndpoint("POST", "/api/v1/canvases/{id}:submit", "submitCanvas", .right("edit"),
                           "Submit the draft for approval", "提交草稿审批", extraErrors: [409, 422, 503]),
            canvasEndpoint("POST", "/api/v1/canvases/{id}:approve", "approveCanvas", .right("publish"),
                           "Approve the submitted draft as the next version (an approver of the unit or above, never its author)",
                           "审批通过并发布为新版本（本机构或上级审批人，不能是作者本人）", extraErrors: [409, 422, 503]),
            canvasEndpoint("POST", "/api/v1/canvases/{id}:reject", "rejectCanvas", .right("publish"),
                           "Reject the submitted draft with a reason", "驳回草稿并说明原因", request: reason, extraErrors: [409, 422]),
            canvasEndpoint("POST", "/api/v1/canvases/{id}:pause", "pauseCanvas", .right("publish"),
                           "Pause: no entries, journeys hold where they are", "暂停：停止进入，旅程原地等待", extraErrors: [409]),
            canvasEndpoint("POST", "/api/v1/canvases/{id}:resume", "resumeCanvas", .right("publish"),
                           "Resume a paused canvas", "恢复已暂停的画布", extraErrors: [409]),
            canvasEndpoint("POST", "/api/v1/canvases/{id}:stop", "stopCanvas", .right("publish"),
                           "Stop for good: no entries, every journey inside ends", "终止画布：不再进入，旅程全部结束", extraErrors: [409]),
            canvasEndpoint("POST", "/api/v1/canvases/{id}:copy", "copyCanvas", .right("edit"),
                           "Copy a template (or a canvas of the subtree) into a new draft of the caller's unit", "复用模板：复制为本机构的新草稿",
                           request: JSONSchema.object(["name": JSONSchema.string(maxLength: 100), "orgId": JSONSchema.string()]), status: 201,
                           idempotent: true, extraErrors: [409, 422, 503]),
            canvasEndpoint("POST", "/api/v1/canvases/{id}:test", "testCanvas", .right("edit"),
                           "Rehearse the draft (or the live version) on up to 50 test customers of the canvas's unit: their messages are "
                               + "sent for real, as the run's own campaign; rewards, tags, tasks and webhooks are skipped; the canvas's "
                               + "statistics and analytics see nothing of it",
                           "测试画布：对至多50名测试客户真实发送（奖励、标签、任务、回调不执行），不计入画布统计与分析",
                           request: JSONSchema.object([
                               "customerIds": JSONSchema.array(JSONSchema.string(minLength: 1, maxLength: 64), uniqueItems: true, maxItems: 50),
                           ], required: ["customerIds"]),
                           status: 202, response: JSONSchema.ref("CanvasTestRun"), idempotent: true, extraErrors: [409, 422, 503]),
            canvasEndpoint("GET", "/api/v1/canvases/{id}/tests/{runId}", "getCanvasTestRun", .right("view"),
                           "A test run: each test customer's journey and the run's counts per node", "查看画布测试结果：每位测试客户的旅程与各节点计数",
                           response: JSONSchema.ref("CanvasTestRun")),
            canvasEndpoint("GET", "/api/v1/canvases/{id}/stats", "canvasStats", .right("view"),
                           "Entered, active, converted and exited journeys, and per node reached and outcomes",
                           "画布统计：进入、进行中、转化、退出人数及各节点到达与结果", response: JSONSchema.ref("CanvasStats")),
            canvasEndpoint("GET", "/api/v1/tasks", "listTasks", .right("view"),
                           "Follow-up tasks of the caller's subtree (an account manager: the ones assigned to it)",
                           "跟进任务列表（客户经理只看到分配给自己的任务）", response: JSONSchema.page(of: JSONSchema.ref("FollowUpTask")),
                           query: [PublicQueryParameter.limit(maximum: 200), .cursor,
                                   PublicQueryParameter(name: "status", schema: JSONSchema.string(enumeration: ["open", "done"]), description: "open or done.")]),
            canvasEndpoint("POST", "/api/v1/tasks/{id}:complete", "completeTask", .right("view"),
                           "Mark a follow-up task done", "完成跟进任务", response: JSONSchema.ref("FollowUpTask")),
        ]
    }
}
