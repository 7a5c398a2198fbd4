import Contracts
import Foundation

/// The built-in customer attributes of DESIGN.md §3: fixed by the product, stored as columns, listed
/// by the attribute API beside the bank's own (catalog) attributes.
public enum CustomerField: String, Sendable, CaseIterable {
    case orgId, name, phone, gender, birthDate, city, riskLevel, aum, depositBalance, isPayroll, hasCreditCard
    case registeredAt, lastActiveAt, accountManagerId

    /// The column that stores it. Fixed text: SQL never takes a column name from input.
    var column: String {
        switch self {
        case .orgId: return "org_id"
        case .name: return "name"
        case .phone: return "phone"
        case .gender: return "gender"
        case .birthDate: return "birth_date"
        case .city: return "city"
        case .riskLevel: return "risk_level"
        case .aum: return "aum"
        case .depositBalance: return "deposit_balance"
        case .isPayroll: return "is_payroll"
        case .hasCreditCard: return "has_credit_card"
        case .registeredAt: return "registered_at"
        case .lastActiveAt: return "last_active_at"
        case .accountManagerId: return "account_manager_id"
        }
    }

    var type: AttributeType {
        switch self {
        case .orgId, .name, .phone, .city, .accountManagerId: return .string
        case .gender, .riskLevel: return .enum
        case .aum, .depositBalance: return .decimal
        case .isPayroll, .hasCreditCard: return .bool
        case .birthDate: return .date
        case .registeredAt, .lastActiveAt: return .timestamp
        }
    }

    var enumValues: [String]? {
        switch self {
        case .gender: return ["male", "female", "other"]
        case .riskLevel: return ["C1", "C2", "C3", "C4", "C5"]
        default: return nil
        }
    }

    /// Chinese and English labels for the console.
    var label: (zh: String, en: String) {
        switch self {
        case .orgId: return ("归属机构", "Owning org unit")
        case .name: return ("姓名", "Name")
        case .phone: return ("手机号", "Phone")
        case .gender: return ("性别", "Gender")
        case .birthDate: return ("出生日期", "Birth date")
        case .city: return ("城市", "City")
        case .riskLevel: return ("风险等级", "Risk level")
        case .aum: return ("资产管理规模(AUM)", "Assets under management")
        case .depositBalance: return ("存款余额", "Deposit balance")
        case .isPayroll: return ("代发工资客户", "Payroll customer")
        case .hasCreditCard: return ("持有信用卡", "Has a credit card")
        case .registeredAt: return ("注册时间", "Registered at")
        case .lastActiveAt: return ("最近活跃时间", "Last active at")
        case .accountManagerId: return ("客户经理", "Account manager")
        }
    }

    /// Checks one value; extra rules beyond the type (lengths, phone digits, non-negative money).
    func normalize(_ value: JSONValue) -> Result<NormalizedValue, AttributeValueError> {
        let result = type.normalize(value, enumValues: enumValues)
        guard case .success(let v) = result else { return result }
        switch (self, v) {
        // Characters are counted only past the byte length (never fewer bytes than characters): counting
        // them means grapheme breaking, paid per cell of an import otherwise.
        case (.name, .text(let s)) where s.utf8.count > 100 && s.count > 100,
             (.city, .text(let s)) where s.utf8.count > 64 && s.count > 64,
             (.accountManagerId, .text(let s)) where s.utf8.count > 64 && s.count > 64,
             (.orgId, .text(let s)) where s.utf8.count > 32 && s.count > 32:
            return .failure(.invalid("is too long"))
        case (.phone, .text(let s)):
            let digits = s.utf8.first == UInt8(ascii: "+") ? s.utf8.dropFirst() : s.utf8[...]
            guard (5...20).contains(digits.count),
                  digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                return .failure(.invalid("must be 5 to 20 digits, optionally after +"))
            }
        case (.aum, .decimal(let d)) where d.isNegative, (.depositBalance, .decimal(let d)) where d.isNegative:
            return .failure(.invalid("must not be negative"))
        case (.aum, .decimal(let d)) where d.fractionDigits > 2, (.depositBalance, .decimal(let d)) where d.fractionDigits > 2:
            return .failure(.invalid("has more than 2 decimal places (CNY fen)"))
        default: break
        }
        return result
    }
}
