import Foundation

/// A fitted figure with its uncertainty, or the reason it is not identified.
public struct FittedValue: Codable, Sendable, Equatable {
    /// false: too few seeds or residual degrees of freedom, or the fit failed or sat on a bound;
    /// then `value` and the interval are nil and `reason` says why.
    public var identified: Bool
    public var value: Double?
    /// 95 % percentile interval over resamples of the seeds.
    public var low: Double?, high: Double?
    public var seeds: Int, points: Int, parameters: Int
    public var reason: String?

    static func unidentified(_ reason: String, seeds: Int, points: Int, parameters: Int) -> FittedValue {
        FittedValue(identified: false, value: nil, low: nil, high: nil, seeds: seeds, points: points, parameters: parameters,
                    reason: reason)
    }
}

/// The one fit utility of every experiment: a statistic of the seed-averaged curve (a power-law
/// exponent, a log-log slope), its 95 % interval from resampling the seeds with replacement, and
/// a refusal to call it identified with fewer than `minimumSeeds` seeds or fewer than 2 residual
/// degrees of freedom (points − parameters), where any fit passes through the data by construction.
public enum SeedBootstrap {
    public static let minimumSeeds = 5, minimumResidualFreedom = 2, resamples = 1000

    /// `values[s][i]`: seed s at point x[i]. `statistic` maps (x, seed-mean curve) to the figure, or
    /// nil where it cannot be fitted (or sits on the edge of its range).
    public static func fit(x: [Double], values: [[Double]], parameters: Int, seed: UInt64 = 0, resamples: Int = resamples,
                           statistic: ([Double], [Double]) -> Double?) -> FittedValue {
        let seeds = values.count, points = x.count
        guard seeds >= minimumSeeds else {
            return .unidentified("\(seeds) seed\(seeds == 1 ? "" : "s"): a fit needs at least \(minimumSeeds) for its interval",
                                 seeds: seeds, points: points, parameters: parameters)
        }
        guard points - parameters >= minimumResidualFreedom else {
            return .unidentified("\(points) points for \(parameters) parameters: a fit needs at least \(minimumResidualFreedom) residual degrees of freedom",
                                 seeds: seeds, points: points, parameters: parameters)
        }
        guard values.allSatisfy({ $0.count == points && $0.allSatisfy(\.isFinite) }) else {
            return .unidentified("missing or non-finite values", seeds: seeds, points: points, parameters: parameters)
        }
        func mean(_ rows: [[Double]]) -> [Double] {
            (0..<points).map { i in rows.reduce(0.0) { $0 + $1[i] } / Double(rows.count) }
        }
        guard let value = statistic(x, mean(values)) else {
            return .unidentified("the fit to the seed means failed or sat on the edge of its range", seeds: seeds, points: points,
                                 parameters: parameters)
        }
        // Resamples from Philox, so the interval is reproducible for a seed.
        let g = PhiloxGenerator(seed: seed)
        let u: [Double] = g.array(count: resamples * seeds, stream: RandomStream.shuffle.rawValue, step: 0x5EED,
                                  distribution: .uniform, scale: 1.0)
        var draws: [Double] = []
        for b in 0..<resamples {
            let pick = (0..<seeds).map { values[min(Int(u[b * seeds + $0] * Double(seeds)), seeds - 1)] }
            if let v = statistic(x, mean(pick)) { draws.append(v) }
        }
        guard draws.count >= resamples / 2 else {
            return .unidentified("the fit failed on \(resamples - draws.count) of \(resamples) resamples of the seeds", seeds: seeds,
                                 points: points, parameters: parameters)
        }
        draws.sort()
        func quantile(_ q: Double) -> Double { draws[min(draws.count - 1, max(0, Int((q * Double(draws.count - 1)).rounded())))] }
        return FittedValue(identified: true, value: value, low: quantile(0.025), high: quantile(0.975), seeds: seeds,
                           points: points, parameters: parameters, reason: nil)
    }

    /// −slope of log|F(N_i) − F(N_{i+1})| against log √(N_i N_{i+1}): the exponent α of an excess
    /// c·N^−α without estimating the limit F∞ (for a geometric grid of N the differences fall like
    /// N^−α too). nil with fewer than two usable differences.
    public static func differenceExponent(_ n: [Double], _ f: [Double]) -> Double? {
        guard n.count >= 3 else { return nil }
        var xs: [Double] = [], ys: [Double] = []
        for i in 0..<(n.count - 1) where f[i] != f[i + 1] {
            xs.append((n[i] * n[i + 1]).squareRoot()); ys.append(abs(f[i] - f[i + 1]))
        }
        return LinearFit.logLog(x: xs, y: ys).map { -$0.slope }
    }

    /// The exponent of F∞ + c·N^−α (3 parameters); nil when it sits on the edge of PowerLawFit's range.
    public static func powerLawExponent(_ n: [Double], _ f: [Double]) -> Double? {
        guard let fit = PowerLawFit(n: n, f: f) else { return nil }
        let range = PowerLawFit.exponentRange, margin = 1e-3 * (range.upperBound - range.lowerBound)
        guard fit.exponent > range.lowerBound + margin, fit.exponent < range.upperBound - margin else { return nil }
        return fit.exponent
    }
}
