import Foundation

/// Student's t distribution, for the 95 % intervals of fitted slopes (SaddleEscapeFit, ConvergenceOrder)
/// at few residual degrees of freedom, where ±2 standard errors is far too narrow.
public enum StudentT {
    /// The p-quantile (p ≥ ½) of Student's t with ν degrees of freedom, by bisection of its CDF
    /// 1 − ½·I_{ν/(ν+t²)}(ν/2, ½).
    public static func quantile(_ p: Double, freedom nu: Double) -> Double {
        func cdf(_ t: Double) -> Double { 1 - 0.5 * regularizedBeta(nu / (nu + t * t), nu / 2, 0.5) }
        var lo = 0.0, hi = 1.0
        while cdf(hi) < p && hi < 1e12 { lo = hi; hi *= 2 }
        for _ in 0..<200 where hi - lo > 1e-14 * hi {
            let mid = (lo + hi) / 2
            if cdf(mid) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// I_x(a, b), the regularised incomplete beta function (the continued fraction by Lentz's method).
    static func regularizedBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logBeta: Double = Foundation.lgamma(a) + Foundation.lgamma(b) - Foundation.lgamma(a + b)
        let logPower: Double = a * Foundation.log(x) + b * Foundation.log1p(-x)
        let front = Foundation.exp(logPower - logBeta)
        if x < (a + 1) / (a + b + 2) { return front * continuedFraction(x, a, b) / a }
        return 1 - front * continuedFraction(1 - x, b, a) / b
    }

    static func continuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        func guarded(_ v: Double) -> Double { abs(v) < tiny ? tiny : v }
        var c = 1.0, d = 1 / guarded(1 - (a + b) * x / (a + 1))
        var h = d
        for step in 1...500 {
            let m = Double(step), m2 = 2 * m
            var term = m * (b - m) * x / ((a - 1 + m2) * (a + m2))
            d = 1 / guarded(1 + term * d); c = guarded(1 + term / c); h *= d * c
            term = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2))
            d = 1 / guarded(1 + term * d); c = guarded(1 + term / c)
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return h
    }
}
