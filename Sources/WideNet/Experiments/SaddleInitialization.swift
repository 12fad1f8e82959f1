import Foundation

/// `widenet saddle --init`: where the weights start. `gaussian` is the small initialisation of Arata's
/// analysis; the other two start next to Amari's singular regions, where GD lingers and adaptive
/// methods are said to help: `duplicate` gives every unit the same unit-norm hidden row and the
/// same output column (plus noise of scale σ0), `zero-output` unit-norm random hidden rows with output weights of scale σ0.
public enum SaddleInitialization: String, Sendable, CaseIterable, Codable {
    case gaussian, duplicate
    case zeroOutput = "zero-output"

    public func hiddenWeights(m: Int, d: Int, scale: Double, seed: UInt64) -> [Double] {
        let g = PhiloxGenerator(seed: seed)
        let noise: [Double] = g.array(count: m * d, stream: RandomStream.hiddenWeights.rawValue, step: 0, distribution: .normal, scale: scale)
        switch self {
        case .gaussian:
            return noise
        case .duplicate:
            let row = Self.unitRows(g.array(count: d, stream: RandomStream.hiddenWeights.rawValue, step: 1, distribution: .normal, scale: 1.0), d: d)
            return (0..<(m * d)).map { row[$0 % d] + noise[$0] }
        case .zeroOutput:
            return Self.unitRows(g.array(count: m * d, stream: RandomStream.hiddenWeights.rawValue, step: 1, distribution: .normal, scale: 1.0), d: d)
        }
    }

    public func outputWeights(k: Int, m: Int, scale: Double, seed: UInt64) -> [Double] {
        let g = PhiloxGenerator(seed: seed)
        let small: [Double] = g.array(count: k * m, stream: RandomStream.outputWeights.rawValue, step: 0, distribution: .normal, scale: scale)
        switch self {
        case .gaussian, .zeroOutput:
            return small
        case .duplicate:
            // One shared O(1) output column as well: units equal in both layers are Amari's
            // singular region, which only the σ0 noise breaks.
            let column: [Double] = g.array(count: k, stream: RandomStream.outputWeights.rawValue, step: 1, distribution: .normal,
                                           scale: 1 / Double(m).squareRoot())
            return (0..<(k * m)).map { column[$0 / m] + small[$0] }
        }
    }

    /// Each row of a rows×d matrix scaled to unit norm.
    static func unitRows(_ a: [Double], d: Int) -> [Double] {
        var out = a
        for start in stride(from: 0, to: a.count, by: d) {
            let norm = a[start..<(start + d)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            for q in start..<(start + d) { out[q] = norm > 0 ? a[q] / norm : 0 }
        }
        return out
    }
}
