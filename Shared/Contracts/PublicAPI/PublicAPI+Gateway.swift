/// The gateway's own endpoints: sign-in, org units, users, API keys, audit, the OpenAPI document.
extension PublicAPI {
    static let roleNames = ["admin", "operator", "approver", "analyst", "viewer", "account_manager"]
    static let rightNames = ["view", "edit", "publish", "manage", "pii"]

    /// Named schemas of the gateway's bodies.
    static var gatewaySchemas: [String: JSONValue] {
        let role = JSONSchema.string(enumeration: roleNames)
        let right = JSONSchema.string(enumeration: rightNames)
        return [
            "OrgUnit": JSONSchema.object([
                "id": JSONSchema.string(pattern: "^[a-z0-9][a-z0-9_-]{0,31}$"),
                "parentId": JSONSchema.nullable(JSONSchema.string()),
                "path": JSONSchema.string(description: "Materialized path of ids, e.g. `/hq/sh/pd/`."),
                "kind": JSONSchema.string(enumeration: ["head_office", "branch", "sub_branch"]),
                "name": JSONSchema.string(),
                "createdAt": JSONSchema.dateTime,
            ], required: ["id", "parentId", "path", "kind", "name", "createdAt"]),
            "User": JSONSchema.object([
                "id": JSONSchema.string(),
                "username": JSONSchema.string(),
                "orgId": JSONSchema.string(),
                "orgPath": JSONSchema.string(),
                "roles": JSONSchema.array(role),
                "rights": JSONSchema.array(right, uniqueItems: true),
                "effectiveRights": JSONSchema.array(right, uniqueItems: true),
                "disabled": JSONSchema.boolean,
                "lockedUntil": JSONSchema.nullable(JSONSchema.dateTime),
                "createdAt": JSONSchema.dateTime,
                "updatedAt": JSONSchema.dateTime,
            ], required: ["id", "username", "orgId", "orgPath", "roles", "rights", "effectiveRights", "disabled",
                          "lockedUntil", "createdAt", "updatedAt"]),
            "ApiKey": JSONSchema.object([
                "id": JSONSchema.string(),
                "name": JSONSchema.string(),
                "orgId": JSONSchema.string(),
                "orgPath": JSONSchema.string(),
                "rights": JSONSchema.array(right, uniqueItems: true),
                "createdBy": JSONSchema.string(),
                "createdAt": JSONSchema.dateTime,
                "revokedAt": JSONSchema.nullable(JSONSchema.dateTime),
                "lastUsedAt": JSONSchema.nullable(JSONSchema.dateTime),
                "key": JSONSchema.string(description: "The secret; present only in the answer that created the key."),
            ], required: ["id", "name", "orgId", "orgPath", "rights", "createdBy", "createdAt", "revokedAt", "lastUsedAt"]),
            "LoginResult": JSONSchema.object([
                "token": JSONSchema.string(description: "Send as `Authorization: Bearer <token>`; shown once."),
                "expiresAt": JSONSchema.string(format: "date-time",
                                               description: "The session's absolute end; unused for the idle timeout it ends earlier."),
                "user": JSONSchema.object([
                    "id": JSONSchema.string(),
                    "username": JSONSchema.string(),
                    "orgId": JSONSchema.string(),
                    "orgPath": JSONSchema.string(),
                    "roles": JSONSchema.array(role),
                    "rights": JSONSchema.array(right, uniqueItems: true),
                ], required: ["id", "username", "orgId", "orgPath", "roles", "rights"]),
            ], required: ["token", "expiresAt", "user"]),
            "Me": JSONSchema.object([
                "id": JSONSchema.string(description: "The user's id, or the API key's id."),
                "username": JSONSchema.nullable(JSONSchema.string(description: "The username, or the API key's name.")),
                "kind": JSONSchema.string(enumeration: ["user", "api_key"]),
                "orgId": JSONSchema.string(),
                "orgPath": JSONSchema.string(),
                "roles": JSONSchema.array(role),
                "rights": JSONSchema.array(right, uniqueItems: true),
            ], required: ["id", "kind", "orgId", "orgPath", "roles", "rights"]),
            "AuditRecord": JSONSchema.object([
                "id": JSONSchema.string(),
                "at": JSONSchema.dateTime,
                "actorId": JSONSchema.nullable(JSONSchema.string()),
                "actorName": JSONSchema.nullable(JSONSchema.string()),
                "orgId": JSONSchema.nullable(JSONSchema.string()),
                "orgPath": JSONSchema.nullable(JSONSchema.string()),
                "action": JSONSchema.string(description: "`METHOD /route/pattern`, e.g. `POST /api/v1/users`."),
                "resource": JSONSchema.string(description: "The path acted on, e.g. `/api/v1/users/u_12`."),
                "outcome": JSONSchema.integer(description: "The HTTP status answered."),
                "requestId": JSONSchema.string(),
                "remoteAddress": JSONSchema.nullable(JSONSchema.string()),
            ], required: ["id", "at", "actorId", "actorName", "orgId", "orgPath", "action", "resource", "outcome",
                          "requestId", "remoteAddress"]),
        ]
    }

