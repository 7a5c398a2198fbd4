import Contracts
import Foundation

/// A validated template body `{channel, name, title?, body, kind, productRiskLevel?, investment?}`
/// (create), or the same members for an edit (`PUT`), where absent ones keep their value.
struct TemplateInput: Sendable {
    var channel: Channel
    var name: String
    var title: String?
    var body: String
    var kind: TemplateKind
    var productRiskLevel: ProductRiskLevel?
    var investment: Bool

    static let allowed: Set<String> = ["channel", "name", "title", "body", "kind", "productRiskLevel", "investment", "version"]

    init(body json: JSONValue, over base: Template? = nil) throws {
        let f = try BodyFields(json, allowed: Self.allowed, field: "")
        if let base, let channel = try f.oneOf("channel", Channel.self), channel != base.channel {
            throw APIError.badRequest("a template's channel cannot change; create another template", field: "channel")
        }
        guard let channel = try f.oneOf("channel", Channel.self) ?? base?.channel else {
            throw APIError.badRequest("channel is required", field: "channel")
        }
        self.channel = channel
        name = try f.optionalString("name") ?? base?.name ?? f.string("name")
        title = f.object.keys.contains("title") ? try f.optionalString("title", length: 1...200) : base?.title
        body = try f.optionalString("body", length: 1...4000, multiline: true) ?? base?.body ?? f.string("body", length: 1...4000, multiline: true)
        guard let kind = try f.oneOf("kind", TemplateKind.self) ?? base?.kind else {
            throw APIError.badRequest("kind is required (marketing or transactional)", field: "kind")
        }
        self.kind = kind
        productRiskLevel = f.object.keys.contains("productRiskLevel") ? try f.oneOf("productRiskLevel", ProductRiskLevel.self) : base?.productRiskLevel
        // A rated product is an investment product: its promotion carries the risk warning.
        investment = try f.bool("investment") ?? base?.investment ?? false || productRiskLevel != nil
        if kind == .transactional && (productRiskLevel != nil || investment) {
            throw APIError.badRequest("a transactional notice does not promote a product", field: "productRiskLevel")
        }
        _ = try TemplateText.variables(in: self.body)
    }
}
