/// Consistency checks of a catalog, run by the tests of every service that adds endpoints.
extension PublicAPI {
    static let allowedMethods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    /// What is wrong with `endpoints` (empty when nothing): duplicate `(method, path)` or
    /// `operationId`, an unknown method, a path outside `/api/v1/` or with a malformed `{…}`
    /// parameter, a repeated parameter name, an empty summary, and `$ref`s to schemas that `schemas`
    /// does not define.
    public static func problems(in endpoints: [PublicEndpoint], schemas: [String: JSONValue] = PublicAPI.schemas) -> [String] {
        var problems: [String] = []
        var routes = Set<String>()
        var operationIds = Set<String>()
        for e in endpoints {
            let route = "\(e.method) \(e.path)"
            if !routes.insert(route).inserted { problems.append("\(route): listed twice") }
            if !operationIds.insert(e.operationId).inserted { problems.append("\(route): operationId \(e.operationId) used twice") }
            if e.operationId.isEmpty { problems.append("\(route): empty operationId") }
            if !allowedMethods.contains(e.method) { problems.append("\(route): unknown method") }
            if !e.path.hasPrefix("/api/v1/") { problems.append("\(route): path must start with /api/v1/") }
            if e.summary.isEmpty || e.summaryZh.isEmpty { problems.append("\(route): summary and summaryZh are required") }
            if e.service.isEmpty || e.tag.isEmpty { problems.append("\(route): service and tag are required") }
            problems += pathProblems(e.path).map { "\(route): \($0)" }
            let names = e.pathParameters
            if Set(names).count != names.count { problems.append("\(route): a path parameter name is repeated") }
            var referenced: [String] = []
            for schema in [e.requestBody, e.response].compactMap({ $0 }) + e.queryParameters.map(\.schema) {
                collectReferences(schema, into: &referenced)
            }
            for name in referenced where schemas[name] == nil {
                problems.append("\(route): references undefined schema \(name)")
            }
        }
        for (name, schema) in schemas {
            var referenced: [String] = []
            collectReferences(schema, into: &referenced)
            for target in referenced where schemas[target] == nil {
                problems.append("schema \(name): references undefined schema \(target)")
            }
        }
        return problems
    }

    /// Each segment is a literal, or `{name}` optionally followed by a literal action (`{id}:revoke`).
    static func pathProblems(_ path: String) -> [String] {
        var problems: [String] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            if segment.isEmpty { problems.append("empty path segment"); continue }
            let opens = segment.filter { $0 == "{" }.count
            let closes = segment.filter { $0 == "}" }.count
            if opens == 0 && closes == 0 { continue }
            guard opens == 1, closes == 1, segment.first == "{", let close = segment.firstIndex(of: "}") else {
                problems.append("segment \(segment) must be {name} or {name}:action")
                continue
            }
            let name = segment[segment.index(after: segment.startIndex)..<close]
            let suffix = segment[segment.index(after: close)...]
            if name.isEmpty || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                problems.append("parameter {\(name)} must be a non-empty alphanumeric name")
            }
            if !suffix.isEmpty && !suffix.hasPrefix(":") {
                problems.append("segment \(segment): only an :action may follow a parameter")
            }
        }
        return problems
    }

    /// Names of `#/components/schemas/<name>` references anywhere in `schema`.
    static func collectReferences(_ schema: JSONValue, into names: inout [String]) {
        switch schema {
        case .object(let fields):
            for (key, value) in fields {
                if key == "$ref", case .string(let target) = value {
                    let prefix = "#/components/schemas/"
                    names.append(target.hasPrefix(prefix) ? String(target.dropFirst(prefix.count)) : target)
                } else {
                    collectReferences(value, into: &names)
                }
            }
        case .array(let values):
            for value in values { collectReferences(value, into: &names) }
        default:
            break
        }
    }
}
