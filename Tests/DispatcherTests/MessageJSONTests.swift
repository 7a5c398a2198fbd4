import Contracts
@testable import Dispatcher
import Foundation
import XCTest

/// The message's own JSON writer says what its `Encodable` form says, with every member set and with none
/// of the optional ones.
final class MessageJSONTests: XCTestCase {
    func testTheWriterMatchesTheEncodableForm() throws {
        let at = Date(timeIntervalSince1970: 1_796_184_000.123)
        let full = Message(id: "msg_1", key: "cv1:i1:n1", customerId: "C1", channel: .sms, fallbackChannel: .push, fallbackOf: "msg_0",
                           templateId: "tpl_1", kind: .marketing, canvasId: "cv1", nodeId: "n1", campaignId: "c1", status: .delivered,
                           reason: "receipt:\"ok\"", title: "标题", body: "【Lattice银行】王先生您好\n回T退订 \u{1}", providerId: "prv_1",
                           attempts: 3, deliverAfter: at, createdAt: at, updatedAt: at.addingTimeInterval(1), sentAt: at, deliveredAt: at,
                           orgPath: "hq/sh", recipient: "13900000001")
        let bare = Message(id: "msg_2", key: "k", customerId: "C2", channel: .inbox, fallbackChannel: nil, fallbackOf: nil, templateId: "tpl_2",
                           kind: .transactional, canvasId: nil, nodeId: nil, campaignId: nil, status: .queued, reason: nil, title: nil,
                           body: "b", providerId: nil, attempts: 0, deliverAfter: nil, createdAt: at, updatedAt: at, sentAt: nil,
                           deliveredAt: nil, orgPath: "hq", recipient: nil)
        for m in [full, bare] {
            var written: [UInt8] = []
            m.write(into: &written)
            let encoded = try JSONParser.parse(Array(try JSONCoding.encoder().encode(m)))
            XCTAssertEqual(try JSONParser.parse(written), encoded)
        }
        // The batch answer: items in order, a refusal as its error.
        let answer = try JSONParser.parse(MessageRoutes.batchAnswer([
            .message(full, replayed: true), .refused(APIError.badRequest("no", field: "messages[1].key")),
        ]))
        guard case .array(let items)? = answer["items"], items.count == 2 else { return XCTFail("\(answer)") }
        XCTAssertEqual(items[0]["message"], try JSONParser.parse(Array(try JSONCoding.encoder().encode(full))))
        XCTAssertEqual(items[0]["replayed"], .bool(true))
        XCTAssertEqual(items[1]["index"], .number(1))
        XCTAssertEqual(items[1]["error"]?["details"]?["field"]?.stringValue, "messages[1].key")
    }
}
