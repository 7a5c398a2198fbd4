import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The two distributions the experiment report needs, written out (no statistics package): the
/// standard normal and the chi-square. Checked against scipy in `StatisticsTests`.
public enum Distributions {
    /// P(Z > z) for a standard normal Z, from the complementary error function (accurate far in the tail,
    /// where `1 - Φ(z)` would cancel to zero).
    public static func normalSurvival(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }

    /// Φ(z) = P(Z ≤ z).
    public static func normalCDF(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

    /// Two-sided p-value of a standard normal statistic: P(|Z| ≥ |z|).
    public static func twoSidedNormalP(_ z: Double) -> Double { min(1, erfc(abs(z) / 2.0.squareRoot())) }

    /// P(X > x) for X chi-square with `degrees` degrees of freedom: the regularized upper incomplete
    /// gamma function Q(k/2, x/2).
    public static func chiSquareSurvival(_ x: Double, degrees: Int) -> Double {
        precondition(degrees >= 1, "chi-square needs at least one degree of freedom")
        guard x > 0 else { return 1 }
        return upperRegularizedGamma(a: Double(degrees) / 2, x: x / 2)
    }

    /// Q(a, x) = Γ(a, x) / Γ(a): the series of P(a, x) below x < a + 1, Lentz's continued fraction of
    /// Q above (Numerical Recipes §6.2), each converging fast on its side.
    static func upperRegularizedGamma(a: Double, x: Double) -> Double {
        if x <= 0 { return 1 }
        let logPrefix = a * log(x) - x - lgamma(a)
        if x < a + 1 {
            var term = 1 / a, sum = term, n = a
            for _ in 0..<10_000 {
                n += 1
                term *= x / n
                sum += term
                if abs(term) < abs(sum) * 1e-16 { break }
            }
            return max(0, 1 - sum * exp(logPrefix))
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1...10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return min(1, exp(logPrefix) * h)
    }

    /// The two-sided 95% quantile of the standard normal, Φ⁻¹(0.975).
    public static let z95 = 1.959963984540054
}
