import Foundation

/// The order p of error ≈ C·h^p: the least-squares slope of log error against log h over k usable
/// points, with the regression standard error s.e. = √(RSS / (k − 2) / Sxx) (scipy.stats.linregress's
/// `stderr`) and the 95 % interval p ± t₀.₉₇₅,ₖ₋₂ · s.e. (Student's t, computed). With fewer than 2
/// residual degrees of freedom (k < 4) the order is not identified: `interval` is nil and `reason`
/// says why; `order`, `intercept` and `r2` still describe the line through the points when k ≥ 2
/// (with k = 2 it passes through both, R² = 1 by construction), and `standard_error` is given when
/// k ≥ 3. Errors at or below `floor` (rounding) and non-finite ones are left out of the fit.
/// `value`, `low` and `high` repeat the identified order and its interval, so the fit reads as a
/// FittedValue is read (JSONValue.displayText: "p [low, high]" or "not identified: reason").
public struct ConvergenceOrder: Sendable, Codable, Equatable {
    public let identified: Bool
    /// The least-squares slope (nil with fewer than 2 usable points).
    public let order: Double?
    public let standardError: Double?
    /// The 95 % Student-t interval; nil when not identified.
    public let interval: [Double]?
    public let intercept: Double?, r2: Double?
    /// The usable points the line was fitted to.
    public let points: Int
    public let reason: String?
    /// FittedValue's reading: the order and its interval when identified, else nil.
    public let value: Double?, low: Double?, high: Double?

    public static let minimumResidualFreedom = 2, parameters = 2

    /// `noun`: what the points are, plural ("depths", "gaps"), for the reason.
    public init(h: [Double], error: [Double], floor: Double = 1e-13, noun: String = "points") {
        let all = zip(h, error)
        let pts = all.filter { $0.0 > 0 && $0.0.isFinite && $0.1 > floor && $0.1.isFinite }
        let x = pts.map { Foundation.log($0.0) }, y = pts.map { Foundation.log($0.1) }
        let k = pts.count, dropped = min(h.count, error.count) - k
        points = k
        let leftOut = dropped > 0
            ? " (\(dropped) of \(k + dropped) left out: errors at or below \(floor == 0 ? "0" : String(format: "%g", floor)) or not finite)" : ""
        let fit = LinearFit(x: x, y: y)
        order = fit?.slope; intercept = fit?.intercept; r2 = fit?.r2
        var se: Double? = nil
        if let fit, k > Self.parameters {
            let mx = x.reduce(0, +) / Double(k)
            let sxx = x.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
            let rss = zip(x, y).reduce(0) { let r = $1.1 - (fit.intercept + fit.slope * $1.0); return $0 + r * r }
            se = (rss / Double(k - Self.parameters) / sxx).squareRoot()
        }
        standardError = se
        let freedom = k - Self.parameters
        if let fit, let se, freedom >= Self.minimumResidualFreedom {
            let t = StudentT.quantile(0.975, freedom: Double(freedom))
            let iv = [fit.slope - t * se, fit.slope + t * se]
            identified = true; interval = iv; reason = nil
            value = fit.slope; low = iv[0]; high = iv[1]
        } else {
            identified = false; interval = nil; value = nil; low = nil; high = nil
            let need = Self.parameters + Self.minimumResidualFreedom
            if k >= 2 && fit == nil {
                reason = "the \(k) \(noun) share one h\(leftOut)"
            } else {
                let counted = k == 1 && noun.hasSuffix("s") ? String(noun.dropLast()) : noun
                reason = "\(k) \(counted) for \(Self.parameters) parameters (slope and intercept of the log-log line): a fitted order with a "
                    + "95 % interval needs at least \(Self.minimumResidualFreedom) residual degrees of freedom (\(need) \(noun))\(leftOut)"
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case identified, order, standardError = "standard_error", interval, intercept, r2, points, reason, value, low, high
    }

    /// "[lo, hi]" or "not identified", for tables.
    public var intervalText: String {
        guard let i = interval, i.count == 2 else { return "not identified" }
        return String(format: "[%.3f, %.3f]", i[0], i[1])
    }
}
