import Foundation

/// The order p of error ≈ C·h^p: the least-squares slope of log error against log h over the
/// depths, with the regression's standard error and the interval slope ± 2 standard errors.
/// Errors at or below `floor` (rounding) are left out of the fit.
public struct ConvergenceOrder: Sendable, Codable {
    public let order: Double, standardError: Double?, interval: [Double]?, intercept: Double, r2: Double, points: Int

    public init?(h: [Double], error: [Double], floor: Double = 1e-13) {
        let pts = zip(h, error).filter { $0.0 > 0 && $0.1 > floor && $0.1.isFinite }
        let x = pts.map { Foundation.log($0.0) }, y = pts.map { Foundation.log($0.1) }
        guard let fit = LinearFit(x: x, y: y) else { return nil }
        order = fit.slope; intercept = fit.intercept; r2 = fit.r2; points = pts.count
        if pts.count > 2 {
            let k = Double(pts.count), mx = x.reduce(0, +) / k
            let sxx = x.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
            let rss = zip(x, y).reduce(0) { $0 + pow($1.1 - (fit.intercept + fit.slope * $1.0), 2) }
            let se = (rss / (k - 2) / sxx).squareRoot()
            standardError = se; interval = [fit.slope - 2 * se, fit.slope + 2 * se]
        } else {
            standardError = nil; interval = nil
        }
    }

    enum CodingKeys: String, CodingKey {
        case order, standardError = "standard_error", interval, intercept, r2, points
    }
}
