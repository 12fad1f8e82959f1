import Foundation
import Testing
@testable import WideNet

/// Lazy against rich (`--scaling ntk|mean-field`, `--init-exponent γ`): gradient descent under the
/// mean-field scaling against numpy written from its definition, the initial variance m^(−γ), and
/// the movement slopes across widths: −½ under the NTK scaling, ≈ 0 under the mean-field one.
@Suite struct ScalingTests {
    /// f = (1/m) Σ a_r relu(w_rᵀx), W ← W − η·m ∇_W L, from the run's own w0, a0, x, y and η.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func meanFieldStepsAreNumpysGradientDescent() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["train", "--n", "7", "--d", "3", "--width", "50", "--steps", "12", "--log-every", "1", "--seed", "4",
                                  "--scaling", "mean-field", "--precision", "f64", "--backend", "cpu", "--save-init", "--quiet", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let script = """
        import json, sys, numpy as np
        d = sys.argv[1]
        x, y = np.load(f"{d}/x.npy"), np.load(f"{d}/y.npy")
        w, a = np.load(f"{d}/w0.npy"), np.load(f"{d}/a0.npy")
        m = w.shape[0]
        lr = json.load(open(f"{d}/config.json"))["resolved"]["lr"]
        losses = []
        for k in range(13):
            z = x @ w.T
            e = np.maximum(z, 0) @ a / m - y
            losses.append(0.5 * e @ e)
            grad = ((z >= 0) * e[:, None] * a[None, :]).T @ x / m
            w = w - lr * m * grad
        print(json.dumps(losses))
        """
        let py = try NPYTests.python(["-c", script, out.path])
        try #require(py.status == 0, "\(py.output)")
        let want = try #require(try JSONSerialization.jsonObject(with: Data(py.output.utf8)) as? [Double])
        let got = try RunDirectory.metricsRows(in: out).compactMap { $0["loss"]?.doubleValue }
        try #require(got.count == want.count)
        for (k, (g, w)) in zip(got, want).enumerated() { #expect(abs(g - w) <= 1e-10 * max(w, 1e-3), "step \(k): \(g) against \(w)") }
        let row = try #require(try RunDirectory.metricsRows(in: out).last)
        #expect(row["bound"] == nil && row["kernel_loss"] == nil, "the NTK's bound and prediction are not logged under the mean-field scaling")
    }

    /// w ~ N(0, κ² m^(−γ)): the same Philox normals, scaled by m^(−γ/2).
    @Test func initialVarianceFallsAsMToTheMinusGamma() throws {
        let dir = try CLITests.scratch()
        var w0: [[Double]] = []
        for gamma in ["0", "1.5"] {
            let out = dir.appendingPathComponent("g\(gamma)")
            let r = try CLITests.run(["train", "--n", "5", "--d", "3", "--width", "400", "--steps", "1", "--init-exponent", gamma, "--kappa", "2",
                                      "--precision", "f64", "--backend", "cpu", "--save-init", "--quiet", "--out", out.path])
            try #require(r.status == 0, "\(r.stderr)")
            w0.append(try NPY.read(out.appendingPathComponent("w0.npy")).values)
        }
        let scale = Foundation.pow(400.0, -0.75)
        #expect(zip(w0[0], w0[1]).allSatisfy { abs($0 * scale - $1) <= 1e-15 * abs($0) + 1e-300 })
    }

    /// Across m = 1024…16384, both scalings trained to the same loss (--target-loss): max_r ‖w_r(k) −
    /// w_r(0)‖ falls with slope −½ under the NTK scaling and stays flat under the mean-field one (a
    /// neuron moves at O(η)); only the mean-field nets turn toward the teacher's units.
    @Test func movementSlopesAreMinusHalfAndZero() throws {
        var summaries: [String: JSONObject] = [:], rows: [String: [JSONObject]] = [:]
        for scaling in ["ntk", "mean-field"] {
            let out = try CLITests.scratch().appendingPathComponent(scaling)
            let r = try CLITests.run(["sweep", "--widths", "1024,4096,16384", "--dataset", "teacher", "--n", "32", "--d", "16", "--steps", "400",
                                      "--target-loss", "1e-3", "--scaling", scaling, "--backend", "cpu", "--quiet", "--out", out.path])
            try #require(r.status == 0, "\(r.stderr)")
            summaries[scaling] = try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
            rows[scaling] = try RunDirectory.metricsRows(in: out)
        }
        for (scaling, members) in rows {
            for row in members {
                #expect((row["loss"]?.doubleValue ?? .infinity) <= 1e-3 && row["target_reached_at"]?.doubleValue != nil, "\(scaling): \(row)")
            }
        }
        let ntk = try #require(summaries["ntk"]?["slope_max_move"]?.doubleValue)
        let meanField = try #require(summaries["mean-field"]?["slope_max_move"]?.doubleValue)
        #expect(abs(ntk + 0.5) < 0.1, "NTK slope \(ntk)")
        #expect(abs(meanField) < 0.1, "mean-field slope \(meanField)")
        func gain(_ row: JSONObject) -> Double { (row["teacher_alignment"]?.doubleValue ?? .nan) - (row["teacher_alignment_initial"]?.doubleValue ?? .nan) }
        for row in rows["ntk"]! { #expect(abs(gain(row)) < 0.01, "NTK alignment moved: \(row)") }
        for row in rows["mean-field"]! { #expect(gain(row) > 0.05, "mean-field alignment did not grow: \(row)") }
    }

    /// The alignment Σ_r ‖P w_r‖² / Σ_r ‖w_r‖² against numpy's QR of the teacher's units (teacher_w.npy)
    /// and the run's own final weights.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func alignmentIsNumpysProjection() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["train", "--dataset", "teacher", "--n", "20", "--d", "12", "--width", "3000", "--block-width", "1024",
                                  "--steps", "30", "--scaling", "mean-field", "--precision", "f64", "--backend", "cpu", "--save-weights",
                                  "--quiet", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let script = """
        import sys, numpy as np
        d = sys.argv[1]
        q, _ = np.linalg.qr(np.load(f"{d}/teacher_w.npy").T)
        w = np.load(f"{d}/w.npy")
        print(repr(float(np.sum((w @ q) ** 2) / np.sum(w ** 2))))
        """
        let py = try NPYTests.python(["-c", script, out.path])
        try #require(py.status == 0, "\(py.output)")
        let want = try #require(Double(py.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let got = try #require(try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)["teacher_alignment"]?.doubleValue)
        #expect(abs(got - want) <= 1e-12, "alignment \(got) against numpy's \(want)")
    }
}
