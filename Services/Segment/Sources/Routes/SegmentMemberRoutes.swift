import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET /api/v1/segments/{id}/members`: a page of members in customer-id order, or with
/// `?format=csv` every member as a streamed CSV (`customerId` per line).
public enum SegmentMemberRoutes {
    static let maximumPage = 1_000
    /// Lines per chunk written to the client while exporting.
    static let csvChunkLines = 5_000

    public static func register(on router: Router, service: SegmentService) {
        router.get("/api/v1/segments/{id}/members") { request, context in
            let caller = try context.requireIdentity()
            let query = request.queryParameters
            let id = try context.parameters.require("id")
            switch query["format"] {
            case nil, "", "json":
                let page = try PageRequest(query: query, maximumLimit: maximumPage, defaultLimit: 100)
                return try .json(try service.members(id: id, caller: caller, page: page))
            case "csv":
                let slot = try service.exports.take()
                let members = try service.sortedMembers(id: id, caller: caller)
                return csv(members, filename: id, holding: slot)
            default:
                throw APIError.badRequest("format must be json or csv", field: "format")
            }
        }
    }

    /// Streams `members` as CSV. Ids are written as they are when they need no quoting (RFC 4180).
    /// `slot` is released with the stream, once the last line is written (or the client went away).
    static func csv(_ members: [String], filename: String, holding slot: ExportSlots.Slot) -> Response {
        var headers = HTTPHeaders()
        headers.set("content-type", "text/csv; charset=utf-8")
        headers.set("content-disposition", "attachment; filename=\"\(filename)-members.csv\"")
        return Response(status: 200, headers: headers, body: .stream { writer in
            var chunk = "customerId\r\n"
            for (i, id) in members.enumerated() {
                chunk += csvField(id) + "\r\n"
                if i % csvChunkLines == csvChunkLines - 1 {
                    try writer.write(chunk)
                    chunk = ""
                }
            }
            if !chunk.isEmpty { try writer.write(chunk) }
            withExtendedLifetime(slot) {}   // the stream holds the export's slot to its end
        })
    }

    static func csvField(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
