import Contracts
import Foundation

/// A validated `POST /api/v1/providers` body `{channel, name, endpoint, credentials?, ratePerSecond, timeoutMs, batchSize?, unitCost?}`.
struct ProviderInput: Sendable {
    var channel: Channel
    var name: String
    var endpoint: String
    var credentials: String?
    var ratePerSecond: Int
    var timeoutMs: Int
    /// Messages a call carries (1 to 1,000; default 1, one message a request).
    var batchSize: Int
    /// CNY per message, a decimal string of at most 4 decimals ("0.045").
    var unitCost: String

    init(body: JSONValue) throws {
        let f = try BodyFields(body, allowed: ["channel", "name", "endpoint", "credentials", "ratePerSecond", "timeoutMs", "batchSize", "unitCost"], field: "")
        guard let channel = try f.oneOf("channel", Channel.self) else { throw APIError.badRequest("channel is required", field: "channel") }
        guard channel != .inbox else {
            throw APIError.badRequest("the inbox channel is served by the dispatcher itself and takes no provider", field: "channel")
        }
        self.channel = channel
        name = try f.string("name")
        let endpoint = try f.string("endpoint", length: 1...2000)
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw APIError.badRequest("endpoint must be an absolute http or https URL", field: "endpoint")
        }
        self.endpoint = endpoint
        credentials = try f.optionalString("credentials", length: 1...500)
        guard let rate = try f.int("ratePerSecond", in: 1...100_000) else {
            throw APIError.badRequest("ratePerSecond is required (1 to 100000)", field: "ratePerSecond")
        }
        ratePerSecond = rate
        timeoutMs = try f.int("timeoutMs", in: 100...60_000) ?? 5_000
        batchSize = try f.int("batchSize", in: 1...1_000) ?? 1
        let cost = try f.optionalString("unitCost", length: 1...13) ?? "0"
        let parts = cost.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), (1...8).contains(parts[0].count), parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              parts.count == 1 || (1...4).contains(parts[1].count) else {
            throw APIError.badRequest("unitCost must be a CNY amount such as \"0.045\" (at most 4 decimals)", field: "unitCost")
        }
        unitCost = cost
    }
}
