import Contracts
import Foundation
import TestSupport
import XCTest
@testable import Segment

/// Portraits count the index's customers per attribute value and per tag value; the counts must be
/// those of the documents themselves, within the scope asked for, after changes and removals.
final class IndexDistributionTests: XCTestCase {
    typealias Population = SegmentEvaluatorDifferentialTests

    func testDistributionsCountTheDocumentsOfTheScope() {
        var r = SplitMix64(seed: 11)
        var index = CustomerIndex(timeZone: Population.timeZone)
        var documents: [String: CustomerFactsDocument] = [:]
        for i in 0..<500 {
            let document = Population.document("C\(i)", &r)
            documents[document.customerId] = document
            index.apply(document)
        }
        for id in documents.keys.sorted() where r.chance(0.2) {
            documents[id] = nil
            index.apply(CustomerFactsDocument(customerId: id, exists: false, orgPath: nil))
        }
        let scope = index.scope("/hq/sh/")
        let inScope = documents.values.filter { $0.orgPath!.hasPrefix("/hq/sh/") }
        XCTAssertEqual(scope.count, inScope.count)
        for name in ["city", "riskLevel", "isPayroll"] {
            var expected: [JSONValue: Int] = [:]
            for document in inScope { if let v = document.attributes[name], v != .null { expected[v, default: 0] += 1 } }
            let counted = index.distribution(ofAttribute: name, within: scope)
            XCTAssertEqual(counted.map { Dictionary(uniqueKeysWithValues: $0.map { ($0.value, $0.count) }) }, expected, name)
            XCTAssertEqual(counted?.map(\.count), counted?.map(\.count).sorted(by: >), "most held first")
        }
        var tagExpected: [String: Int] = [:]
        for document in inScope { if let v = document.tags["asset_tier"] { tagExpected[v, default: 0] += 1 } }
        let tagCounted = index.distribution(ofTag: "asset_tier", within: scope)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: tagCounted.map { ($0.value, $0.count) }), tagExpected)
        XCTAssertEqual(index.distribution(ofTag: "payroll_customer", within: scope).map(\.value), [""])
        XCTAssertEqual(index.distribution(ofAttribute: "nobodyHasThis", within: scope)?.count, 0)
        // A column of many distinct numbers is keyed: no value-by-value distribution.
        var keyed = CustomerIndex(timeZone: Population.timeZone, keyedAfter: 8)
        for i in 0..<50 { keyed.apply(CustomerFactsDocument(customerId: "K\(i)", exists: true, orgPath: "/hq/", attributes: ["aum": .number(Double(i))])) }
        XCTAssertNil(keyed.distribution(ofAttribute: "aum", within: keyed.scope("/hq/")))
    }
}
