import Foundation
import Testing
@testable import WideNet

/// The fine-grained analysis in train runs (Arora, Du, Hu, Li, Wang, ICML 2019) against numpy
/// written from the paper (Tests/References/fine_grained.py), and the label options it studies.
@Suite struct FineGrainedTests {
    static func reference(_ run: URL) throws -> [String: Any] {
        let out = run.appendingPathComponent("reference.json")
        let script = PrechangeFixtureTests.repository.appendingPathComponent("Tests/References/fine_grained.py").path
        let py = try NPYTests.python([script, run.path, out.path])
        try #require(py.status == 0, "\(py.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
    }

    static func train(_ args: [String], in out: URL) throws -> JSONObject {
        let r = try CLITests.run(["train", "--backend", "cpu", "--quiet", "--save-init", "--out", out.path] + args)
        try #require(r.status == 0, "\(r.stderr)")
        return try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
    }

    /// spectrum.npy (λ_i, (v_iᵀ(y − u(0)))², (v_iᵀy)²) and the complexity, on sphere data whose
    /// labels were partly replaced, against numpy's eigh and solve.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func spectrumAndComplexityMatchNumpy() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let summary = try Self.train(["--n", "40", "--d", "6", "--width", "3000", "--steps", "3", "--seed", "11", "--label-noise", "0.3",
                                      "--precision", "f64"], in: out)
        let ref = try Self.reference(out)
        let spectrum = try NPY.read(out.appendingPathComponent("spectrum.npy"))
        try #require(spectrum.shape == [40, 3])
        let columns = ["eigenvalues", "proj_residual", "proj_labels"]
        for (c, key) in columns.enumerated() {
            let want = try #require(ref[key] as? [Double])
            let scale = want.map(abs).max() ?? 1
            let worst = (0..<40).map { abs(spectrum.values[3 * $0 + c] - want[$0]) }.max() ?? .nan
            // Eigenvalues to rounding; a single eigenvector's projection moves with the rounding of H
            // over its eigenvalue's gap to the next.
            #expect(worst <= (c == 0 ? 1e-9 : 1e-6) * scale, "\(key): off by \(worst) of \(scale)")
        }
        let complexity = try #require(summary["complexity"]?.doubleValue), want = try #require(ref["complexity"] as? Double)
        #expect(abs(complexity - want) <= 1e-7 * want, "complexity \(complexity) against numpy's \(want)")
    }

    /// At m = 2^18 the measured loss follows the predicted ½Σ(1 − ηλ_i)^{2k}(v_iᵀ(y − u(0)))² within
    /// a few percent at every logged step until it has fallen a hundredfold. Further on the net's
    /// own kernel, O(1/√m) from H∞, shows: the smallest modes decay a little more slowly.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func predictedLossTracksTheMeasuredOne() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        _ = try Self.train(["--n", "16", "--d", "5", "--width", "262144", "--steps", "40", "--log-every", "4", "--seed", "2"], in: out)
        let predicted = try #require(try Self.reference(out)["predicted_loss"] as? [String: Double])
        let rows = try RunDirectory.metricsRows(in: out)
        let first = try #require(rows.first?["loss"]?.doubleValue)
        var compared = 0
        for row in rows {
            guard let k = row["step"]?.doubleValue, let loss = row["loss"]?.doubleValue, loss > 1e-2 * first,
                  let want = predicted[String(Int(k))] else { continue }
            #expect(abs(loss - want) <= 0.03 * want, "step \(Int(k)): loss \(loss), predicted \(want)")
            compared += 1
        }
        #expect(compared >= 8, "only \(compared) steps compared")
    }

    /// Random labels have the larger complexity and train slower than the teacher's true labels
    /// (Arora et al.'s figure, on synthetic data here).
    @Test func randomLabelsTrainSlowerAndHaveTheLargerComplexity() throws {
        let dir = try CLITests.scratch()
        let common = ["--dataset", "teacher", "--n", "48", "--d", "8", "--width", "16384", "--steps", "60", "--seed", "5"]
        let truth = try Self.train(common, in: dir.appendingPathComponent("true"))
        let random = try Self.train(common + ["--random-labels"], in: dir.appendingPathComponent("random"))
        let (ct, cr) = (try #require(truth["complexity"]?.doubleValue), try #require(random["complexity"]?.doubleValue))
        #expect(cr > 1.5 * ct, "complexity: true \(ct), random \(cr)")
        let fraction = { (s: JSONObject) in (s["final_loss"]?.doubleValue ?? .nan) / (s["initial_loss"]?.doubleValue ?? .nan) }
        #expect(fraction(random) > 3 * fraction(truth), "loss left: true \(fraction(truth)), random \(fraction(random))")
    }

    /// Labels of a classification are replaced by classes drawn uniformly; real targets by other
    /// samples' labels; p = 0 changes nothing, and contradictions are refused.
    @Test func labelNoiseReplacesLabelsByRandomOnes() throws {
        let signs = (0..<400).map { $0 % 3 == 0 ? 1.0 : -1.0 }
        let all = LabelNoise.corrupt(signs, probability: 1, seed: 3)
        #expect(all.drawn == 400 && all.classes == [-1, 1])
        #expect(Set(all.labels).isSubset(of: [-1, 1]))
        let ones = all.labels.filter { $0 == 1 }.count
        #expect(abs(ones - 200) < 40, "\(ones) of 400 drawn +1")   // binomial(400, ½): sd 10
        let quarter = LabelNoise.corrupt(signs, probability: 0.25, seed: 3)
        #expect(abs(quarter.drawn - 100) < 30, "\(quarter.drawn) of 400 drawn at p = 0.25")
        #expect(LabelNoise.corrupt(signs, probability: 0.25, seed: 3).labels == quarter.labels, "the same seed, the same labels")
        #expect(LabelNoise.corrupt(signs, probability: 0, seed: 3).labels == signs)
        let real = (0..<100).map { Double($0) / 7 }
        let shuffled = LabelNoise.corrupt(real, probability: 1, seed: 4)
        #expect(shuffled.classes == nil && Set(shuffled.labels).isSubset(of: Set(real)) && shuffled.changed > 90)

        let dir = try CLITests.scratch()
        // A contradiction is a usage error (64), a value out of range bad input (65).
        for (args, message, code) in [(["--random-labels", "--label-noise", "0.5"], "contradicts --label-noise 0.5", Int32(64)),
                                      (["--label-noise", "1.5"], "--label-noise must be a probability in [0, 1]", 65)] {
            let r = try CLITests.run(["train", "--n", "8", "--d", "3", "--width", "64", "--steps", "1", "--quiet",
                                      "--out", dir.appendingPathComponent("r").path] + args)
            #expect(r.status == code, "\(args)")
            #expect(r.stderr.contains(message), "\(r.stderr)")
        }
    }
}
