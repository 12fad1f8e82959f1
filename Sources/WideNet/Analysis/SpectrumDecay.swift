import Foundation

/// The power-law decay of a kernel's spectrum, λ_i ≈ C·i^(−α) with i the rank (1 for the largest):
/// the NTK's eigenvalue decay that fixes the optimal rates of averaged SGD (Nitanda–Suzuki) for a
/// target of given smoothness. On the sphere S^(d−1), the ReLU NTK's degree-k eigenvalue falls like
/// k^(−d) with multiplicity ∝ k^(d−2), so in rank order α → d/(d−1).
///
/// α is the least-squares slope of log λ_i on log i over the ranks 2…n/2 (the first is the
/// constant mode; the last half is shaped by having n points). Its standard error is the delete-d
/// jackknife's (Shao–Wu): the same fit on `subsamples` random subsets of b = min(n/2, 2048) points,
/// their variance times b/(n − b) (1 for halves; √(b/n) scaling, right only for b ≪ n, understated
/// it by √2). The interval is the sampling spread at this n; the exponent itself still drifts with n
/// towards its limit, which `moves_with_n` flags when the half-size fits sit more than two standard
/// errors away.
public struct SpectrumDecay: Codable, Sendable {
    public let exponent: Double, intercept: Double, r2: Double
    public let standardError: Double?
    /// α ± 1.96 standard errors.
    public let interval95: [Double]?
    public let firstRank: Int, lastRank: Int
    public let subsamples: Int
    /// The mean exponent of the half-subsamples (for the bias of the finite n).
    public let subsampleMean: Double?
    /// Whether the interval exists (enough points for the subsamples), and why not.
    public let identified: Bool
    public let reason: String?
    /// The fits at b points differ from the one at n by more than two standard errors: α is still moving with n.
    public let movesWithN: Bool?

    enum CodingKeys: String, CodingKey {
        case exponent, intercept, r2, standardError = "standard_error", interval95 = "interval_95"
        case firstRank = "first_rank", lastRank = "last_rank", subsamples, subsampleMean = "subsample_mean"
        case identified, reason, movesWithN = "moves_with_n"
    }

    /// The largest subsample: each costs an eigen-decomposition of its size.
    static let maxSubsample = 2048

    /// The ranks fitted for a spectrum of n eigenvalues.
    static func ranks(n: Int) -> ClosedRange<Int> { 2...max(2, n / 2) }

    /// The fit over `ranks` of ascending eigenvalues; nil with fewer than three positive ones there.
    public static func line(ascending eigenvalues: [Double], ranks: ClosedRange<Int>) -> LinearFit? {
        let descending = Array(eigenvalues.reversed())
        let kept = ranks.filter { $0 <= descending.count && descending[$0 - 1] > 0 }
        guard kept.count >= 3 else { return nil }
        return LinearFit.logLog(x: kept.map(Double.init), y: kept.map { descending[$0 - 1] })
    }

    /// `eigenvalues`: of the kernel `kernel` builds from the n×d rows `x` (ascending); the halves
    /// are drawn from Philox stream `shuffle` of `seed`.
    public static func estimate(eigenvalues: [Double], x: [Double], n: Int, d: Int, seed: UInt64, subsamples: Int = 16,
                                kernel: (_ x: [Double], _ n: Int) throws -> [Double]) throws -> SpectrumDecay? {
        let window = ranks(n: n)
        guard let fit = line(ascending: eigenvalues, ranks: window) else { return nil }
        let half = min(n / 2, maxSubsample)
        var exponents: [Double] = []
        if half >= 8 {
            let u: [Double] = PhiloxGenerator(seed: seed).array(count: subsamples * n, stream: RandomStream.shuffle.rawValue, step: 0xDECA,
                                                                distribution: .uniform, scale: 1.0)
            for b in 0..<subsamples {
                // The half whose draws are smallest: a uniform random subset.
                let chosen = (0..<n).sorted { u[b * n + $0] < u[b * n + $1] }.prefix(half).sorted()
                let sub = chosen.flatMap { x[($0 * d)..<(($0 + 1) * d)] }
                if let f = line(ascending: try kernel(sub, half), ranks: ranks(n: half)) { exponents.append(-f.slope) }
            }
        }
        var se: Double? = nil, mean: Double? = nil
        if exponents.count >= 3 {
            let m = exponents.reduce(0, +) / Double(exponents.count)
            let variance = exponents.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(exponents.count - 1)
            se = (variance * Double(half) / Double(n - half)).squareRoot()
            mean = m
        }
        let alpha = -fit.slope
        let reason = se != nil ? nil : "n = \(n): the interval needs fits on subsets of at least 8 points (n ≥ 16)"
        var moves: Bool? = nil
        if let se, let mean { moves = abs(mean - alpha) > 2 * se }
        return SpectrumDecay(exponent: alpha, intercept: fit.intercept, r2: fit.r2, standardError: se,
                             interval95: se.map { [alpha - 1.96 * $0, alpha + 1.96 * $0] }, firstRank: window.lowerBound,
                             lastRank: min(window.upperBound, n), subsamples: exponents.count, subsampleMean: mean,
                             identified: se != nil, reason: reason, movesWithN: moves)
    }
}
