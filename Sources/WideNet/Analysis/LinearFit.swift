import Foundation

/// Least-squares line y = slope·x + intercept, with R².
public struct LinearFit: Sendable, Codable {
    public let slope: Double, intercept: Double, r2: Double

    public init?(x: [Double], y: [Double]) {
        let pts = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }
        guard pts.count >= 2 else { return nil }
        let k = Double(pts.count)
        let mx = pts.map(\.0).reduce(0, +) / k, my = pts.map(\.1).reduce(0, +) / k
        let sxx = pts.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        let sxy = pts.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let syy = pts.reduce(0) { $0 + ($1.1 - my) * ($1.1 - my) }
        guard sxx > 0 else { return nil }
        slope = sxy / sxx
        intercept = my - slope * mx
        r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1
    }

    /// Fit of log y against log x: the exponent of a power law.
    public static func logLog(x: [Double], y: [Double]) -> LinearFit? {
        let pts = zip(x, y).filter { $0.0 > 0 && $0.1 > 0 }
        return LinearFit(x: pts.map { Foundation.log($0.0) }, y: pts.map { Foundation.log($0.1) })
    }
}
