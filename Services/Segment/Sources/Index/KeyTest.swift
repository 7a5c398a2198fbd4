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

        /// The common shape (at most one band and one range: every operator but `in`/`not_in` and
        /// `ne` on several values) as plain bounds, so the scan over millions of keys reads no arrays.
        /// (check low, check high, accept low, accept high); an empty interval has low > high.
        private(set) var simple: SIMD4<Double>?

        init() {}

        /// Fixes the test after `check` and `accept` are set.
        mutating func seal() {
            guard check.count <= 1, accept.count <= 1 else { simple = nil; return }
            simple = SIMD4(check.first?.lowerBound ?? .infinity, check.first?.upperBound ?? -.infinity,
                           accept.first?.lowerBound ?? .infinity, accept.first?.upperBound ?? -.infinity)
        }

        @inline(__always) func verdict(_ key: Double) -> Verdict {
            if let s = simple { return Self.verdict(key, s) }
            for band in check where band.contains(key) { return .check }
            for range in accept where range.contains(key) { return .yes }
            return .no
        }

        var acceptsNothing: Bool { check.isEmpty && accept.isEmpty }

        @inline(__always) static func verdict(_ key: Double, _ s: SIMD4<Double>) -> Verdict {
            if key >= s[0] && key <= s[1] { return .check }
            return key >= s[2] && key <= s[3] ? .yes : .no
        }
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
        number.seal()
        decimal.seal()
        instant.seal()
    }

    var acceptsNothing: Bool { number.acceptsNothing && decimal.acceptsNothing && instant.acceptsNothing }

    /// Per format code, the plain bounds of its line — when every line has them (see `LineTest`).
    func simpleBounds(formats: Int) -> [SIMD4<Double>]? {
        guard let n = number.simple, let d = decimal.simple, let i = instant.simple else { return nil }
        return (0..<formats).map { format in
            switch KeyedValue.line(of: UInt32(format)) {
            case .number: n
            case .decimal: d
            case .instant: i
            }
        }
    }

    @inline(__always) func verdict(format: UInt32, key: Double) -> Verdict {
        switch KeyedValue.line(of: format) {
        case .number: number.verdict(key)
        case .decimal: decimal.verdict(key)
        case .instant: instant.verdict(key)
        }
    }
}
