import Foundation

/// The sweep's slope of the first escape step against log(1/σ0) (`widenet saddle --init-scales`),
/// with its uncertainty from the fit's residuals and from the escape steps' resolution. Each escape
/// step is known only to ± h steps (`resolution`: one step, or half a logged interval when rows are
/// logged every K steps), an error uniform on [−h, h] with standard deviation h/√3. That floors the
/// residual variance: s² = max(RSS / (k − 2), h²/3), s.e. = √(s² / Sxx), so escape steps exactly
/// evenly spaced (RSS = 0 by rounding) still give the slope the uncertainty their rounding leaves;
/// `regression_standard_error` is √(RSS / (k − 2) / Sxx) alone (scipy.stats.linregress's `stderr`).
/// The 95 % interval is slope ± t₀.₉₇₅,ₖ₋₂ · s.e. (Student's t). With fewer than 2 residual degrees
/// of freedom (k − 2, k the scales that escaped) a line passes through the points by construction
/// (R² = 1 from two points), so the slope is not identified and `reason` says why. Read as a
/// FittedValue is read.
public struct SaddleEscapeFit: Codable, Sendable, Equatable {
    public var identified: Bool
    /// nil when not identified (the descriptive line is `slope_steps_per_log_inverse_scale`).
    public var value: Double?
    /// √(max(RSS / (k − 2), h²/3) / Sxx).
    public var standardError: Double?
    /// √(RSS / (k − 2) / Sxx), the residuals' part alone.
    public var regressionStandardError: Double?
    /// h, ± steps to which each escape step is known, and h/√3 / √Sxx, the slope's standard error from it alone.
    public var resolution: Double
    public var resolutionStandardError: Double?
    /// The 95 % interval.
    public var low: Double?, high: Double?
    public var points: Int, parameters: Int
    public var reason: String?

    public static let minimumResidualFreedom = 2

    enum CodingKeys: String, CodingKey {
        case identified, value, standardError = "standard_error", regressionStandardError = "regression_standard_error"
        case resolution = "resolution_steps", resolutionStandardError = "resolution_standard_error"
        case low, high, points, parameters, reason
    }

    /// `x` log(1/σ0), `y` the first escape step, one pair per scale that escaped (non-finite pairs left
    /// out); `resolution` h ≥ 0, the ± steps each escape step is known to (0: exact, the plain regression).
    public init(x: [Double], y: [Double], resolution: Double) {
        self.resolution = resolution
        let pts = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }
        points = pts.count; parameters = 2
        let freedom = pts.count - parameters
        guard freedom >= Self.minimumResidualFreedom else {
            identified = false
            reason = "\(pts.count) scale\(pts.count == 1 ? "" : "s") escaped for 2 parameters: a slope with an interval needs "
                + "at least \(Self.minimumResidualFreedom) residual degrees of freedom (\(parameters + Self.minimumResidualFreedom) scales)"
            return
        }
        let xs = pts.map(\.0), ys = pts.map(\.1)
        guard let fit = LinearFit(x: xs, y: ys) else {
            identified = false; reason = "the scales give one value of log(1/σ0)"
            return
        }
        let k = Double(pts.count), mx = xs.reduce(0, +) / k
        let sxx = xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        let rss = pts.reduce(0) { let r = $1.1 - (fit.intercept + fit.slope * $1.0); return $0 + r * r }
        let residualVariance = rss / Double(freedom), roundingVariance = resolution * resolution / 3
        let se = (max(residualVariance, roundingVariance) / sxx).squareRoot()
        let t = StudentT.quantile(0.975, freedom: Double(freedom))
        identified = true; value = fit.slope; standardError = se
        regressionStandardError = (residualVariance / sxx).squareRoot(); resolutionStandardError = (roundingVariance / sxx).squareRoot()
        low = fit.slope - t * se; high = fit.slope + t * se
    }
}
