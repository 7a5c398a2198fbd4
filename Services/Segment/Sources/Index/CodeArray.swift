/// A code per slot, as narrow as the largest code allows: one byte while codes stay below 256, two
/// below 65,536, four beyond. Most attributes of a bank (city, risk level, age, flags) have a few
/// hundred values at most, so a column costs one byte per customer, not four.
///
/// Slots past the end read as code 0.
struct CodeArray: Sendable {
    private var narrow: [UInt8] = []
    private var middle: [UInt16] = []
    private var wide: [UInt32] = []
    /// Bytes per code: 1, 2 or 4 (exactly one of the arrays is in use).
    private(set) var width = 1

    /// The number of slots stored (reads beyond are 0).
    var count: Int {
        switch width {
        case 1: narrow.count
        case 2: middle.count
        default: wide.count
        }
    }

    subscript(slot: Int) -> UInt32 {
        guard slot < count else { return 0 }
        switch width {
        case 1: return UInt32(narrow[slot])
        case 2: return UInt32(middle[slot])
        default: return wide[slot]
        }
    }

    mutating func set(_ slot: Int, _ code: UInt32) {
        if slot >= count {
            guard code != 0 else { return }
            grow(to: slot + 1)
        }
        if code > UInt16.max, width < 4 { widen(to: 4) } else if code > UInt8.max, width < 2 { widen(to: 2) }
        switch width {
        case 1: narrow[slot] = UInt8(code)
        case 2: middle[slot] = UInt16(code)
        default: wide[slot] = code
        }
    }

    /// Calls `body` with the codes as a buffer of their current width (a generic body is specialized
    /// per width, so the scan runs without a switch per slot).
    func withCodes<R>(_ body: (CodeBuffer) -> R) -> R {
        switch width {
        case 1: narrow.withUnsafeBufferPointer { body(.narrow($0)) }
        case 2: middle.withUnsafeBufferPointer { body(.middle($0)) }
        default: wide.withUnsafeBufferPointer { body(.wide($0)) }
        }
    }

    enum CodeBuffer {
        case narrow(UnsafeBufferPointer<UInt8>)
        case middle(UnsafeBufferPointer<UInt16>)
        case wide(UnsafeBufferPointer<UInt32>)
    }

    var bytes: Int { narrow.capacity + middle.capacity * 2 + wide.capacity * 4 }

    private mutating func grow(to n: Int) {
        switch width {
        case 1: narrow.reserveGently(n); narrow.append(contentsOf: repeatElement(0, count: n - narrow.count))
        case 2: middle.reserveGently(n); middle.append(contentsOf: repeatElement(0, count: n - middle.count))
        default: wide.reserveGently(n); wide.append(contentsOf: repeatElement(0, count: n - wide.count))
        }
    }

    private mutating func widen(to newWidth: Int) {
        let codes = (0..<count).map { self[$0] }
        narrow = []; middle = []; wide = []
        width = newWidth
        if newWidth == 2 { middle = codes.map { UInt16($0) } } else { wide = codes }
    }
}
