import Foundation
import Testing
@testable import WideNet

/// `resnet --experiment boost`: every step's losses and boosting's steps against numpy's replay
/// (Tests/References/resnet_boost.py: least squares, line search and read-out by numpy's solve; the
/// layer-by-layer GD by finite differences), a killed run resumed to the same files, and its options.
@Suite struct ResNetBoostTests {
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func boostingAndLayerwiseMatchNumpysReplay() throws {
        let dir = try CLITests.scratch(), run = dir.appendingPathComponent("run")
        let r = try CLITests.run(["resnet", "--experiment", "boost", "--task", "teacher", "--input-dim", "2", "--steps", "5", "--n", "21",
                                  "--test-size", "7", "--dim", "3", "--width", "5", "--boost-steps", "4", "--lr", "0.3", "--seed", "6",
                                  "--quiet", "--out", run.path])
        try #require(r.status == 0, "\(r.stderr)")
        let out = dir.appendingPathComponent("reference.json")
        let py = try NPYTests.python([PrechangeFixtureTests.repository.appendingPathComponent("Tests/References/resnet_boost.py").path,
                                      run.path, out.path])
        try #require(py.status == 0, "\(py.output)")
        let ref = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        let rows = try RunFiles.rows(in: run.appendingPathComponent("metrics.jsonl"), shown: run.path)
        for (key, tol) in [("loss", 1e-10), ("layerwise_loss", 1e-8)] {
            let want = try #require(ref[key] as? [Double])
            try #require(want.count == rows.count)
            for (k, row) in rows.enumerated() {
                let got = try #require(row[key]?.numeric)
                #expect(abs(got - want[k]) <= tol * want[k], "\(key) after \(k) blocks: \(got), numpy \(want[k])")
            }
        }
        let etas = try #require(ref["eta"] as? [Double])
        for k in 1..<rows.count {
            let got = try #require(rows[k]["eta"]?.numeric)
            #expect(abs(got - etas[k - 1]) <= 1e-9 * abs(etas[k - 1]), "η_\(k): \(got), numpy \(etas[k - 1])")
        }
        // Each rate α = −slope of log loss on log k over the 5 logged k ≥ 1, with the 95 % interval
        // −(slope ∓ t₀.₉₇₅,₃ s.e.) of scipy's linregress and Student's t (±3.18 s.e., not ±2).
        guard AveragedSGDTests.hasScipy else { return }
        let s = try RunFiles.object(in: run.appendingPathComponent("summary.json"), shown: run.path)
        let k = rows.dropFirst().map { $0["step"]?.numeric ?? .nan }
        let cases = try ["loss", "layerwise_loss"].map { key in (k, try rows.dropFirst().map { try #require($0[key]?.numeric) }) }
        let want = try ConvergenceOrderTests.scipy(cases)
        for (key, ref) in zip(["boost_rate", "layerwise_rate"], want) {
            guard case .object(let o)? = s[key] else { Issue.record("no \(key)"); continue }
            #expect(o["identified"] == .bool(true) && o["reason"] == .null && o["points"]?.numeric == 5, "\(o.render())")
            let i = o["interval"]?.numbers ?? []
            try #require(i.count == 2)
            for (got, (expected, name)) in zip([o["rate"]?.numeric, o["standard_error"]?.numeric, i[0], i[1], o["value"]?.numeric,
                                                o["low"]?.numeric, o["high"]?.numeric],
                                               zip([-ref[0], ref[1], -ref[3], -ref[2], -ref[0], -ref[3], -ref[2]],
                                                   ["rate", "standard error", "low", "high", "value", "low", "high"])) {
                ConvergenceOrderTests.close(got, expected, "\(key) \(name)")
            }
        }
    }

    /// Killed after a checkpoint and resumed: the same metrics and blocks as a run never stopped;
    /// boosting lowers the training loss at every block and fits a positive rate.
    @Test func resumedBoostEqualsAnUninterruptedOne() throws {
        let dir = try CLITests.scratch()
        let plain = dir.appendingPathComponent("plain"), killed = dir.appendingPathComponent("killed")
        let args = ["--experiment", "boost", "--task", "circles", "--steps", "40", "--n", "64", "--test-size", "16", "--width", "16",
                    "--boost-steps", "60", "--checkpoint-every", "2", "--quiet"]
        let a = try CLITests.run(["resnet", "--out", plain.path] + args)
        try #require(a.status == 0, "\(a.stderr)")
        try ResumeCLITests.killAndResume(["resnet", "--out", killed.path] + args, in: killed, afterCheckpoint: 6)
        try ResumeCLITests.expectSame(["metrics.jsonl", "boost_blocks.npy", "layerwise_blocks.npy", "boost_steps.npy"], plain, killed)
        let rows = try RunFiles.rows(in: plain.appendingPathComponent("metrics.jsonl"), shown: "plain")
        let losses = rows.compactMap { $0["loss"]?.numeric }
        #expect(zip(losses, losses.dropFirst()).allSatisfy { $1 <= $0 * (1 + 1e-12) }, "boosting raised the training loss: \(losses)")
        let s = try RunFiles.object(in: plain.appendingPathComponent("summary.json"), shown: "plain")
        guard case .object(let rate)? = s["boost_rate"] else { Issue.record("no boost_rate"); return }
        #expect((rate["rate"]?.numeric ?? 0) > 0)
    }

    @Test func optionsOfOtherExperimentsAreRefused() throws {
        let cli = CLITests()
        try cli.expectCleanFailure(["resnet", "--experiment", "boost", "--depth", "8"], mentions: "--depth", "boost")
        try cli.expectCleanFailure(["resnet", "--experiment", "boost", "--backend", "opencl"], mentions: "--backend opencl", "boost", "host")
        try cli.expectCleanFailure(["resnet", "--experiment", "boost", "--precision", "f64"], mentions: "--precision", "boost")
        try cli.expectCleanFailure(["resnet", "--experiment", "train", "--boost-steps", "3"], mentions: "--boost-steps", "boost")
        try cli.expectCleanFailure(["resnet", "--ridge", "1"], mentions: "--ridge", "depth-limit")
        try cli.expectCleanFailure(["resnet", "--experiment", "boost", "--ridge", "-1"], mentions: "--ridge")
    }

    /// --backend cpu is accepted (boost runs on the host); --log-every K logs every K-th block and the
    /// last, and the rates are fitted on the logged rows.
    @Test func boostHonoursBackendCPUAndLogEvery() throws {
        let run = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["resnet", "--experiment", "boost", "--backend", "cpu", "--log-every", "2", "--steps", "5", "--n", "16",
                                  "--test-size", "8", "--width", "4", "--boost-steps", "2", "--quiet", "--out", run.path])
        try #require(r.status == 0, "\(r.stderr)")
        let rows = try RunFiles.rows(in: run.appendingPathComponent("metrics.jsonl"), shown: run.path)
        #expect(rows.map { $0["step"]?.numeric ?? -1 } == [0, 2, 4, 5])
        let s = try RunFiles.object(in: run.appendingPathComponent("summary.json"), shown: run.path)
        guard case .object(let rate)? = s["boost_rate"] else { Issue.record("no boost_rate"); return }
        #expect(rate["points"]?.numeric == 3)
        // 3 logged block counts, 1 residual degree of freedom: not identified, no interval, the reason given.
        for key in ["boost_rate", "layerwise_rate"] {
            guard case .object(let o)? = s[key] else { Issue.record("no \(key)"); continue }
            #expect(o["identified"] == .bool(false) && o["interval"] == .null && o["value"] == .null && o["rate"]?.numeric != nil, "\(o.render())")
            #expect(o["reason"]?.displayText.contains("3 logged block counts for 2 parameters") == true, "\(o.render())")
        }
        let report = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("not identified") && !report.contains("± 2"))
    }

    /// Boost's m×m fits and P×m features are checked against memory before anything is written.
    @Test func boostBeyondMemoryIsRefused() throws {
        try ResNetTrainTests.expectResourceRefusal(["resnet", "--experiment", "boost", "--width", "100000", "--n", "64", "--steps", "2"],
                                                   mentions: ["the largest --width that fits is about"])
        try ResNetTrainTests.expectResourceRefusal(["resnet", "--experiment", "boost", "--steps", "1000000000"],
                                                   mentions: ["the largest --steps that fits is about"])
    }
}
