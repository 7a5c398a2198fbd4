/// A set of customer slots (the index's dense surrogate ids), one bit per slot.
///
/// Dense on purpose: an audience over millions of customers is combined with `and`/`or`/`and not` word
/// by word (10M slots are 156,250 words, a few tens of microseconds per operation), and a bitmap costs
/// the same 1.25 MB whatever it holds. Bitmaps of different lengths combine as if the shorter one were
/// padded with zeros, so one made before the index grew stays valid.
public struct Bitmap: Sendable, Equatable {
    private(set) var words: [UInt64]

    init() { words = [] }

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

    func contains(_ slot: Int) -> Bool {
        let i = slot >> 6
        return i < words.count && words[i] & (1 << UInt64(slot & 63)) != 0
    }

    mutating func insert(_ slot: Int) {
        let i = slot >> 6
        if i >= words.count { words.append(contentsOf: repeatElement(0, count: i - words.count + 1)) }
        words[i] |= 1 << UInt64(slot & 63)
    }

    mutating func remove(_ slot: Int) {
        let i = slot >> 6
        guard i < words.count else { return }
        words[i] &= ~(1 << UInt64(slot & 63))
    }

    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    func intersection(_ other: Bitmap) -> Bitmap {
        let n = min(words.count, other.words.count)
        var out = [UInt64](repeating: 0, count: n)
        words.withUnsafeBufferPointer { a in
            other.words.withUnsafeBufferPointer { b in
                for i in 0..<n { out[i] = a[i] & b[i] }
            }
        }
        return Bitmap(words: out)
    }

    func union(_ other: Bitmap) -> Bitmap {
        let (long, short) = words.count >= other.words.count ? (words, other.words) : (other.words, words)
        var out = long
        short.withUnsafeBufferPointer { b in
            for i in 0..<b.count { out[i] |= b[i] }
        }
        return Bitmap(words: out)
    }

    func subtracting(_ other: Bitmap) -> Bitmap {
        var out = words
        let n = min(words.count, other.words.count)
        other.words.withUnsafeBufferPointer { b in
            for i in 0..<n { out[i] &= ~b[i] }
        }
        return Bitmap(words: out)
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

    /// A bitmap of the slots `0..<count` for which `included(slot)` holds, built a word at a time.
    static func collect(count: Int, _ included: (Int) -> Bool) -> Bitmap {
        var words = [UInt64](repeating: 0, count: (count + 63) / 64)
        for i in 0..<words.count {
            var w: UInt64 = 0
            let base = i << 6
            for b in 0..<min(64, count - base) where included(base + b) { w |= 1 << UInt64(b) }
            words[i] = w
        }
        return Bitmap(words: words)
    }

    /// Bytes held, for the index's memory report.
    var bytes: Int { words.capacity * 8 }
}
