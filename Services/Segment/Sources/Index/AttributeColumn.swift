import Contracts
import Foundation

/// One attribute of every customer. A code per slot (as narrow as the codes allow): 0 for not set,
/// then the formats of keyed values, then the column's dictionary of distinct values.
///
/// While an attribute has few distinct values (city, risk level, age) it is purely a dictionary: a
/// condition is decided once per distinct value, by the rule evaluator of `Contracts` itself (so the
/// engine cannot drift from the language's semantics), and the column is scanned against that table.
/// Once it has more than `keyedAfter` distinct values, mostly numbers, decimal strings or timestamps
/// (balances, last-active times), it becomes *keyed*: such values are then held as a `Double` per
/// slot (`KeyedValue`) and a condition is a comparison of keys (`KeyTest`), the evaluator deciding
/// only the keys that tie with an operand. Other values stay in the dictionary either way.
///
/// Values are never removed from the dictionary (a value no customer holds any more only costs its
/// entry); `distinctValues` says how large it has grown.
struct AttributeColumn: Sendable {
    static let firstValueCode = KeyedValue.formats

    private(set) var codes = CodeArray()
    /// Per slot, the key of a keyed value (read only where the code is a format).
    private var keys: [Double] = []
    /// Distinct values, classified once (code - firstValueCode → value).
    private(set) var values: [PreparedValue] = []
    private var codeOf: [JSONValue: UInt32] = [:]
    private(set) var isKeyed = false
    /// The dictionary size at which keying is considered next (doubling while the answer is no).
    private var nextKeyingCheck: Int

    init(keyedAfter: Int) { nextKeyingCheck = keyedAfter }

    var distinctValues: Int { values.count }

    /// Sets (nil or `.null`: clears) the slot's value.
    mutating func set(_ slot: Int, _ value: JSONValue?) {
        guard let value, value != .null else {
            codes.set(slot, 0)
            return
        }
        if isKeyed, let (format, key) = KeyedValue.encode(value) {
            setKey(slot, key)
            codes.set(slot, format)
            return
        }
        let code: UInt32
        if let known = codeOf[value] {
            code = known
        } else {
            values.append(PreparedValue(value))
            code = Self.firstValueCode + UInt32(values.count - 1)
            codeOf[value] = code
        }
        codes.set(slot, code)
        if !isKeyed && values.count > nextKeyingCheck { considerKeying() }
    }

    func isSet(_ slot: Int) -> Bool { codes[slot] != 0 }

    func value(at slot: Int) -> JSONValue? {
        let code = codes[slot]
        if code == 0 { return nil }
        if code < Self.firstValueCode { return KeyedValue.decode(code, keys[slot]) }
        return values[Int(code - Self.firstValueCode)].json
    }

    /// The slots of `universe` whose value satisfies `condition` at `now`.
    func select(_ condition: AttributeCondition, evaluator: RuleEvaluator, now: Date, within universe: Bitmap) -> Bitmap {
        // Per code: 0 no, 1 yes, 2 decided by key.
        let first = Int(Self.firstValueCode)
        var table = [UInt8](repeating: 0, count: first + values.count)
        table[0] = evaluator.evaluate(condition, prepared: nil, now: now) ? 1 : 0
        var any = table[0] != 0
        for (k, value) in values.enumerated() where evaluator.evaluate(condition, prepared: value, now: now) {
            table[first + k] = 1
            any = true
        }
        let test = isKeyed ? KeyTest(condition, evaluator: evaluator, now: now) : nil
        if let test, !test.acceptsNothing {
            for format in 1..<first { table[format] = 2 }
            any = true
        }
        guard any else { return Bitmap() }
        // The scan's hot path reads plain bounds per format; other tests go through `KeyTest`.
        let bounds = test?.simpleBounds(formats: first) ?? []
        return bounds.withUnsafeBufferPointer { bounds in
            keys.withUnsafeBufferPointer { keys in
                table.withUnsafeBufferPointer { table in
                    let scan = Scan(table: table, keys: keys, bounds: bounds, test: test, condition: condition,
                                    evaluator: evaluator, now: now)
                    return codes.withCodes { buffer in
                        switch buffer {
                        case .narrow(let codes): scan.run(codes, within: universe)
                        case .middle(let codes): scan.run(codes, within: universe)
                        case .wide(let codes): scan.run(codes, within: universe)
                        }
                    }
                }
            }
        }
    }

    /// One condition's pass over a column: every input at hand as a plain value or pointer, and one
    /// generic `run` per code width, so the compiler specializes the loop for each.
    private struct Scan {
        /// Per code: 0 no, 1 yes, 2 decided by key.
        let table: UnsafeBufferPointer<UInt8>
        let keys: UnsafeBufferPointer<Double>
        /// Per format code, when the test has plain bounds (else empty).
        let bounds: UnsafeBufferPointer<SIMD4<Double>>
        let test: KeyTest?
        let condition: AttributeCondition
        let evaluator: RuleEvaluator
        let now: Date

