import Contracts
import Foundation

/// An attribute condition turned into tests of keys (see `KeyedValue`, `OperandKey`): on each number
/// line, the key intervals that satisfy it outright and the bands where the answer needs the exact
/// value — decided there by `RuleEvaluator`, so keys only ever speed up what the evaluator would say.
struct KeyTest {
    enum Verdict { case yes, no, check }

    struct LineTest {
        /// Keys decided by the evaluator (looked at first).
        var check: [ClosedRange<Double>] = []
        /// Keys that satisfy the condition, outside the check bands.
        var accept: [ClosedRange<Double>] = []

        static let everything = -Double.infinity...Double.infinity

        @inline(__always) func verdict(_ key: Double) -> Verdict {
            for band in check where band.contains(key) { return .check }
            for range in accept where range.contains(key) { return .yes }
            return .no
        }

        var acceptsNothing: Bool { check.isEmpty && accept.isEmpty }
    }

    var number = LineTest()
    var decimal = LineTest()
    var instant = LineTest()

    init(_ condition: AttributeCondition, evaluator: RuleEvaluator, now: Date) {
        let operands = evaluator.operandKeys(condition)
        func build(_ band: (OperandKey) -> ClosedRange<Double>?) -> LineTest {
            var test = LineTest()
            let bands = operands.map(band)
            switch condition.op {
            case .isSet:
                test.accept = [LineTest.everything]
            case .isNotSet:
                break
            case .eq, .in:
                test.check = bands.compactMap { $0 }
            case .ne, .notIn:
                test.check = bands.compactMap { $0 }
                test.accept = [LineTest.everything]
            case .gt, .gte:
                if let b = bands.first ?? nil { test.check = [b]; test.accept = [b.upperBound...Double.infinity] }
            case .lt, .lte:
                if let b = bands.first ?? nil { test.check = [b]; test.accept = [-Double.infinity...b.lowerBound] }
            case .between:
                if bands.count == 2, let lo = bands[0], let hi = bands[1] {
                    test.check = [lo, hi]
                    if lo.upperBound <= hi.lowerBound { test.accept = [lo.upperBound...hi.lowerBound] }
                }
            case .contains, .startsWith:
                test.check = [LineTest.everything]
            case .within, .notWithin:
                break
            }
            return test
        }
        number = build { $0.number }
        decimal = build { $0.decimal }
        instant = build { $0.instant }
        if condition.op == .within || condition.op == .notWithin,
           case .string(let text)? = condition.value, let window = try? RuleDuration(parsing: text) {
            // Instants compare exactly by key: no band to check.
            let since = now.addingTimeInterval(-window.timeInterval).timeIntervalSinceReferenceDate
            let until = now.timeIntervalSinceReferenceDate
            if condition.op == .within {
                if since <= until { instant.accept = [since...until] }
            } else {
                instant.accept = [-Double.infinity...since.nextDown]
            }
        }
    }

    var acceptsNothing: Bool { number.acceptsNothing && decimal.acceptsNothing && instant.acceptsNothing }

    @inline(__always) func verdict(format: UInt32, key: Double) -> Verdict {
        switch KeyedValue.line(of: format) {
        case .number: number.verdict(key)
        case .decimal: decimal.verdict(key)
        case .instant: instant.verdict(key)
        }
    }
}
