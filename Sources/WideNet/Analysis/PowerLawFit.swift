import Foundation

/// Least-squares fit of F(N) = F∞ + c·N^(−α) with the offset F∞ unknown (e.g. a finite-width quantity
/// approaching its mean-field limit).
///
/// For fixed α the model is linear in (F∞, c) and solved in closed form; α is the minimiser of that
/// residual over a grid on `exponentRange`, refined by golden-section search around the best grid point.
/// An exponent at either end of the range means the data did not pin it down inside it.
public struct PowerLawFit: Sendable, Codable {
    public let limit: Double       // F∞
    public let coefficient: Double // c
    public let exponent: Double    // α (the excess falls like N^−α)
    /// Σ w_i (F_i − F(N_i))², w_i = 1/σ_i² (1 without σ).
    public let residual: Double
    /// 1 − residual / Σ w_i (F_i − F̄_w)², F̄_w the weighted mean (1 when all F_i are equal).
    public let r2: Double
    /// Slope of the plain (unweighted) log-log line of |F_i − F∞| against N_i over the points whose excess
    /// F_i − F∞ has the sign of c (the positive excess when c > 0): a check on −α that does not assume the
    /// model. nil with fewer than two such points.
    public let logLogSlope: Double?

    public static let exponentRange: ClosedRange<Double> = 0.05...3

    /// nil when the arrays differ in length, fewer than 3 distinct N, any N ≤ 0, any σ ≤ 0, or non-finite input.
    /// `sigma`: standard errors of the F_i (e.g. seed-to-seed), weighting the fit by 1/σ².
    public init?(n: [Double], f: [Double], sigma: [Double]? = nil) {
        guard n.count == f.count, n.allSatisfy({ $0.isFinite && $0 > 0 }), f.allSatisfy(\.isFinite),
              Set(n).count >= 3 else { return nil }
        var w = [Double](repeating: 1, count: n.count)
        if let sigma {
            guard sigma.count == n.count, sigma.allSatisfy({ $0.isFinite && $0 > 0 }) else { return nil }
            w = sigma.map { 1 / ($0 * $0) }
            guard w.allSatisfy(\.isFinite) else { return nil }
        }
        let logN = n.map { Foundation.log($0) }

        // Weighted linear least squares of f on x = N^−α.
        func solve(_ alpha: Double) -> (limit: Double, coefficient: Double, residual: Double) {
            let x = logN.map { Foundation.exp(-alpha * $0) }
            var sw = 0.0, sx = 0.0, sy = 0.0
            for i in x.indices { sw += w[i]; sx += w[i] * x[i]; sy += w[i] * f[i] }
            let mx = sx / sw, my = sy / sw
            var sxx = 0.0, sxy = 0.0
            for i in x.indices { sxx += w[i] * (x[i] - mx) * (x[i] - mx); sxy += w[i] * (x[i] - mx) * (f[i] - my) }
            guard sxx > 0, sxx.isFinite else { return (my, 0, .infinity) }
            let c = sxy / sxx, a = my - c * mx
            // Summing the squared residuals directly (not Syy − Sxy²/Sxx) keeps exact fits at ~0 rather
            // than at rounding noise ~ulp·Syy, so the search below can resolve α to near full precision.
            var rss = 0.0
            for i in x.indices { let r = f[i] - a - c * x[i]; rss += w[i] * r * r }
            return (a, c, rss)
        }

        let lo = Self.exponentRange.lowerBound, hi = Self.exponentRange.upperBound
        let steps = 590  // grid step 0.005
        let h = (hi - lo) / Double(steps)
        var bestAlpha = lo, bestResidual = Double.infinity
        for s in 0...steps {
            let alpha = lo + Double(s) * h
            let r = solve(alpha).residual
            if r < bestResidual { bestResidual = r; bestAlpha = alpha }
        }
        guard bestResidual.isFinite else { return nil }

        // Golden-section search on [α − h, α + h]: the grid is fine enough that this bracket holds the minimum.
        let g = (5.0.squareRoot() - 1) / 2
        var a = max(lo, bestAlpha - h), b = min(hi, bestAlpha + h)
        var c = b - g * (b - a), d = a + g * (b - a)
        var fc = solve(c).residual, fd = solve(d).residual
        for _ in 0..<200 where b - a > 1e-13 {  // ~55 steps; the cap only guards against a stall
            if fc < fd { b = d; d = c; fd = fc; c = b - g * (b - a); fc = solve(c).residual }
            else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = solve(d).residual }
        }
        if min(fc, fd) < bestResidual { bestAlpha = fc < fd ? c : d }

        let best = solve(bestAlpha)
        limit = best.limit; coefficient = best.coefficient; exponent = bestAlpha; residual = best.residual
        let sw = w.reduce(0, +)
        let mean = zip(w, f).reduce(0) { $0 + $1.0 * $1.1 } / sw
        let total = zip(w, f).reduce(0) { $0 + $1.0 * ($1.1 - mean) * ($1.1 - mean) }
        r2 = total > 0 ? 1 - best.residual / total : 1

        let sign = best.coefficient < 0 ? -1.0 : 1.0
        logLogSlope = LinearFit.logLog(x: n, y: f.map { sign * ($0 - best.limit) })?.slope
    }

    public func predict(_ n: Double) -> Double { limit + coefficient * Foundation.pow(n, -exponent) }
}
