import Foundation
import Testing
@testable import WideNet

/// gram.cl against the CPU reference, and the analytic H∞ against a Monte-Carlo estimate.
struct GramTests {
    @Test(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
    func maskGramMatchesCPU() throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        for s in [NTKBlockShape(n: 19, d: 1, width: 1001), NTKBlockShape(n: 1, d: 1, width: 7)] {
            let masks = (0..<s.maskWords).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }
            // Start from nonzero counts: the kernel accumulates across blocks.
            let start = (0..<(s.n * s.n)).map { _ in UInt32.random(in: 0...1000, using: &rng) }
            var got: [[UInt32]] = []
            for be in [gpu as any Backend, cpu] {
                let counts = try buffer(be, start)
                try be.maskGram(s, masks: try buffer(be, masks), counts: counts)
                got.append(try be.download(counts, count: s.n * s.n, as: UInt32.self))
            }
            #expect(got[0] == got[1], "mask_gram differs (seed \(rng.seed))")
            // Independent check of one entry.
            let i = s.n - 1, j = 0
            let direct = (0..<s.words).reduce(0) { $0 + (masks[i * s.words + $1] & masks[j * s.words + $1]).nonzeroBitCount }
            #expect(got[1][i * s.n + j] == start[i * s.n + j] + UInt32(direct))
        }
    }

    @Test(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason), arguments: [Precision.f32, .f64])
    func arcCosineMatchesCPU(precision: Precision) throws {
        if precision == .f32 { try arcCos(Float.self) } else { try arcCos(Double.self) }
    }

    func arcCos<T: Scalar>(_: T.Type) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        let (n, d) = (23, 11)
        let x = SyntheticData.unitRows(rng.normals(n * d, as: Double.self), n: n, d: d).map { T($0) }
        var out: [[T]] = []
        for be in [gpu as any Backend, cpu] {
            let h = try poisoned(be, count: n * n, as: T.self)
            try be.arcCosineGram(x: try buffer(be, x), n: n, d: d, out: h, as: T.self)
            out.append(try be.download(h, count: n * n, as: T.self))
        }
        // acos near ±1 amplifies rounding of g by 1/√(1−g²); the diagonal sits exactly there.
        let tol = T.precision == .f32 ? 2e-4 : 1e-11
        expectClose(out[0], out[1], abs: tol, rel: tol, "arccos_gram \(T.precision)", seed: rng.seed)
        // H∞_ii = 1/2 on unit vectors, up to acos's amplification of the rounding of x_iᵀx_i.
        let diagTol = (2 * Double(d) * (T.precision == .f32 ? 1.2e-7 : 2.3e-16)).squareRoot()
        for i in 0..<n { #expect(abs(Double(out[1][i * n + i]) - 0.5) < diagTol) }
    }

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
