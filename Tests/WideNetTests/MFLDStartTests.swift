import Foundation
import Testing
@testable import WideNet

/// mfld from given particles: one noiseless step through the binary against numpy written from
/// the update θ ← θ − η(g(θ) + 2λ'θ) (ARCHITECTURE.md §1.2); an unstable step size refused before
/// anything runs; a run whose particles blow up stopped as diverged.
@Suite(.serialized)
struct MFLDStartTests {
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func givenParticlesTakeTheStepNumpyTakes() throws {
        var rng = TestRNG()
        let (total, d, particles) = (25, 3, 37)
        let dir = try CLITests.scratch()
        try NPY.write(rng.normals(total * d) as [Double], shape: [total, d], to: dir.appendingPathComponent("x.npy"))
        try NPY.write(rng.normals(total) as [Double], shape: [total], to: dir.appendingPathComponent("y.npy"))
        try NPY.write(rng.normals(particles * (d + 2)) as [Double], shape: [particles, d + 2], to: dir.appendingPathComponent("p0.npy"))
        let out = dir.appendingPathComponent("run")
        let (lr, decay) = (0.3, 0.01)
        let r = try CLITests.run(["mfld", "--task", "file", "--x", dir.appendingPathComponent("x.npy").path,
                                  "--y", dir.appendingPathComponent("y.npy").path, "--init-particles", dir.appendingPathComponent("p0.npy").path,
                                  "--steps", "1", "--lr", "\(lr)", "--lambda-ent", "0", "--lambda-l2", "\(decay)", "--loss", "squared",
                                  "--precision", "f64", "--backend", "cpu", "--save-particles", "--entropy-sample", "0", "--quiet",
                                  "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let script = """
            import numpy as np, sys
            d = sys.argv[1]; lr, decay = \(lr), \(decay)
            x = np.load(d + "/x.npy"); y = np.load(d + "/y.npy"); p = np.load(d + "/p0.npy")
            n = len(y) - max(1, min(len(y) - 1, round(len(y) * 0.2)))      # the last 20 % are held out
            x, y = x[:n], y[:n]
            w, b, a = p[:, :-2], p[:, -2], p[:, -1]
            t = np.tanh(x @ w.T + b)                  # n × N
            f = t @ a / len(a)
            c = (f - y) / n                           # ℓ'(f, y) = f − y, averaged over the batch
            gw = ((c[:, None] * (1 - t**2)) * a).T @ x
            gb = ((c[:, None] * (1 - t**2)) * a).sum(0)
            ga = (c[:, None] * t).sum(0)
            g = np.concatenate([gw, gb[:, None], ga[:, None]], axis=1)
            np.save(d + "/p1.npy", p - lr * (g + 2 * decay * p))
            """
        let py = try NPYTests.python(["-c", script, dir.path])
        try #require(py.status == 0, "\(py.output)")
        let want = try NPY.read(dir.appendingPathComponent("p1.npy")), got = try NPY.read(out.appendingPathComponent("particles.npy"))
        #expect(got.shape == want.shape)
        let worst = zip(want.values, got.values).map { abs($0 - $1) / max(abs($0), 1) }.max() ?? .infinity
        #expect(worst <= 1e-12, "seed \(rng.seed): largest difference \(worst)")
        // The given particles were recorded as given, not drawn: --init-scale does not apply beside them.
        let both = try CLITests.run(["mfld", "--init-particles", dir.appendingPathComponent("p0.npy").path, "--init-scale", "2",
                                     "--quiet", "--out", dir.appendingPathComponent("both").path])
        #expect(both.status == FailureClass.usage.exitCode && both.stderr.contains("--init-scale"), "\(both.stderr)")
        let wrong = try CLITests.run(["mfld", "--init-particles", dir.appendingPathComponent("p0.npy").path, "--d", "5",
                                      "--quiet", "--out", dir.appendingPathComponent("wrong").path])
        #expect(wrong.status == FailureClass.badInput.exitCode && wrong.stderr.contains("p0.npy"), "\(wrong.stderr)")
    }

    /// ηλ' ≥ 1: the weight decay alone does not contract the particles; refused before anything is written.
    @Test func unstableStepIsRefusedUpFront() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["mfld", "--no-data", "--lr", "5", "--lambda-l2", "0.5", "--quiet", "--out", out.path])
        #expect(r.status == FailureClass.badInput.exitCode && r.stderr.contains("ηλ'"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    /// A step below the weight-decay limit that still blows the particles up is stopped as diverged:
    /// in f32 the loss overflows; in f64 it stays finite for many steps, and the second moment's
    /// growth past 10¹² times the chain's own scale stops the run within a few.
    @Test(arguments: ["f32", "f64"])
    func particlesThatBlowUpStopTheRun(precision: String) throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["mfld", "--task", "teacher", "--n", "40", "--d", "3", "--particles", "64", "--lr", "400",
                                  "--lambda-l2", "0", "--steps", "200", "--log-every", "1", "--precision", precision,
                                  "--backend", "cpu", "--quiet", "--out", out.path])
        #expect(r.status == FailureClass.badInput.exitCode && r.stderr.contains("diverged at step"), "\(r.stderr)")
        let rows = try TrainTests.metrics(out)
        #expect(rows.count < 10 && TrainTests.column(rows, "loss").allSatisfy(\.isFinite), "\(precision): \(rows.count) rows kept")
    }

    /// numpy: E‖θ_k‖² = D·v_k of the chain θ ← ρθ + √(2λη)ξ from the origin, v ← ρ²v + 2λη
    /// (argv: η λ λ' steps D); prints D·v_1, …, D·v_steps.
    static let originSecondMoments = """
        import numpy as np, sys
        lr, lam, decay = map(float, sys.argv[1:4]); steps, D = int(sys.argv[4]), int(sys.argv[5])
        rho, v, out = 1 - 2 * lr * decay, 0.0, []
        for _ in range(steps):
            v = rho**2 * v + 2 * lam * lr; out.append(D * v)
        print(",".join(repr(x) for x in out))
        """

    /// A stable chain (ρ = 1 − 2ηλ' = 0.9) started at the origin is not diverged (the reviewer's
    /// case: exit 65, "diverged at step 1", because the limit was 10¹² times a start of 0): the run
    /// finishes and its second moments are numpy's D·v_k to the sampling error; the divergence
    /// scale at each step is the start's plus that level. With data (teacher, d = 10) from the origin too.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func stableChainFromTheOriginIsNotDiverged() throws {
        let dir = try CLITests.scratch()
        let (N, D, steps, lr, lam, decay) = (2000, 4, 3, 0.5, 0.5, 0.1)
        let zeros = dir.appendingPathComponent("Z.npy")
        try NPY.write([Double](repeating: 0, count: N * D), shape: [N, D], to: zeros)
        let out = dir.appendingPathComponent("run")
        let r = try CLITests.run(["mfld", "--no-data", "--d", "\(D - 2)", "--particles", "\(N)", "--init-particles", zeros.path,
                                  "--steps", "\(steps)", "--lr", "\(lr)", "--lambda-ent", "\(lam)", "--lambda-l2", "\(decay)",
                                  "--log-every", "1", "--precision", "f64", "--backend", "cpu", "--entropy-sample", "0", "--quiet",
                                  "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let py = try NPYTests.python(["-c", Self.originSecondMoments, "\(lr)", "\(lam)", "\(decay)", "\(steps)", "\(D)"])
        try #require(py.status == 0, "\(py.output)")
        let want = py.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap { Double($0) }
        try #require(want.count == steps, "\(py.output)")
        let got = TrainTests.column(try TrainTests.metrics(out), "second_moment")
        try #require(got.count == steps + 1)
        #expect(got[0] == 0)
        var c = MFLDConfig()
        c.learningRate = lr; c.lambdaEntropy = lam; c.lambdaL2 = decay
        for k in 1...steps {
            // The mean of N values of ‖θ‖² (D coordinates of variance v) has sd v·√(2D/N).
            let sd = want[k - 1] / Double(D) * (2 * Double(D) / Double(N)).squareRoot()
            #expect(abs(got[k] - want[k - 1]) < 6 * sd, "step \(k): E‖θ‖² \(got[k]), numpy \(want[k - 1])")
            let scale = c.noiseSecondMoment(step: k, coordinates: D)
            #expect(abs(scale - want[k - 1]) <= 1e-12 * want[k - 1], "step \(k): noise second moment \(scale), numpy \(want[k - 1])")
            let limit = max(want[k - 1], Double(D)), bound = c.divergenceScale(start: 0, step: k, coordinates: D)
            #expect(abs(bound - limit) <= 1e-12 * limit, "step \(k): divergence scale \(bound), want \(limit)")
        }
        // The stationary level bounds it: λ/(2λ'(1 − ηλ')) per coordinate.
        #expect(c.noiseSecondMoment(step: 100_000, coordinates: D) <= Double(D) * c.stationaryVariance * (1 + 1e-12))

        // With the data term, from the origin (12 = d + 2 coordinates).
        let zeros12 = dir.appendingPathComponent("Z12.npy")
        try NPY.write([Double](repeating: 0, count: 256 * 12), shape: [256, 12], to: zeros12)
        let withData = try CLITests.run(["mfld", "--task", "teacher", "--d", "10", "--n", "100", "--particles", "256",
                                         "--init-particles", zeros12.path, "--lambda-ent", "0.2", "--steps", "3", "--log-every", "1",
                                         "--backend", "cpu", "--entropy-sample", "0", "--quiet", "--out", dir.appendingPathComponent("data").path])
        try #require(withData.status == 0, "\(withData.stderr)")
        let m2 = TrainTests.column(try TrainTests.metrics(dir.appendingPathComponent("data")), "second_moment")
        #expect(m2.count == 4 && m2[0] == 0 && m2[1...].allSatisfy { $0 > 0 && $0.isFinite }, "\(m2)")
    }

    /// A step that leaves the f32 range makes the loss NaN: the message says nan, not the platform's -nan.
    @Test func nanLossIsPrintedAsNan() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["mfld", "--task", "teacher", "--n", "40", "--d", "3", "--particles", "64", "--lr", "1e300",
                                  "--lambda-l2", "0", "--steps", "5", "--log-every", "1", "--precision", "f32", "--backend", "cpu",
                                  "--quiet", "--out", out.path])
        #expect(r.status == FailureClass.badInput.exitCode && r.stderr.contains("(loss nan)") && !r.stderr.contains("-nan"), "\(r.stderr)")
    }
}
