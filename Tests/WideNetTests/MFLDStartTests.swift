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

    /// A step below the weight-decay limit that still blows the particles up is stopped as diverged.
    @Test func particlesThatBlowUpStopTheRun() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["mfld", "--task", "teacher", "--n", "40", "--d", "3", "--particles", "64", "--lr", "400",
                                  "--lambda-l2", "0", "--steps", "200", "--log-every", "1", "--backend", "cpu", "--quiet",
                                  "--out", out.path])
        #expect(r.status == FailureClass.badInput.exitCode && r.stderr.contains("diverged at step"), "\(r.stderr)")
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