    static var gatewayEndpoints: [PublicEndpoint] {
        let role = JSONSchema.string(enumeration: roleNames)
        let right = JSONSchema.string(enumeration: rightNames)
        let pageLimit = PublicQueryParameter.limit(maximum: 200)
        func endpoint(_ method: String, _ path: String, _ operationId: String, _ tag: String, _ access: PublicEndpoint.Access,
                      _ summary: String, _ summaryZh: String, request: JSONValue? = nil, status: Int = 200,
                      response: JSONValue? = nil, query: [PublicQueryParameter] = [], idempotent: Bool = false,
                      extraErrors: [Int] = []) -> PublicEndpoint {
            PublicEndpoint(method: method, path: path, service: "gateway", operationId: operationId, summary: summary,
                           summaryZh: summaryZh, tag: tag, access: access, requestBody: request, successStatus: status,
                           response: response, queryParameters: query, acceptsIdempotencyKey: idempotent,
                           extraErrorStatuses: extraErrors)
        }
        return [
            // Sign-in
            endpoint("POST", "/api/v1/auth/login", "login", "Identity", .anonymous,
                     "Sign in with username and password; returns a session token", "用户名密码登录，返回会话令牌",
                     request: JSONSchema.object([
                        "username": JSONSchema.string(),
                        "password": JSONSchema.string(format: "password"),
                     ], required: ["username", "password"]),
                     response: JSONSchema.ref("LoginResult"), extraErrors: [401, 403]),
            endpoint("POST", "/api/v1/auth/logout", "logout", "Identity", .authenticated,
                     "Sign out: revoke the session token used", "退出登录：吊销当前会话令牌", status: 204),
            endpoint("GET", "/api/v1/me", "getMe", "Identity", .authenticated,
                     "The caller: the signed-in user or the API key", "当前调用者：登录用户或 API 密钥",
                     response: JSONSchema.ref("Me")),

            // Org units
            endpoint("GET", "/api/v1/orgs", "listOrgs", "Identity", .right("view"),
                     "Org units of the caller's subtree", "本机构及下级机构列表",
                     response: JSONSchema.page(of: JSONSchema.ref("OrgUnit")), query: [pageLimit, .cursor]),
            endpoint("POST", "/api/v1/orgs", "createOrg", "Identity", .right("manage"),
                     "Create a branch or sub-branch below a unit in scope", "在管辖范围内新建分行或支行",
                     request: JSONSchema.object([
                        "id": JSONSchema.string(pattern: "^[a-z0-9][a-z0-9_-]{0,31}$",
                                                description: "Becomes a segment of the unit's path; generated when absent."),
                        "parentId": JSONSchema.string(),
                        "kind": JSONSchema.string(enumeration: ["branch", "sub_branch"]),
                        "name": JSONSchema.string(minLength: 1, maxLength: 100),
                     ], required: ["parentId", "kind", "name"]),
                     status: 201, response: JSONSchema.ref("OrgUnit"), idempotent: true),
            endpoint("GET", "/api/v1/orgs/{id}", "getOrg", "Identity", .right("view"),
                     "One org unit in scope", "查看机构", response: JSONSchema.ref("OrgUnit")),
            endpoint("PATCH", "/api/v1/orgs/{id}", "renameOrg", "Identity", .right("manage"),
                     "Rename an org unit in scope", "修改机构名称",
                     request: JSONSchema.object(["name": JSONSchema.string(minLength: 1, maxLength: 100)], required: ["name"]),
                     response: JSONSchema.ref("OrgUnit")),

            // Users
            endpoint("GET", "/api/v1/users", "listUsers", "Identity", .right("manage"),
                     "Users of the caller's subtree", "本机构及下级机构的用户列表",
                     response: JSONSchema.page(of: JSONSchema.ref("User")), query: [pageLimit, .cursor]),
            endpoint("POST", "/api/v1/users", "createUser", "Identity", .right("manage"),
                     "Create a user in a unit in scope", "在管辖机构内新建用户",
                     request: JSONSchema.object([
                        "username": JSONSchema.string(pattern: "^[a-z0-9][a-z0-9._@-]{2,63}$"),
                        "password": JSONSchema.string(format: "password", minLength: 10),
                        "orgId": JSONSchema.string(),
                        "roles": JSONSchema.array(role, uniqueItems: true),
                        "rights": JSONSchema.array(right, uniqueItems: true),
                     ], required: ["username", "password", "orgId", "roles"]),
                     status: 201, response: JSONSchema.ref("User"), idempotent: true),
            endpoint("GET", "/api/v1/users/{id}", "getUser", "Identity", .right("manage"),
                     "One user in scope", "查看用户", response: JSONSchema.ref("User")),
            endpoint("PATCH", "/api/v1/users/{id}", "updateUser", "Identity", .right("manage"),
                     "Change a user's roles, rights, unit, password or disabled flag", "修改用户角色、权限、机构、密码或停用状态",
                     request: JSONSchema.object([
                        "password": JSONSchema.string(format: "password", minLength: 10),
                        "orgId": JSONSchema.string(),
                        "roles": JSONSchema.array(role, uniqueItems: true),
                        "rights": JSONSchema.array(right, uniqueItems: true),
                        "disabled": JSONSchema.boolean,
                     ]),
                     response: JSONSchema.ref("User")),

            // API keys
            endpoint("GET", "/api/v1/api-keys", "listApiKeys", "Identity", .right("manage"),
                     "API keys of the caller's subtree (never their secrets)", "本机构及下级机构的 API 密钥（不含密钥本身）",
                     response: JSONSchema.page(of: JSONSchema.ref("ApiKey")), query: [pageLimit, .cursor]),
            endpoint("POST", "/api/v1/api-keys", "createApiKey", "Identity", .right("manage"),
                     "Create a machine credential scoped to a unit and rights; the key is shown once",
                     "新建限定机构和权限的系统凭证，密钥仅显示一次",
                     request: JSONSchema.object([
                        "name": JSONSchema.string(minLength: 1, maxLength: 100),
                        "orgId": JSONSchema.string(),
                        "rights": JSONSchema.array(right, uniqueItems: true),
                     ], required: ["name", "orgId", "rights"]),
                     status: 201, response: JSONSchema.ref("ApiKey"), idempotent: true),
            endpoint("GET", "/api/v1/api-keys/{id}", "getApiKey", "Identity", .right("manage"),
                     "One API key in scope (never its secret)", "查看 API 密钥（不含密钥本身）", response: JSONSchema.ref("ApiKey")),
            endpoint("POST", "/api/v1/api-keys/{id}:revoke", "revokeApiKey", "Identity", .right("manage"),
                     "Revoke an API key at once", "立即吊销 API 密钥", response: JSONSchema.ref("ApiKey")),

            // Audit
            endpoint("GET", "/api/v1/audit", "listAudit", "Audit", .right("manage"),
                     "The audit trail of the caller's subtree, newest first", "本机构及下级机构的审计日志（最新在前）",
                     response: JSONSchema.page(of: JSONSchema.ref("AuditRecord")),
                     query: [
                        PublicQueryParameter(name: "user", schema: JSONSchema.string(maxLength: 200),
                                             description: "A user id or username."),
                        PublicQueryParameter(name: "resource", schema: JSONSchema.string(maxLength: 4096),
                                             description: "A path, or a path prefix ending at a segment: `/api/v1/users` also finds `/api/v1/users/u_1`."),
                        PublicQueryParameter(name: "action", schema: JSONSchema.string(maxLength: 600),
                                             description: "Exact action, e.g. `POST /api/v1/users`."),
                        PublicQueryParameter(name: "from", schema: JSONSchema.dateTime,
                                             description: "Entries at or after this time (RFC 3339)."),
                        PublicQueryParameter(name: "to", schema: JSONSchema.dateTime,
                                             description: "Entries before this time (RFC 3339)."),
                        PublicQueryParameter.limit(maximum: 500),
                        .cursor,
                     ]),

            // Meta
            endpoint("GET", "/api/v1/openapi.json", "getOpenAPI", "Meta", .anonymous,
                     "This OpenAPI 3.1 document", "本 OpenAPI 3.1 文档", response: JSONSchema.object([:])),
        ]
    }
}
