import Contracts
import Foundation
import HTTP
import ServiceKit

/// `GET /api/v1/segments/{id}/portrait?attrs=riskLevel,city&tags=vip`: how a segment's members
/// distribute over chosen attributes and tags (画像分析).
public struct Portrait: Sendable, Encodable, Equatable {
    public struct Share: Sendable, Encodable, Equatable {
        public var value: JSONValue
        public var count: Int
    }
    public struct AttributeDistribution: Sendable, Encodable, Equatable {
        public var attribute: String
        /// Customers per value, most frequent first (values held by nobody left out).
        public var values: [Share]
        /// Members without the attribute.
        public var notSet: Int
    }
    public struct TagDistribution: Sendable, Encodable, Equatable {
        public var tag: String
        /// Members carrying the tag.
        public var count: Int
        /// Members per tag value, most frequent first (empty for a tag without values).
        public var values: [Share]
    }

    public var segmentId: String
    public var count: Int
    public var attributes: [AttributeDistribution]
    public var tags: [TagDistribution]
}

/// Builds portraits: names checked with the profile's catalogs, then distributions on the index.
struct PortraitBuilder: Sendable {
    let audiences: Audiences

    /// Names asked at most per request, of each kind.
    static let maximumNames = 20
    /// Attributes whose values identify people: never shown as a distribution.
    static let personal = RuleNameCheck.personalAttributes

    func portrait(segmentId: String, query: QueryParameters, caller: CallerIdentity, context: RequestContext) throws -> Portrait {
        let attributes = try Self.names(query["attrs"], field: "attrs")
        let tags = try Self.names(query["tags"], field: "tags")
        guard !attributes.isEmpty || !tags.isEmpty else {
            throw APIError.badRequest("name attributes (attrs=riskLevel,city) or tags (tags=vip) to describe", field: "attrs")
        }
        if let personal = attributes.first(where: Self.personal.contains) {
            throw APIError.unprocessable("\(personal) identifies customers and has no portrait", code: "attribute_not_categorical",
                                         details: .object(["field": "attrs", "attribute": .string(personal)]))
        }
        let segment = try audiences.segments.segment(id: segmentId, caller: caller)
        if !attributes.isEmpty {
            var known = try audiences.catalog.attributeCodes(context: context)
            if !known.isSuperset(of: attributes) { known = try audiences.catalog.attributeCodes(context: context, fresh: true) }
            if let unknown = attributes.first(where: { !known.contains($0) }) {
                throw APIError.unprocessable("unknown attribute \(unknown.prefix(64))", code: "attribute_unknown",
                                             details: .object(["field": "attrs", "attribute": .string(String(unknown.prefix(64)))]))
            }
        }
        if !tags.isEmpty {
            var visible = try audiences.catalog.tagCodes(context: context)
            if !visible.isSuperset(of: tags) { visible = try audiences.catalog.tagCodes(context: context, fresh: true) }
            if let unknown = tags.first(where: { !visible.contains($0) }) {
                throw APIError.unprocessable("unknown tag \(unknown.prefix(64))", code: "tag_unknown",
                                             details: .object(["field": "tags", "tag": .string(String(unknown.prefix(64)))]))
            }
        }
        return try audiences.evaluate(try audiences.plan(segments: [segment])) { evaluation in
            try Self.describe(segment, attributes: attributes, tags: tags, evaluation: &evaluation)
        }
    }

    /// Attributes with more distinct values have no distribution (they are amounts, times, names).
    static let maximumValues = 1_000

    /// The distributions, counted on the index in one pass over the members per attribute or tag.
    private static func describe(_ segment: SegmentDefinition, attributes: [String], tags: [String],
                                 evaluation: inout Evaluation) throws -> Portrait {
        let members = try evaluation.members(of: segment)
        let index = evaluation.state.index
        var attributeDistributions: [Portrait.AttributeDistribution] = []
        for name in attributes {
            guard let counts = index.distribution(ofAttribute: name, within: members, maximumValues: maximumValues) else {
                throw APIError.unprocessable("\(name) has more than \(maximumValues) distinct values: no distribution",
                                             code: "attribute_not_categorical",
                                             details: .object(["field": "attrs", "attribute": .string(name)]))
            }
            let shares = counts.map { Portrait.Share(value: $0.value, count: $0.count) }
            let set = shares.reduce(0) { $0 + $1.count }
            attributeDistributions.append(.init(attribute: name, values: ordered(shares), notSet: members.count - set))
        }
        var tagDistributions: [Portrait.TagDistribution] = []
        for code in tags {
            let counts = index.distribution(ofTag: code, within: members)
            let holders = counts.reduce(0) { $0 + $1.count }
            // "" is the tag without a value: counted among the holders, not listed as a value.
            let shares = counts.filter { !$0.value.isEmpty }.map { Portrait.Share(value: .string($0.value), count: $0.count) }
            tagDistributions.append(.init(tag: code, count: holders, values: ordered(shares)))
        }
        return Portrait(segmentId: segment.id, count: members.count, attributes: attributeDistributions, tags: tagDistributions)
    }

    /// Most frequent first; ties by the value's JSON text, so answers are stable.
    static func ordered(_ shares: [Portrait.Share]) -> [Portrait.Share] {
        func text(_ v: JSONValue) -> String {
            (try? JSONCoding.encoder().encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return shares.sorted { $0.count != $1.count ? $0.count > $1.count : text($0.value) < text($1.value) }
    }

    /// A comma-separated list of names, distinct, in the order given.
    static func names(_ text: String?, field: String) throws -> [String] {
        guard let text, !text.isEmpty else { return [] }
        var seen = Set<String>()
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingCharacters(in: .whitespaces)) }
        guard names.allSatisfy({ (1...64).contains($0.utf8.count) }) else {
            throw APIError.badRequest("\(field) is a comma-separated list of names of 1 to 64 characters", field: field)
        }
        let distinct = names.filter { seen.insert($0).inserted }
        guard distinct.count <= maximumNames else {
            throw APIError.badRequest("at most \(maximumNames) names in \(field)", field: field)
        }
        return distinct
    }
}
