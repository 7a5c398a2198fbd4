import Foundation

/// The document's JSON form written and read directly (`JSONText`, `JSONParser`), several times faster
/// than `JSONEncoder`/`JSONDecoder`: the profile writes a document per changed customer and the segment
/// reads millions from a snapshot. The same text as the `Codable` form, and as strict: every member
/// required and typed, dates RFC 3339.
extension CustomerFactsDocument {
    /// Why a text is not a document; names the customer and the member when it can.
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The document of one JSON text (a snapshot line, say).
    public init(jsonBytes bytes: [UInt8]) throws(Malformed) {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw Malformed(description: "a customer document is not JSON: \(error)")
        }
        try self.init(json: json)
    }

    /// The document of an already parsed JSON value (an item of a page).
    public init(json: JSONValue) throws(Malformed) {
        guard case .object(let o) = json else { throw Malformed(description: "a customer document is not an object") }
        guard case .string(let id)? = o["customerId"], case .bool(let exists)? = o["exists"] else {
            throw Malformed(description: "a customer document lacks customerId or exists")
        }
        var orgPath: String?
        switch o["orgPath"] {
        case .string(let path)?: orgPath = path
        case .null?, nil: orgPath = nil
        default: throw Malformed(description: "\(id): orgPath is not a string")
        }
        guard case .object(let attributes)? = o["attributes"] ?? .object([:]) else {
            throw Malformed(description: "\(id): attributes is not an object")
        }
        var tags: [String: String] = [:]
        if case .object(let t)? = o["tags"] {
            for (code, value) in t {
                guard case .string(let v) = value else { throw Malformed(description: "\(id): tag \(code) is not a string") }
                tags[code] = v
            }
        }
        var events: [String: EventAggregate] = [:]
        if case .object(let e)? = o["events"] {
            for (name, value) in e { events[name] = try Self.aggregate(value, of: id, name) }
        }
        self.init(customerId: id, exists: exists, orgPath: orgPath, attributes: attributes, tags: tags, events: events)
    }

    private static func aggregate(_ json: JSONValue, of id: String, _ name: String) throws(Malformed) -> EventAggregate {
        guard case .object(let a) = json, case .number(let total)? = a["total"],
              case .string(let first)? = a["firstAt"], let firstAt = JSONCoding.parseDate(first),
              case .string(let last)? = a["lastAt"], let lastAt = JSONCoding.parseDate(last),
              let totalCount = Int64(exactly: total) else {
            throw Malformed(description: "\(id): event \(name) is not an aggregate {total, firstAt, lastAt, daily}")
        }
        var daily: [String: Int] = [:]
        if case .object(let d)? = a["daily"] {
            for (day, value) in d {
                guard case .number(let n) = value, let count = Int(exactly: n) else {
                    throw Malformed(description: "\(id): event \(name) daily \(day) is not a count")
                }
                daily[day] = count
            }
        }
        return EventAggregate(total: totalCount, firstAt: firstAt, lastAt: lastAt, daily: daily)
    }

    /// `{"items":[documents…]}` as JSON text, the shape of a page of the feed and of a facts answer;
    /// left open after the array (`closed: false`) for a caller adding members of its own.
    public static func itemsJSON(_ documents: [CustomerFactsDocument], closed: Bool = true) -> [UInt8] {
        var bytes = Array(#"{"items":"#.utf8)
        JSONText.appendArray(documents, to: &bytes) { document, bytes in document.write(into: &bytes) }
        if closed { bytes.append(UInt8(ascii: "}")) }
        return bytes
    }

    /// Appends the document as JSON text, the members of the `Codable` form (`orgPath` left out when nil).
    public func write(into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "{"))
        JSONText.appendKey("customerId", first: true, to: &bytes)
        JSONString.append(customerId, to: &bytes)
        JSONText.appendKey("exists", to: &bytes)
        JSONValue.bool(exists).write(into: &bytes)
        if let orgPath {
            JSONText.appendKey("orgPath", to: &bytes)
            JSONString.append(orgPath, to: &bytes)
        }
        JSONText.appendKey("attributes", to: &bytes)
        JSONText.appendObject(attributes, to: &bytes) { value, bytes in value.write(into: &bytes) }
        JSONText.appendKey("tags", to: &bytes)
        JSONText.appendObject(tags, to: &bytes) { value, bytes in JSONString.append(value, to: &bytes) }
        JSONText.appendKey("events", to: &bytes)
        JSONText.appendObject(events, to: &bytes) { aggregate, bytes in
            bytes.append(UInt8(ascii: "{"))
            JSONText.appendKey("total", first: true, to: &bytes)
            JSONText.appendInteger(aggregate.total, to: &bytes)
            JSONText.appendKey("firstAt", to: &bytes)
            JSONString.append(JSONCoding.formatDate(aggregate.firstAt), to: &bytes)
            JSONText.appendKey("lastAt", to: &bytes)
            JSONString.append(JSONCoding.formatDate(aggregate.lastAt), to: &bytes)
            JSONText.appendKey("daily", to: &bytes)
            JSONText.appendObject(aggregate.daily, to: &bytes) { count, bytes in JSONText.appendInteger(Int64(count), to: &bytes) }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: "}"))
    }
}
