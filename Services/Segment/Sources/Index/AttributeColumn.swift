import Contracts
import Foundation

/// One attribute of every customer, dictionary-encoded: a code per slot (0: not set) and the distinct
/// values. A condition is decided once per distinct value, by the rule evaluator of `Contracts` itself
/// (so the engine cannot drift from the language's semantics), and the column is then scanned against
/// the resulting table — one byte load per customer.
///
/// Values are never removed from the dictionary (a value no customer holds any more only costs its
/// entry); `distinctValues` says how large it has grown.
struct AttributeColumn: Sendable {
    private(set) var codes: [UInt32] = []
    /// Distinct values, classified once (code - 1 → value).
    private(set) var values: [PreparedValue] = []
    private var codeOf: [JSONValue: UInt32] = [:]

    var distinctValues: Int { values.count }

    /// Sets (nil or `.null`: clears) the slot's value.
    mutating func set(_ slot: Int, _ value: JSONValue?) {
        var code: UInt32 = 0
        if let value, value != .null {
            if let known = codeOf[value] {
                code = known
            } else {
                values.append(PreparedValue(value))
                code = UInt32(values.count)
                codeOf[value] = code
            }
        }
        if slot >= codes.count {
            guard code != 0 else { return }
            codes.append(contentsOf: repeatElement(0, count: slot - codes.count + 1))
        }
        codes[slot] = code
    }

    func value(at slot: Int) -> JSONValue? {
        guard slot < codes.count, codes[slot] != 0 else { return nil }
        return values[Int(codes[slot]) - 1].json
    }

    /// The slots below `count` whose value satisfies `condition` at `now`.
    func select(_ condition: AttributeCondition, evaluator: RuleEvaluator, now: Date, count: Int) -> Bitmap {
        var table = [UInt8](repeating: 0, count: values.count + 1)
        table[0] = evaluator.evaluate(condition, prepared: nil, now: now) ? 1 : 0
        var any = table[0] != 0
        for (k, value) in values.enumerated() where evaluator.evaluate(condition, prepared: value, now: now) {
            table[k + 1] = 1
            any = true
        }
        guard any else { return Bitmap() }
        let unsetMatches = table[0] != 0
        return codes.withUnsafeBufferPointer { codes in
            table.withUnsafeBufferPointer { table in
                Bitmap.collect(count: count) { slot in
                    slot < codes.count ? table[Int(codes[slot])] != 0 : unsetMatches
                }
            }
        }
    }

    /// Bytes held, roughly: codes, and the dictionary at about 64 bytes per distinct value.
    var bytes: Int { codes.capacity * 4 + values.count * 64 }
}
