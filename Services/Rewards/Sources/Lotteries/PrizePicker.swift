import Foundation

/// Picks an index with probability weight / total weight (zero weights never win). Uniform integers
/// from the generator, no floating point, so the odds are exactly the weights'.
public enum PrizePicker {
    public static func pick<G: RandomNumberGenerator>(weights: [Int], using generator: inout G) -> Int? {
        let total = weights.reduce(0) { $0 + max(0, $1) }
        guard total > 0 else { return nil }
        var r = Int.random(in: 0..<total, using: &generator)
        for (i, w) in weights.enumerated() where w > 0 {
            if r < w { return i }
            r -= w
        }
        return nil
    }
}
