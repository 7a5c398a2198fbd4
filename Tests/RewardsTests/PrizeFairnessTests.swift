import Foundation
@testable import Rewards
import TestSupport
import XCTest

/// The weighted pick behind lottery draws: 100,000 draws against the weights with a chi-square
/// goodness-of-fit test.
final class PrizeFairnessTests: XCTestCase {
    /// χ² of observed counts against expected shares.
    static func chiSquare(observed: [Int], weights: [Int]) -> Double {
        let n = Double(observed.reduce(0, +)), total = Double(weights.reduce(0, +))
        return zip(observed, weights).reduce(0.0) { sum, pair in
            let expected = n * Double(pair.1) / total
            return sum + (Double(pair.0) - expected) * (Double(pair.0) - expected) / expected
        }
    }

    func testObservedFrequenciesFollowTheWeights() {
        let weights = [1, 5, 14, 30, 50]
        var counts = [Int](repeating: 0, count: weights.count)
        var generator = SplitMix64(seed: 20261202)
        for _ in 0..<100_000 {
            counts[PrizePicker.pick(weights: weights, using: &generator)!] += 1
        }
        // 4 degrees of freedom: the 0.1% critical value is 18.467.
        let chi = Self.chiSquare(observed: counts, weights: weights)
        XCTAssertLessThan(chi, 18.467, "counts \(counts)")
        // And with the system generator the draws really use.
        var system = SystemRandomNumberGenerator()
        var live = [Int](repeating: 0, count: weights.count)
        for _ in 0..<100_000 { live[PrizePicker.pick(weights: weights, using: &system)!] += 1 }
        XCTAssertLessThan(Self.chiSquare(observed: live, weights: weights), 18.467, "counts \(live)")
    }

    func testTheTestCanFail() {
        // A biased picker (always the last prize half the time, regardless of weights) is caught.
        let weights = [25, 25, 25, 25]
        var generator = SplitMix64(seed: 7)
        var counts = [Int](repeating: 0, count: 4)
        for i in 0..<100_000 {
            counts[i % 2 == 0 ? 3 : PrizePicker.pick(weights: weights, using: &generator)!] += 1
        }
        // 3 degrees of freedom: the 0.1% critical value is 16.266.
        XCTAssertGreaterThan(Self.chiSquare(observed: counts, weights: weights), 16.266)
    }

    func testZeroWeightsNeverWinAndNoWeightPicksNothing() {
        var generator = SplitMix64(seed: 1)
        for _ in 0..<10_000 { XCTAssertEqual(PrizePicker.pick(weights: [0, 3, 0], using: &generator), 1) }
        XCTAssertNil(PrizePicker.pick(weights: [0, 0], using: &generator))
        XCTAssertNil(PrizePicker.pick(weights: [], using: &generator))
    }
}
