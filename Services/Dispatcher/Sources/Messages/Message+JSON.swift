import Contracts
import Foundation

/// A message written straight as JSON text: a batch of 1,000 sends answers 1,000 messages, and through
/// `JSONEncoder` their answer cost more than their policy chain. The members and their form are those
/// of the `Encodable` conformance (nil members left out, dates as `JSONCoding.formatDate`).
extension Message {
    func write(into bytes: inout [UInt8]) {
        func string(_ key: String, _ value: String?, first: Bool = false) {
            guard let value else { return }
            JSONText.appendKey(key, first: first, to: &bytes)
            JSONString.append(value, to: &bytes)
        }
        func date(_ key: String, _ value: Date?) { string(key, value.map(JSONCoding.formatDate)) }
        bytes.append(UInt8(ascii: "{"))
        string("id", id, first: true)
        string("key", key)
        string("customerId", customerId)
        string("channel", channel.rawValue)
        string("fallbackChannel", fallbackChannel?.rawValue)
        string("fallbackOf", fallbackOf)
        string("templateId", templateId)
        string("kind", kind.rawValue)
        string("canvasId", canvasId)
        string("nodeId", nodeId)
        string("campaignId", campaignId)
        string("status", status.rawValue)
        string("reason", reason)
        string("title", title)
        string("body", body)
        string("providerId", providerId)
        JSONText.appendKey("attempts", to: &bytes)
        JSONText.appendInteger(Int64(attempts), to: &bytes)
        date("deliverAfter", deliverAfter)
        date("createdAt", createdAt)
        date("updatedAt", updatedAt)
        date("sentAt", sentAt)
        date("deliveredAt", deliveredAt)
        bytes.append(UInt8(ascii: "}"))
    }
}