        /// The loop is written out rather than passed to `Bitmap.collect` as a closure: the compiler
        /// merges the three widths' specializations into one function calling the closure indirectly,
        /// a call per customer.
        @inline(__always)
        func run<Code: FixedWidthInteger & UnsignedInteger>(_ codes: UnsafeBufferPointer<Code>, within universe: Bitmap) -> Bitmap {
            let unsetMatches = table[0] != 0
            var out = [UInt64](repeating: 0, count: universe.words.count)
            let stored = codes.count
            out.withUnsafeMutableBufferPointer { out in
                universe.words.withUnsafeBufferPointer { scope in
                    for i in 0..<scope.count where scope[i] != 0 {
                        var bits = scope[i], word: UInt64 = 0
                        while bits != 0 {
                            let b = bits.trailingZeroBitCount
                            let slot = i << 6 | b
                            let yes = slot < stored ? decide(Int(truncatingIfNeeded: codes[slot]), slot) : unsetMatches
                            if yes { word |= 1 << UInt64(b) }
                            bits &= bits - 1
                        }
                        out[i] = word
                    }
                }
            }
            return Bitmap(words: out)
        }

        @inline(__always) func decide(_ code: Int, _ slot: Int) -> Bool {
            let decided = table[code]
            if decided < 2 { return decided == 1 }
            let verdict = bounds.isEmpty ? test!.verdict(format: UInt32(code), key: keys[slot])
                : KeyTest.LineTest.verdict(keys[slot], bounds[code])
            switch verdict {
            case .yes: return true
            case .no: return false
            case .check:
                let exact = PreparedValue(KeyedValue.decode(UInt32(code), keys[slot]))
                return evaluator.evaluate(condition, prepared: exact, now: now)
            }
        }
    }

    /// How many customers of `universe` hold each value, most held first; nil once the column is keyed
    /// or its dictionary has grown past `maximumValues` (a balance or a timestamp has no distribution
    /// worth listing value by value).
    func distribution(within universe: Bitmap, maximumValues: Int) -> [(value: JSONValue, count: Int)]? {
        guard !isKeyed, values.count <= maximumValues else { return nil }
        var counts = [Int](repeating: 0, count: values.count)
        let first = Int(Self.firstValueCode)
        universe.forEachSlot { slot in
            let code = Int(codes[slot])
            if code >= first { counts[code - first] += 1 }
        }
        return counts.enumerated().filter { $0.element > 0 }
            .map { (values[$0.offset].json, $0.element) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : "\($0.value)" < "\($1.value)" }
    }

    /// Bytes held, roughly: codes, keys, and the dictionary at about 96 bytes per distinct value.
    var bytes: Int { codes.bytes + keys.capacity * 8 + values.count * 96 }

    private mutating func setKey(_ slot: Int, _ key: Double) {
        if slot >= keys.count { keys.reserveGently(slot + 1); keys.append(contentsOf: repeatElement(0, count: slot - keys.count + 1)) }
        keys[slot] = key
    }

    /// Past `keyedAfter` distinct values: keyed if most of them can be, and then every keyable value
    /// held so far moves from the dictionary to a key. When most are text, asked again at twice the
    /// size (the first values need not be typical), so a dictionary of text costs a few passes at most.
    private mutating func considerKeying() {
        nextKeyingCheck *= 2
        let keyable = values.reduce(0) { $0 + (KeyedValue.encode($1.json) == nil ? 0 : 1) }
        guard keyable * 2 > values.count else { return }
        isKeyed = true
        // The dictionary keeps only the values keys cannot hold (each query decides every entry).
        let first = Self.firstValueCode
        var encoded: [(format: UInt32, key: Double)?] = []
        var remap = [UInt32](repeating: 0, count: values.count)
        var kept: [PreparedValue] = []
        for (k, value) in values.enumerated() {
            let e = KeyedValue.encode(value.json)
            encoded.append(e)
            if e == nil {
                kept.append(value)
                remap[k] = first + UInt32(kept.count - 1)
            }
        }
        values = kept
        codeOf = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($0.element.json, first + UInt32($0.offset)) })
        keys = [Double](repeating: 0, count: codes.count)
        for slot in 0..<codes.count {
            let code = codes[slot]
            guard code >= first else { continue }
            if let (format, key) = encoded[Int(code - first)] {
                keys[slot] = key
                codes.set(slot, format)
            } else {
                codes.set(slot, remap[Int(code - first)])
            }
        }
    }
}
