import Contracts
import Foundation
import HTTP
import ServiceKit

/// The report routes under `/api/v1/analytics` (DESIGN.md §3), each in the caller's org scope and as
/// JSON or `?format=csv`.
public enum ReportRoutes {
    static let common: Set<String> = ["format", "orgPath"]
    static let ranged: Set<String> = common.union(["from", "to"])

    public static func register(on router: Router, reports: ReportStore) {
        router.get("/api/v1/analytics/canvases/{id}/funnel") { request, context in
            let (_, q) = try parse(request, context, reports, allowed: common)
            let id = try ReportQuery.canvasId(try context.parameters.require("id"))
            return try answer(try reports.funnel(canvasId: id, orgPath: q.orgPath), q)
        }
        router.get("/api/v1/analytics/canvases/{id}/experiments") { request, context in
            let (_, q) = try parse(request, context, reports, allowed: common)
            let id = try ReportQuery.canvasId(try context.parameters.require("id"))
            return try answer(try reports.experiments(canvasId: id, orgPath: q.orgPath), q)
        }
        router.get("/api/v1/analytics/channels") { request, context in
            let (_, q) = try parse(request, context, reports, allowed: ranged)
            return try answer(try reports.channels(q), q)
        }
        router.get("/api/v1/analytics/rewards") { request, context in
            let (_, q) = try parse(request, context, reports, allowed: ranged.union(["by"]))
            let by = try choice(request.queryParameters["by"], RewardReport.Grouping.self, field: "by") ?? .reward
            // Per canvas is over each canvas's whole life (its totals are not kept per day): a period asked
            // for would be silently ignored, so it is refused.
            if by == .canvas, let field = ["from", "to"].first(where: { request.queryParameters[$0] != nil }) {
                throw APIError.badRequest("by=canvas reports each canvas's whole life; \(field) applies to by=reward", field: field)
            }
            return try answer(try reports.rewards(q, by: by), q)
        }
        router.get("/api/v1/analytics/lifecycle") { request, context in
            let (_, q) = try parse(request, context, reports, allowed: ranged.union(["interval"]))
            let interval = try choice(request.queryParameters["interval"], LifecycleReport.Interval.self, field: "interval") ?? .day
            return try answer(try reports.lifecycle(q, interval: interval), q)
        }
        router.get("/api/v1/analytics/dashboard") { request, context in
            let (_, q) = try parse(request, context, reports, allowed: common)
            return try answer(try reports.dashboard(orgPath: q.orgPath), q)
        }
    }

    static func parse(_ request: Request, _ context: RequestContext, _ reports: ReportStore,
                      allowed: Set<String>) throws -> (CallerIdentity, ReportQuery) {
        let caller = try context.requireIdentity()
        return (caller, try ReportQuery(query: request.queryParameters, caller: caller, calendar: reports.days, allowed: allowed))
    }

    static func choice<T: RawRepresentable & CaseIterable>(_ text: String?, _ type: T.Type, field: String) throws -> T? where T.RawValue == String {
        guard let text, !text.isEmpty else { return nil }
        guard let value = T(rawValue: text) else {
            throw APIError.badRequest("\(field) must be one of \(T.allCases.map(\.rawValue).joined(separator: " "))", field: field)
        }
        return value
    }

    static func answer<R: TabularReport>(_ report: R, _ q: ReportQuery) throws -> Response {
        switch q.format {
        case .json: return try .json(report)
        case .csv: return report.table.response(fileName: report.fileName)
        }
    }
}
