import CBLAS
import Foundation

/// The bias of the k-NN entropy estimate at a given sample size and dimension, measured where it
/// is used: the same estimator on M points drawn from the Gaussian with the sample's covariance,
/// whose entropy is known exactly, ½ log det(2πe Σ). At D = 22 and M = 1000 the estimate reads
/// about 1.6 nats high; the difference is the bias to subtract (an estimate: the particles' law
/// is not Gaussian).
public struct EntropyBias: Codable, Sendable {
    public var sample: Int, dimension: Int
    /// The estimate on the Gaussian reference, its exact entropy, and their difference.
    public var referenceEstimate: Double, referenceExact: Double, bias: Double

    enum CodingKeys: String, CodingKey {
        case sample, dimension, bias
        case referenceEstimate = "reference_estimate", referenceExact = "reference_exact"
    }

    /// nil when the sample's covariance is singular (coinciding or collinear particles).
    public static func measure(_ points: [Double], count m: Int, dimension D: Int, seed: UInt64) throws -> EntropyBias? {
        guard m > D + 1 else { return nil }
        var mean = [Double](repeating: 0, count: D)
        for i in 0..<m { for c in 0..<D { mean[c] += points[i * D + c] } }
        for c in 0..<D { mean[c] /= Double(m) }
        var cov = [Double](repeating: 0, count: D * D)
        for i in 0..<m {
            for a in 0..<D {
                let da = points[i * D + a] - mean[a]
                for b in 0...a { cov[a * D + b] += da * (points[i * D + b] - mean[b]) }
            }
        }
        for a in 0..<D { for b in 0...a { cov[a * D + b] /= Double(m - 1); cov[b * D + a] = cov[a * D + b] } }
        // Σ = L Lᵀ (lower triangle), then x = L z for z ~ N(0, I) from Philox.
        var l = cov
        guard LAPACKE_dpotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(D), &l, Int32(D)) == 0 else { return nil }
        let z: [Double] = PhiloxGenerator(seed: seed).array(count: m * D, stream: RandomStream.entropyReference.rawValue, step: 0,
                                                            distribution: .normal, scale: 1.0)
        var x = [Double](repeating: 0, count: m * D)
        for i in 0..<m {
            for a in 0..<D {
                var s = 0.0
                for b in 0...a { s += l[a * D + b] * z[i * D + b] }
                x[i * D + a] = s
            }
        }
        let logDet = (0..<D).reduce(0.0) { $0 + 2 * Foundation.log(l[$1 * D + $1]) }
        let exact = 0.5 * (Double(D) * Foundation.log(2 * Double.pi * M_E) + logDet)
        let estimate = try EntropyEstimator.kozachenkoLeonenko(x, count: m, dimension: D)
        return EntropyBias(sample: m, dimension: D, referenceEstimate: estimate, referenceExact: exact, bias: estimate - exact)
    }
}
