import Contracts
import Foundation

/// One message of a `POST /api/v1/messages` body, validated:
/// `{customerId, templateId, channel?, fallbackChannel?, fallbackTemplateId?, variables?, canvasId?, nodeId?,
/// campaignId?, key?}`. `key` (or the request's `Idempotency-Key`) makes the send idempotent; the
/// canvas passes its instance and node.
struct SendRequest: Sendable {
    var key: String
    var customerId: String
    var templateId: String
    var channel: Channel?
    var fallbackChannel: Channel?
    var fallbackTemplateId: String?
    var variables: [String: String]
    var canvasId: String?
    var nodeId: String?
    var campaignId: String?
    /// Where the item sits in the body (`messages[3]`), for error fields.
    var field: String
    /// The message this one falls back from (set by delivery, never by a client).
    var fallbackOf: String?

    static let allowed: Set<String> = ["customerId", "templateId", "channel", "fallbackChannel", "fallbackTemplateId", "variables",
                                       "canvasId", "nodeId", "campaignId", "key"]
    static let maximumBatch = 1_000

    /// Counters and caps group a canvas's messages as one campaign unless the send names another.
    var campaign: String? { campaignId ?? canvasId }

    /// The fallback of a failed message: same customer, campaign and canvas node; its key derives from
    /// the original's, so that it is created once however often delivery retries.
    init(fallbackOf m: Message, templateId: String, channel: Channel) {
        key = m.key + ":fallback"
        customerId = m.customerId
        self.templateId = templateId
        self.channel = channel
        variables = [:]
        canvasId = m.canvasId
        nodeId = m.nodeId
        campaignId = m.campaignId
        field = ""
        fallbackOf = m.id
    }

    init(_ value: JSONValue, field: String, defaultKey: String?) throws {
        let f = try BodyFields(value, allowed: Self.allowed, field: field)
        let p = field.isEmpty ? "" : field + "."
        customerId = try f.string("customerId", length: 1...64)
        templateId = try f.string("templateId", length: 1...64)
        channel = try f.oneOf("channel", Channel.self)
        fallbackChannel = try f.oneOf("fallbackChannel", Channel.self)
        fallbackTemplateId = try f.optionalString("fallbackTemplateId", length: 1...64)
        if (fallbackChannel == nil) != (fallbackTemplateId == nil) {
            throw APIError.badRequest("fallbackChannel and fallbackTemplateId go together", field: p + "fallbackTemplateId")
        }
        if let fallbackChannel, fallbackChannel == channel {
            throw APIError.badRequest("the fallback channel must differ from the channel", field: p + "fallbackChannel")
        }
        canvasId = try f.optionalString("canvasId", length: 1...64)
        nodeId = try f.optionalString("nodeId", length: 1...64)
        campaignId = try f.optionalString("campaignId", length: 1...64)
        var vars: [String: String] = [:]
        if let v = f.object["variables"], v != .null {
            guard case .object(let o) = v, o.count <= 50 else {
                throw APIError.badRequest("variables must be an object of at most 50 name → value", field: p + "variables")
            }
            for (name, value) in o {
                let vf = p + "variables." + String(name.prefix(64))
                guard TemplateText.isName(name[...]) else { throw APIError.badRequest("\(vf) is not a variable name", field: vf) }
                guard let text = TemplateRenderer.text(value), text.count <= 500 else {
                    throw APIError.badRequest("\(vf) must be a string, number or boolean of at most 500 characters", field: vf)
                }
                vars[name] = text
            }
        }
        variables = vars
        guard let key = try f.optionalString("key", length: 1...200) ?? defaultKey else {
            throw APIError.badRequest("every send needs an idempotency key: the Idempotency-Key header or key", field: p + "key")
        }
        guard key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw APIError.badRequest("key must be visible ASCII characters", field: p + "key")
        }
        self.key = key
        self.field = field
    }

    /// The items of a body: one message, or `{"messages": [...]}`. With a header key, a batch item
    /// without its own key gets `<header>:<index>`.
    static func parse(_ body: JSONValue, headerKey: String?) throws -> (items: [SendRequest], batch: Bool) {
        guard case .object(let object) = body else { throw APIError.badRequest("the body must be a message or {\"messages\": [...]}", field: "$") }
        if let list = object["messages"] {
            guard object.count == 1 else { throw APIError.badRequest("a batch body holds only messages", field: "messages") }
            guard case .array(let items) = list, (1...maximumBatch).contains(items.count) else {
                throw APIError.badRequest("messages must be an array of 1 to \(maximumBatch) messages", field: "messages")
            }
            let parsed = try items.enumerated().map { i, item in
                try SendRequest(item, field: "messages[\(i)]", defaultKey: headerKey.map { "\($0):\(i)" })
            }
            var seen = Set<String>()
            for item in parsed where !seen.insert(item.key).inserted {
                throw APIError.badRequest("key \(item.key) is used twice in the batch", field: item.field + ".key")
            }
            return (parsed, true)
        }
        return ([try SendRequest(body, field: "", defaultKey: headerKey)], false)
    }
}
