/// A customer lifecycle stage (DESIGN.md §1), the value of the built-in `lifecycle` tag.
public enum LifecycleStage: String, Sendable, Codable, CaseIterable {
    case new, growing, mature, dormant, churned

    /// Labels for the console: 新手/引入期, 成长期, 成熟期, 休眠期, 流失期.
    public var label: (zh: String, en: String) {
        switch self {
        case .new: return ("新手/引入期", "New")
        case .growing: return ("成长期", "Growing")
        case .mature: return ("成熟期", "Mature")
        case .dormant: return ("休眠期", "Dormant")
        case .churned: return ("流失期", "Churned")
        }
    }
}
