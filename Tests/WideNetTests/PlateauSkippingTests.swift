import Foundation
import Testing
@testable import WideNet
@testable import WideNetReports

/// Plateau skipping (ARCHITECTURE.md §1.3): the Krylov space on its own; the jump's path against τ
/// steps of GD linearised by numpy (its own gradient, the Hessian by finite differences, the steps
/// iterated one by one); and the science: on problems not seen by the grid benchmark, the same
/// staircase as GD, the same last minimum (numpy's Eckart–Young) and at least 5× fewer GD steps.
@Suite(.serialized)
struct PlateauSkippingTests {
    init() { RunReports.install() }

    /// f(A)b on the Krylov space: exact for polynomials of degree below its dimension, and for any f
    /// once Lanczos stops on an invariant space (A with three distinct eigenvalues on b).
    @Test func krylovSpaceAppliesFunctionsOfTheOperator() throws {
        var rng = TestRNG()
        let p = 23
        var a = [Double](repeating: 0, count: p * p)
        let raw: [Double] = rng.normals(p * p)
        for i in 0..<p { for j in 0..<p { a[i * p + j] = raw[i * p + j] + raw[j * p + i] } }
        func times(_ m: [Double], _ v: [Double]) -> [Double] { (0..<p).map { i in (0..<p).reduce(0) { $0 + m[i * p + $1] * v[$1] } } }
        let b: [Double] = rng.normals(p)
        let space = try KrylovSpace.of(start: b, maxDimension: 6) { times(a, $0) }
        #expect(space.dimension == 6 && !space.invariant)
        let want = times(a, times(a, times(a, b))), got = space.apply { $0 * $0 * $0 }
        let scale = want.map(abs).max() ?? 1
        #expect(zip(want, got).allSatisfy { abs($0 - $1) <= 1e-10 * scale }, "seed \(rng.seed): A³b")

        // Q diag(λ) Qᵀ with λ ∈ {−2, 0.5, 3}: the space of b has dimension 3 and exp(A)b is exact.
        var q: [[Double]] = []      // an orthonormal basis of R^p: Gram–Schmidt of Gaussians
        while q.count < p {
            var u: [Double] = rng.normals(p)
            for _ in 0..<2 { for w in q { let c = zip(w, u).reduce(0) { $0 + $1.0 * $1.1 }; u = zip(u, w).map { $0 - c * $1 } } }
            let norm = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
            q.append(u.map { $0 / norm })
        }
        let lambdas = (0..<p).map { [-2.0, 0.5, 3.0][$0 % 3] }
        func spectral(_ f: (Double) -> Double, _ v: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: p)
            for (j, column) in q.enumerated() {
                let c = f(lambdas[j]) * zip(column, v).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<p { out[i] += c * column[i] }
            }
            return out
        }
        let three = try KrylovSpace.of(start: b, maxDimension: 20) { spectral({ $0 }, $0) }
        #expect(three.invariant && three.dimension == 3, "dimension \(three.dimension)")
        let e = spectral(Foundation.exp, b), ge = three.apply(Foundation.exp)
        let top = e.map(abs).max() ?? 1
        #expect(zip(e, ge).allSatisfy { abs($0 - $1) <= 1e-11 * top }, "seed \(rng.seed): exp(A)b")
    }

    /// H·v and the jump's path e(τ) against numpy: the gradient written out, H by central differences
    /// of it, e(τ) by τ steps of e ← e − η(g + H e). Linear and tanh nets at a generic point.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"), arguments: [Activation.linear, .tanh])
    func linearisedPathIsGDLinearisedByNumpy(_ activation: Activation) throws {
        var rng = TestRNG()
        let (n, d, k, m) = (29, 4, 3, 5)
        let x: [Double] = rng.normals(n * d), y: [Double] = rng.normals(n * k)
        let w1: [Double] = rng.normals(m * d, scale: 0.4), w2: [Double] = rng.normals(k * m, scale: 0.4)
        let net = TwoLayerNet(x: x, y: y, n: n, d: d, k: k, w1: w1, w2: w2, m: m, activation: activation)
        try net.forward()
        let lr = 0.05
        let g = try net.gradient()
        let v: [Double] = rng.normals(net.parameterCount)
        let hv = try net.hessian().apply(v)
        let map = try net.linearisedGD(learningRate: lr, gradient: g)
        let taus = [1.0, 7.0, 40.0]
        let dir = try CLITests.scratch()
        for (name, values, shape) in [("x", x, [n, d]), ("y", y, [n, k]), ("w1", w1, [m, d]), ("w2", w2, [k, m]), ("v", v, [v.count])] {
            try NPY.write(values, shape: shape, to: dir.appendingPathComponent("\(name).npy"))
        }
        let script = """
            import numpy as np, sys
            d = sys.argv[1]; lr = \(lr); act = "\(activation.rawValue)"
            x, y, w1, w2, v = (np.load(f"{d}/{s}.npy") for s in ("x", "y", "w1", "w2", "v"))
            m, dim = w1.shape
            sig = (lambda z: z) if act == "linear" else np.tanh
            dsig = (lambda z: np.ones_like(z)) if act == "linear" else (lambda z: 1 - np.tanh(z) ** 2)
            def grad(theta):
                a, b = theta[:m * dim].reshape(m, dim), theta[m * dim:].reshape(-1, m)
                z = x @ a.T
                e = (sig(z) @ b.T - y) / len(x)
                return np.concatenate([(((e @ b) * dsig(z)).T @ x).ravel(), (e.T @ sig(z)).ravel()])
            theta = np.concatenate([w1.ravel(), w2.ravel()])
            p, h = len(theta), 1e-5
            hess = np.zeros((p, p))
            for j in range(p):
                step = np.zeros(p); step[j] = h
                hess[:, j] = (grad(theta + step) - grad(theta - step)) / (2 * h)
            hess = (hess + hess.T) / 2
            np.save(f"{d}/hv.npy", hess @ v)
            g, e, paths = grad(theta), np.zeros(p), []
            for t in range(1, \(Int(taus.last!)) + 1):
                e = e - lr * (g + hess @ e)
                if t in (\(taus.map { String(Int($0)) }.joined(separator: ", "))):
                    paths.append(e.copy())
            np.save(f"{d}/paths.npy", np.array(paths))
            """
        let py = try NPYTests.python(["-c", script, dir.path])
        try #require(py.status == 0, "\(py.output)")
        let wantHv = try NPY.read(dir.appendingPathComponent("hv.npy")).values
        let hvScale = wantHv.map(abs).max() ?? 1
        let hvError = zip(wantHv, hv).map { abs($0 - $1) }.max() ?? .infinity
        #expect(hvError <= 1e-7 * hvScale, "\(activation), seed \(rng.seed): H·v off by \(hvError) of \(hvScale)")
        let paths = try NPY.read(dir.appendingPathComponent("paths.npy"))
        for (i, tau) in taus.enumerated() {
            let want = Array(paths.values[(i * net.parameterCount)..<((i + 1) * net.parameterCount)])
            let got = map.displacement(after: tau)
            let scale = want.map(abs).max() ?? 1
            let error = zip(want, got).map { abs($0 - $1) }.max() ?? .infinity
            #expect(error <= 1e-6 * scale, "\(activation), seed \(rng.seed), τ = \(tau): e(τ) off by \(error) of \(scale)")
        }
    }

    /// ½‖X B_r − Y‖²/n for the best rank-r map, by numpy from the run's whitened x.npy and y.npy.
    static func eckartYoung(_ run: URL, rank: Int) throws -> Double {
        let script = """
            import numpy as np, sys
            x, y = np.load(sys.argv[1] + "/x.npy"), np.load(sys.argv[1] + "/y.npy"); r = int(sys.argv[2])
            u, s, vt = np.linalg.svd(np.linalg.lstsq(x, y, rcond=None)[0], full_matrices=False)
            print(repr(float(0.5 * np.sum((x @ ((u[:, :r] * s[:r]) @ vt[:r]) - y) ** 2) / len(x))))
            """
        let py = try NPYTests.python(["-c", script, run.path, "\(rank)"])
        guard py.status == 0, let value = Double(py.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw WideNetIOError("numpy's Eckart–Young failed: \(py.output)")
        }
        return value
    }

    /// Noisy teachers (the last minimum has a positive loss) from σ0 = 1e-8 at two step sizes: both runs
    /// climb 0, 1, …, r, end at numpy's Eckart–Young loss, and skipping takes ≥ 5× fewer GD steps.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"), arguments: [0.04, 0.008])
    func skippingClimbsGDsStaircaseToTheSameMinimum(_ lr: Double) throws {
        let values = [7.0, 4.0, 2.2, 1.2]
        func run(skip: Bool) throws -> (summary: JSONObject, dir: URL) {
            let c = SaddleTests.config { c in
                c.n = 240; c.d = 7; c.k = 5; c.hidden = 6; c.teacherRank = values.count; c.singularValues = values
                c.labelNoise = 0.03; c.initScale = 1e-8; c.learningRate = lr; c.logEvery = 2; c.seed = 77
                c.steps = Int(3 * Foundation.log(1e8) / Foundation.log1p(lr * values.last!) + 20 / (lr * values.last!))
                c.skipPlateaus = skip
                c.targetLoss = 1e-3 * 0.5 * values.reduce(0) { $0 + $1 * $1 }    // 1e-3 of the initial loss
            }
            return (try SaddleExperiment.run(c).summary, URL(fileURLWithPath: c.out!))
        }
        let plain = try run(skip: false), skipped = try run(skip: true)
        let staircase = Array(0...values.count)
        #expect(plain.summary["ranks_visited"]?.numbers.map { Int($0) } == staircase, "GD: \(plain.summary.render())")
        #expect(skipped.summary["ranks_visited"]?.numbers.map { Int($0) } == staircase, "skipping: \(skipped.summary.render())")
        let initial = try #require(plain.summary["initial_loss"]?.numeric)
        let floor = try Self.eckartYoung(plain.dir, rank: values.count)
        for s in [plain.summary, skipped.summary] {
            let final = try #require(s["final_loss"]?.numeric)
            #expect(abs(final - floor) <= 1e-9 * initial, "final loss \(final) against Eckart–Young \(floor)")
        }
        let a = try #require(plain.summary["steps_to_target"]?.numeric), b = try #require(skipped.summary["steps_to_target"]?.numeric)
        #expect(b * 5 <= a, "steps to the target: \(a) GD, \(b) skipping")
    }

    /// Skipping sums plain GD's linearised map: with momentum or Adam it is refused, not run wrongly;
    /// label noise belongs to the synthetic teacher.
    @Test func conflictingOptionsAreRefused() throws {
        let dir = try CLITests.scratch()
        let adam = try CLITests.run(["saddle", "--skip-plateaus", "--optimizer", "adam", "--quiet", "--out", dir.appendingPathComponent("a").path])
        #expect(adam.status == FailureClass.usage.exitCode && adam.stderr.contains("--optimizer adam"), "\(adam.stderr)")
        try NPY.write([Double](repeating: 1, count: 8), shape: [4, 2], to: dir.appendingPathComponent("x.npy"))
        let files = try CLITests.run(["saddle", "--x", dir.appendingPathComponent("x.npy").path, "--y", dir.appendingPathComponent("x.npy").path,
                                      "--label-noise", "0.1", "--quiet", "--out", dir.appendingPathComponent("b").path])
        #expect(files.status == FailureClass.usage.exitCode && files.stderr.contains("--label-noise"), "\(files.stderr)")
        let negative = try CLITests.run(["saddle", "--label-noise", "-1", "--quiet", "--out", dir.appendingPathComponent("c").path])
        #expect(negative.status == FailureClass.badInput.exitCode && negative.stderr.contains("--label-noise"), "\(negative.stderr)")
        for name in ["a", "b", "c"] { #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path)) }
    }
}
