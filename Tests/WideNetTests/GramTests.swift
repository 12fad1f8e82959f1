import Foundation
import Testing
@testable import WideNet

/// The analytic H∞ against a Monte-Carlo estimate (gram.cl against the CPU is a kernel check).
struct GramTests {
    /// H∞_ij = E_w[x_iᵀx_j 1{wᵀx_i ≥ 0, wᵀx_j ≥ 0}]: the analytic kernel against the empirical Gram
    /// of a wide random net (Monte-Carlo over w), within a few standard errors.
    @Test func analyticMatchesMonteCarlo() throws {
        let cpu = CPUBackend()
        var rng = TestRNG()
        let (n, d, m) = (12, 5, 200_000)
        let x = SyntheticData.unitRows(rng.normals(n * d, as: Double.self), n: n, d: d)
        let net = try NTKTwoLayerNet<Double>(backend: cpu, x: x, n: n, d: d, width: m,
                                             initialisation: .random(seed: rng.seed, kappa: 1))
        _ = try net.forward()
        let xx = SyntheticData.inputGram(x, n: n, d: d)
        let h = try net.empiricalGram(inputGram: xx)
        let hInf = xx.map(ArcCosine.kernel)
        let worst = zip(h, hInf).map { abs($0 - $1) }.max() ?? .infinity
        // Each entry is a mean of m Bernoulli(≤1/2) terms times |x_iᵀx_j| ≤ 1: sd ≤ 0.5/√m ≈ 1.1e-3.
        #expect(worst < 6 * 0.5 / Double(m).squareRoot(), "max |H(0) − H∞| = \(worst) (seed \(rng.seed))")
    }
}
