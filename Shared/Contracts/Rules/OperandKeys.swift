import Foundation

/// An operand of an attribute condition placed on the number lines an engine uses to compare millions
/// of values at once, without deciding each one through `RuleEvaluator`:
///
/// - the *number line* holds JSON numbers (those a `Decimal` can hold) by their value, the *decimal
///   line* decimal strings by their value rounded to the nearest `Double` (rounding is monotone, so
///   `a < b` implies `key(a) <= key(b)`) — two lines because a number a Decimal cannot hold compares
///   with numbers but not with decimal strings;
/// - the *instant line* holds timestamps by `timeIntervalSinceReferenceDate` (exact: a `Date` is that
///   number).
///
/// For an operand `b` the band `[low, high]` on a line means: a value whose key is below `low` orders
/// before `b`, one above `high` after it; a key inside the band must be decided by `RuleEvaluator`
/// (equal keys need not be equal decimals; every instant of a day equals that day). A nil band: values
/// of that line are incomparable with `b`.
public struct OperandKey: Sendable, Equatable {
    public var number: ClosedRange<Double>?
    public var decimal: ClosedRange<Double>?
    public var instant: ClosedRange<Double>?

    public init(number: ClosedRange<Double>? = nil, decimal: ClosedRange<Double>? = nil, instant: ClosedRange<Double>? = nil) {
        self.number = number
        self.decimal = decimal
        self.instant = instant
    }
}

extension RuleEvaluator {
    /// The operands of `condition` on the engine's number lines, in the order written: one for a
    /// scalar operand, two for `between`, one per value for `in`/`not_in`; empty for the operators
    /// without a scalar operand (`is_set`, `within`, …).
    public func operandKeys(_ condition: AttributeCondition) -> [OperandKey] {
        switch condition.operand {
        case .scalar(let b): [key(b)]
        case .range(let lo, let hi): [key(lo), key(hi)]
        case .list(let values): values.map(key)
        case .none, .duration: []
        }
    }

    private func key(_ scalar: RuleScalar) -> OperandKey {
        switch scalar {
        case .number(let x, let asDecimal):
            return OperandKey(number: x...x, decimal: asDecimal == nil ? nil : x...x, instant: nil)
        case .decimal(_, let text):
            // strtod rounds correctly, so this is the nearest Double of the decimal.
            guard let x = Double(text) else { return OperandKey() }
            return OperandKey(number: x...x, decimal: x...x, instant: nil)
        case .timestamp(let t, _):
            let x = t.timeIntervalSinceReferenceDate
            return OperandKey(number: nil, decimal: nil, instant: x...x)
        case .day(let day, _):
            // A timestamp compares by its local day: before the day's first instant, after its last.
            let start = day.start(in: comparison.calendar).timeIntervalSinceReferenceDate
            let end = day.end(in: comparison.calendar).timeIntervalSinceReferenceDate
            return OperandKey(number: nil, decimal: nil, instant: start...max(start, end))
        case .text, .bool:
            return OperandKey()
        }
    }
}
