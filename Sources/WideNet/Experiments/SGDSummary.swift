import Foundation

/// summary.json of `widenet train --optimizer sgd` (its own fields; RunSummary adds the common ones).
public struct SGDSummary: Codable, Sendable {
    public var precision: String
    /// The data set's size in epochs; nil for a stream, which has none.
    public var n: Int?
    public var d: Int, width: Int, steps: Int, batch: Int
    public var samplesSeen: Int
    public var lr: Double
    public var averageFrom: Int?
    /// The ridge λ toward w(0) (0: none).
    public var ridge: Double
    public var finalLoss: Double?
    /// Mean (f(x) − f*(x))² over the test set of the last iterate and of the averaged one.
    public var finalTestError: Double?, finalTestErrorAverage: Double?
    /// The decay exponent ρ of test error ∝ t^(−ρ) over the fit window (samples seen), with its 95 %
    /// interval over resamples of the test set's folds (SeedBootstrap with folds in place of seeds).
    public var rateLast: FittedValue?, rateAverage: FittedValue?
    /// The samples-seen window of rate_last, and of rate_average (which starts after --average-from).
    public var rateWindow: [Int]?, rateWindowAverage: [Int]? = nil
    /// The harmonic target's figures and the rates theory gives for them.
    public var capacity: Double?, source: Double?, noise: Double?
    public var rateTheoryAverage: Double?, rateOptimal: Double?, rateTheoryLast: Double?
    public var finalMaxMove: Double?
    public var targetLoss: Double?, targetReachedAt: Int?
    /// The logged test errors (samples seen, last iterate, averaged iterate or nil before averaging began):
    /// what a sweep over seeds fits across runs.
    public var curveSamples: [Double]?, curveLast: [Double]?, curveAverage: [Double?]?

    enum CodingKeys: String, CodingKey {
        case precision, n, d, width, steps, batch, samplesSeen = "samples_seen", lr, averageFrom = "average_from", ridge
        case finalLoss = "final_loss", finalTestError = "final_test_error", finalTestErrorAverage = "final_test_error_average"
        case rateLast = "rate_last", rateAverage = "rate_average", rateWindow = "rate_window", rateWindowAverage = "rate_window_average"
        case capacity, source, noise, rateTheoryAverage = "rate_theory_average", rateOptimal = "rate_optimal"
        case rateTheoryLast = "rate_theory_last", finalMaxMove = "final_max_move"
        case targetLoss = "target_loss", targetReachedAt = "target_reached_at"
        case curveSamples = "curve_samples", curveLast = "curve_test_error", curveAverage = "curve_test_error_average"
    }
}

/// The rates of averaged SGD in the NTK's RKHS for eigenvalues decaying like i^(−β) and a target of
/// source exponent r (f* = T^r g): the minimax rate 2rβ/(2rβ + 1) (Nitanda–Suzuki, ICLR 2021, reach it
/// with a ridge λ ∝ T^(−β/(2rβ+1)) for r ∈ [½, 1]); at a constant step without it the averaged iterate's
/// bias falls like (ηt)^(−2 min(r, 1)) and its variance like σ²(ηt)^(1/β)/t (Dieuleveut–Bach, Ann.
/// Statist. 2016), so it decays at min(2 min(r, 1), 1 − 1/β) with noise — the minimax rate exactly
/// when r = (β − 1)/(2β), the default source — and the last iterate stalls at a floor ∝ ησ².
public enum SGDRates {
    public static func optimal(capacity beta: Double, source r: Double) -> Double { 2 * r * beta / (2 * r * beta + 1) }

    public static func averaged(capacity beta: Double, source r: Double, noisy: Bool) -> Double {
        let bias = 2 * min(r, 1)
        return noisy ? min(bias, 1 - 1 / beta) : bias
    }

    /// Folds of the test set that stand in for seeds in the rate's interval.
    public static let folds = 8
    /// The fit window: samples seen from T/10^1.5 to T (the last decade and a half).
    public static let windowDecades = 1.5

    /// ρ of error ∝ t^(−ρ) from per-fold curves `folds[f][i]` at samples `t[i]`.
    public static func fit(t: [Double], folds: [[Double]], seed: UInt64) -> FittedValue {
        SeedBootstrap.fit(x: t, values: folds, parameters: 2, seed: seed) { x, y in LinearFit.logLog(x: x, y: y).map { -$0.slope } }
    }
}
