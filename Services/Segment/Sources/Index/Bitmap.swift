/// A set of customer slots (the index's dense surrogate ids), one bit per slot.
///
/// Dense on purpose: an audience over millions of customers is combined with `and`/`or`/`and not` word
/// by word (10M slots are 156,250 words, a few tens of microseconds per operation), and a bitmap costs
/// the same 1.25 MB whatever it holds. Bitmaps of different lengths combine as if the shorter one were
/// padded with zeros, so one made before the index grew stays valid.
public struct Bitmap: Sendable, Equatable {
    private(set) var words: [UInt64]

    /// No slot.
    public init() { words = [] }

    /// Exactly `slots` (negative ones ignored).
    public init(slots: some Sequence<Int>) {
        words = []
        for slot in slots where slot >= 0 { insert(slot) }
    }

    /// Every slot below `count`.
    init(allBelow count: Int) {
        let full = count / 64, rest = count % 64
        words = [UInt64](repeating: .max, count: full)
        if rest > 0 { words.append((1 << UInt64(rest)) - 1) }
    }

    init(words: [UInt64]) { self.words = words }

    public static func == (lhs: Bitmap, rhs: Bitmap) -> Bool {
        let n = max(lhs.words.count, rhs.words.count)
        for i in 0..<n where lhs.word(i) != rhs.word(i) { return false }
        return true
    }

    @inline(__always) func word(_ i: Int) -> UInt64 { i < words.count ? words[i] : 0 }

    public func contains(_ slot: Int) -> Bool {
        let i = slot >> 6
        return i < words.count && words[i] & (1 << UInt64(slot & 63)) != 0
    }

    public mutating func insert(_ slot: Int) {
        let i = slot >> 6
        if i >= words.count { words.reserveGently(i + 1); words.append(contentsOf: repeatElement(0, count: i - words.count + 1)) }
        words[i] |= 1 << UInt64(slot & 63)
    }

    public mutating func remove(_ slot: Int) {
        let i = slot >> 6
        guard i < words.count else { return }
        words[i] &= ~(1 << UInt64(slot & 63))
    }

    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    public func intersection(_ other: Bitmap) -> Bitmap {
        let n = min(words.count, other.words.count)
        var out = [UInt64](repeating: 0, count: n)
        words.withUnsafeBufferPointer { a in
            other.words.withUnsafeBufferPointer { b in
                for i in 0..<n { out[i] = a[i] & b[i] }
            }
        }
        return Bitmap(words: out)
    }

    public func union(_ other: Bitmap) -> Bitmap {
        let (long, short) = words.count >= other.words.count ? (words, other.words) : (other.words, words)
        var out = long
        short.withUnsafeBufferPointer { b in
            for i in 0..<b.count { out[i] |= b[i] }
        }
        return Bitmap(words: out)
    }

    public func subtracting(_ other: Bitmap) -> Bitmap {
        var out = words
        let n = min(words.count, other.words.count)
        other.words.withUnsafeBufferPointer { b in
            for i in 0..<n { out[i] &= ~b[i] }
        }
        return Bitmap(words: out)
    }

    /// Words of 64 slots held (slots beyond `wordCount * 64` are not set).
    public var wordCount: Int { words.count }

    /// The set slots of words `range` (slots `range.lowerBound * 64 ..< range.upperBound * 64`), ascending.
    public func slots(inWords range: Range<Int>) -> [Int] {
        var out: [Int] = []
        for i in range.clamped(to: 0..<words.count) {
            var bits = words[i]
            while bits != 0 {
                out.append(i << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return out
    }

    /// The set slots in ascending order, at most `limit`.
    public func slots(limit: Int = .max) -> [Int] {
        var out: [Int] = []
        guard limit > 0 else { return out }
        for (i, w) in words.enumerated() where w != 0 {
            var bits = w
            while bits != 0 {
                out.append(i << 6 | bits.trailingZeroBitCount)
                if out.count == limit { return out }
                bits &= bits - 1
            }
        }
        return out
    }

    /// Calls `body` with every set slot, in ascending order.
    @inline(__always)
    func forEachSlot(_ body: (Int) -> Void) {
        words.withUnsafeBufferPointer { words in
            for i in 0..<words.count {
                var bits = words[i]
                while bits != 0 {
                    body(i << 6 | bits.trailingZeroBitCount)
                    bits &= bits - 1
                }
            }
        }
    }

    /// The slots of `universe` for which `included(slot)` holds. A sparse universe is walked slot by
    /// slot; a dense one is decided a word at a time over every slot below its end (cheaper than
    /// finding each bit), then intersected.
    @inline(__always)
    static func collect(within universe: Bitmap, _ included: (Int) -> Bool) -> Bitmap {
        let count = universe.words.count * 64
        var words = [UInt64](repeating: 0, count: universe.words.count)
        if universe.count * 8 < count {
            universe.forEachSlot { slot in
                if included(slot) { words[slot >> 6] |= 1 << UInt64(slot & 63) }
            }
            return Bitmap(words: words)
        }
        words.withUnsafeMutableBufferPointer { out in
            universe.words.withUnsafeBufferPointer { scope in
                for i in 0..<out.count where scope[i] != 0 {
                    var w: UInt64 = 0
                    let base = i << 6
                    for b in 0..<64 where included(base + b) { w |= 1 << UInt64(b) }
                    out[i] = w & scope[i]
                }
            }
        }
        return Bitmap(words: words)
    }

    /// Bytes held, for the index's memory report.
    var bytes: Int { words.capacity * 8 }
}
