import Foundation
import Testing
@testable import WideNet

/// The infinite-width kernels against independent references: planted angles with their closed
/// forms (near-parallel pairs included, where arccos of a rounded dot product is off by √ulp),
/// numpy written the obvious way on generic inputs, and the output-layer kernel that GD follows
/// with --train-output.
struct KernelScienceTests {
    /// A random orthonormal basis of R^d (Gram–Schmidt of Gaussians, a fresh seed each run).
    static func basis(_ d: Int, _ rng: inout TestRNG) -> [[Double]] {
        var q: [[Double]] = []
        while q.count < 2 {
            var v: [Double] = rng.normals(d)
            for u in q { let c = zip(u, v).map { $0 * $1 }.reduce(0, +); v = zip(v, u).map { $0 - c * $1 } }
            let norm = v.map { $0 * $0 }.reduce(0, +).squareRoot()
            q.append(v.map { $0 / norm })
        }
        return q
    }

    /// Pairs at planted angles θ in a random plane: H∞ = cos θ (π − θ)/2π, K_a = (sin θ + (π − θ) cos θ)/2π,
    /// to 1e-12 relative; the diagonal exactly ½.
    @Test func plantedAnglesMatchTheClosedForms() throws {
        var rng = TestRNG()
        let d = 7, thetas = [1e-9, 3e-8, 1e-7, 1e-4, 0.5, 2.0, Double.pi - 1e-6]
        let b = Self.basis(d, &rng)
        var x: [Double] = []
        x += b[0]
        for t in thetas { x += zip(b[0], b[1]).map { Foundation.cos(t) * $0 + Foundation.sin(t) * $1 } }
        let n = thetas.count + 1
        let kappa = 1.3
        let k = try InfiniteWidthKernel(x: x, n: n, d: d, outputLayerScale: kappa)
        for i in 0..<n { #expect(k.hidden[i * n + i] == 0.5 * k.inputGram[i * n + i], "seed \(rng.seed): H∞ diagonal \(i)") }
        for (j, t) in thetas.enumerated() {
            let h = Foundation.cos(t) * (Double.pi - t) / (2 * Double.pi)
            let ka = kappa * kappa * (Foundation.sin(t) + (Double.pi - t) * Foundation.cos(t)) / (2 * Double.pi)
            let gotH = k.hidden[j + 1], gotK = k.matrix[j + 1] - k.hidden[j + 1]
            #expect(abs(gotH - h) <= 1e-12 * abs(h) + 1e-15, "seed \(rng.seed): θ = \(t): H∞ \(gotH), closed form \(h)")
            #expect(abs(gotK - ka) <= 1e-12 * abs(ka) + 1e-15, "seed \(rng.seed): θ = \(t): K_a \(gotK), closed form \(ka)")
        }
    }

    /// Generic unit inputs: H∞ + κ²K_a from numpy's arccos formula, and the eigenvalues from numpy.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func genericInputsMatchNumpy() throws {
        var rng = TestRNG()
        let (n, d, kappa) = (37, 6, 0.8)
        let x = SyntheticData.unitRows(rng.normals(n * d), n: n, d: d)
        let dir = try CLITests.scratch()
        try NPY.write(x, shape: [n, d], to: dir.appendingPathComponent("x.npy"))
        let script = """
            import numpy as np, sys
            x = np.load(sys.argv[1] + "/x.npy"); k = \(kappa)
            g = np.clip(x @ x.T, -1, 1); t = np.arccos(g)
            h = g * (np.pi - t) / (2 * np.pi) + k * k * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi)
            np.save(sys.argv[1] + "/h.npy", h); np.save(sys.argv[1] + "/eig.npy", np.linalg.eigvalsh(h))
            """
        let r = try NPYTests.python(["-c", script, dir.path])
        try #require(r.status == 0, "\(r.output)")
        let h = try NPY.read(dir.appendingPathComponent("h.npy")).values, eig = try NPY.read(dir.appendingPathComponent("eig.npy")).values
        let k = try InfiniteWidthKernel(x: x, n: n, d: d, outputLayerScale: kappa)
        // arccos of a rounded dot product is off by up to √ulp·(diagonal), so numpy's diagonal is the looser one.
        let worst = zip(h, k.matrix).enumerated().filter { $0.offset % (n + 1) != 0 }.map { abs($0.element.0 - $0.element.1) }.max() ?? 0
        #expect(worst <= 1e-12, "seed \(rng.seed): off-diagonal difference \(worst)")
        for (a, b) in zip(eig, k.eigenvalues) { #expect(abs(a - b) <= 1e-7 * eig.last!, "seed \(rng.seed): eigenvalue \(b) against numpy \(a)") }
    }

    /// --train-output: GD follows H∞ + K_a. The distance to that kernel's prediction falls with m
    /// (like 1/√m on average over seeds; against H∞ alone it stays near 0.3), and the default step
    /// 1/λ_max(H∞ + K_a) converges.
    @Test func trainOutputFollowsTheCombinedKernel() throws {
        var deviations: [Double] = [], widths: [Double] = []
        for m in [2048, 8192, 32768] {
            var mean = 0.0
            for seed: UInt64 in [1, 2] {
                var c = NTKTrainConfig()
                c.n = 16; c.d = 6; c.width = m; c.steps = 20; c.seed = seed; c.trainOutput = true
                c.backend = .cpu; c.precision = .f64; c.quiet = true; c.out = TrainTests.tempDir()
                let s = try ConfigCoding.summary(TrainSummary.self, of: try NTKTrainExperiment.run(c))
                #expect((s.finalLoss ?? .infinity) < 0.5 * s.initialLoss, "m = \(m): the default η did not converge (\(s.finalLoss ?? .nan))")
                #expect(s.boundHolds == true, "m = \(m), seed \(seed)")
                mean += (s.maxKernelDeviation ?? .nan) / 2
            }
            deviations.append(mean); widths.append(Double(m))
        }
        let fit = try #require(LinearFit.logLog(x: widths, y: deviations))
        #expect(fit.slope > -0.95 && fit.slope < -0.3, "deviation against m: slope \(fit.slope), \(deviations)")
        #expect(deviations.last! < 0.02, "the deviation at m = 32768 is \(deviations.last!): the prediction follows another kernel")
    }

    /// --train-output with --init-w: K_a takes the given weights' scale (the RMS of their entries), so
    /// λ0 is that of H∞ + K_a at that κ and the run follows its prediction (K_a at κ = 1 would be off by 0.2).
    @Test func trainOutputTakesTheScaleOfTheGivenWeights() throws {
        let (n, d, m, kappa) = (12, 5, 8192, 0.5)
        var rng = TestRNG()
        let dir = URL(fileURLWithPath: TrainTests.tempDir())
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let data = SyntheticData.sphere(n: n, d: d, seed: 6)
        let w = rng.normals(m * d, as: Double.self).map { kappa * $0 }
        let (xURL, yURL, wURL) = (dir.appendingPathComponent("x.npy"), dir.appendingPathComponent("y.npy"), dir.appendingPathComponent("w.npy"))
        try NPY.write(data.x, shape: [n, d], to: xURL); try NPY.write(data.y, shape: [n], to: yURL); try NPY.write(w, shape: [m, d], to: wURL)
        var c = NTKTrainConfig()
        c.xPath = xURL.path; c.yPath = yURL.path; c.initWPath = wURL.path; c.steps = 20; c.trainOutput = true
        c.backend = .cpu; c.precision = .f64; c.quiet = true; c.out = dir.appendingPathComponent("run").path
        let s = try ConfigCoding.summary(TrainSummary.self, of: try NTKTrainExperiment.run(c))
        let rms = (w.reduce(0) { $0 + $1 * $1 } / Double(w.count)).squareRoot()
        let expected = try InfiniteWidthKernel(x: data.x, n: n, d: d, outputLayerScale: rms).lambda0
        #expect(abs(s.lambda0 - expected) <= 1e-12 * expected, "λ0 \(s.lambda0) against H∞ + K_a at κ = \(rms): \(expected)")
        #expect((s.maxKernelDeviation ?? .infinity) < 0.05, "the run left the prediction of H∞ + K_a: \(s.maxKernelDeviation ?? .nan)")
    }

    /// f32 stops following the kernel prediction at its rounding floor and says so; f64 on the same
    /// run goes on far below it and reports no floor.
    @Test func theF32FloorIsMarkedAndF64GoesBelowIt() throws {
        var floors: [Precision: (floor: Double?, loss: Double)] = [:]
        for precision in [Precision.f32, .f64] {
            var c = NTKTrainConfig()
            c.n = 8; c.d = 4; c.width = 2048; c.steps = 600; c.seed = 4
            c.backend = .cpu; c.precision = precision; c.quiet = true; c.out = TrainTests.tempDir()
            let s = try ConfigCoding.summary(TrainSummary.self, of: try NTKTrainExperiment.run(c))
            floors[precision] = (s.precisionFloor, s.finalLoss ?? .nan)
        }
        let f32 = try #require(floors[.f32]), f64 = try #require(floors[.f64])
        let floor = try #require(f32.floor, "the f32 run did not mark its floor (final loss \(f32.loss))")
        #expect(floor == f32.loss)
        #expect(f64.floor == nil && f64.loss < 1e-6 * floor, "f64: floor \(String(describing: f64.floor)), loss \(f64.loss) against f32's \(floor)")
    }
}
