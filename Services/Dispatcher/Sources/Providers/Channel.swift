/// The channels a message can take (DESIGN.md §3). `inbox` is stored here and read by the bank's app;
/// the others go to a provider over HTTP (`wecom` and `call` hand work to an account manager's tool or a
/// call robot).
public enum Channel: String, Sendable, Codable, CaseIterable {
    case sms, push, inbox, wechat, wecom, call, email
}
