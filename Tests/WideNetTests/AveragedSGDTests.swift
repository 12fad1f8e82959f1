import Foundation
import Testing
@testable import WideNet

/// Averaged SGD in the NTK regime (Nitanda–Suzuki, ICLR 2021): the stream's replay in numpy
/// (Tests/References/averaged_sgd.py), the harmonic target rebuilt with scipy from its definition
/// (Tests/References/harmonic_target.py), the rates it shows, the refusals and the resume.
@Suite struct AveragedSGDTests {
    static let hasScipy: Bool = (try? NPYTests.python(["-c", "import numpy, scipy"]).status) == 0

    static func reference(_ script: String, _ run: URL) throws -> [String: Any] {
        let out = run.appendingPathComponent("\(script).json")
        let path = PrechangeFixtureTests.repository.appendingPathComponent("Tests/References/\(script).py").path
        let py = try NPYTests.python([path, run.path, out.path])
        try #require(py.status == 0, "\(py.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
    }

    static func train(_ args: [String], in out: URL, backend: String = "cpu") throws -> JSONObject {
        let r = try CLITests.run(["train", "--optimizer", "sgd", "--backend", backend, "--quiet", "--out", out.path] + args)
        try #require(r.status == 0, "\(r.stderr)")
        return try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
    }

    /// A stream with batches of 3, a ridge toward w(0), averaging after a burn-in of 5 updates, in f64: every logged fold
    /// error of both iterates and the final weights equal numpy's replay of the saved samples to rounding.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"), arguments: ["cpu"] + (TestDevices.hasOpenCL ? ["opencl"] : []))
    func streamReplaysInNumpy(backend: String) throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let precision = backend == "cpu" || (TestDevices.openCL?.info.hasFP64 ?? false) ? "f64" : "f32"
        _ = try Self.train(["--stream", "--average", "--average-from", "5", "--batch", "3", "--steps", "61", "--width", "203",
                            "--precision", precision, "--save-init", "--save-samples", "--save-weights", "--log-every", "6",
                            "--test-size", "77", "--seed", "4", "--noise", "0.3", "--ridge", "0.07"], in: out, backend: backend)
        let ref = try Self.reference("averaged_sgd", out)
        let tol = precision == "f64" ? 1e-12 : 1e-4
        let rows = try RunDirectory.metricsRows(in: out), want = try #require(ref["rows"] as? [String: [String: Any]])
        try #require(rows.count == 12, "\(rows.count) rows")
        for row in rows {
            let k = try #require(row["step"]?.doubleValue), r = try #require(want[String(Int(k))])
            func folds(_ key: String) -> [Double] {
                guard case .array(let a)? = row[key] else { return [] }
                return a.map { $0.doubleValue ?? .nan }
            }
            let last = try #require(r["last"] as? [Double])
            #expect(zip(folds("test_error_folds"), last).allSatisfy { abs($0 - $1) <= tol * max(1, $1) } && folds("test_error_folds").count == 8,
                    "step \(Int(k)): last iterate's folds \(folds("test_error_folds")) against numpy's \(last)")
            if let average = r["average"] as? [Double] {
                #expect(zip(folds("test_error_average_folds"), average).allSatisfy { abs($0 - $1) <= tol * max(1, $1) }
                        && folds("test_error_average_folds").count == 8, "step \(Int(k)): averaged iterate's folds against numpy's")
            } else {
                #expect(row["test_error_average"] == nil, "step \(Int(k)): an average before averaging began")
            }
        }
        let diff = try #require(ref["final_difference"] as? [String: Double]), scale = try #require(ref["scale"] as? Double)
        #expect((diff["w"] ?? .nan) <= tol * scale && (diff["w_average"] ?? .nan) <= tol * scale, "final weights differ by \(diff)")
    }

    /// μ_ℓ, the coefficients and f* on the test set against scipy's quadrature of the definition, and
    /// μ_0, μ_1, μ_2 with their multiplicities against numpy's eigenvalues of H∞/n on 2000 uniform points.
    @Test(.enabled(if: hasScipy, "python3 with numpy and scipy is not available"), arguments: [3, 5])
    func harmonicTargetMatchesScipy(d: Int) throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        _ = try Self.train(["--stream", "--d", "\(d)", "--source", "0.4", "--degrees", "24", "--steps", "1", "--width", "64",
                            "--test-size", "300", "--precision", "f64", "--seed", "9"], in: out)
        let ref = try Self.reference("harmonic_target", out)
        let h = try NPY.read(out.appendingPathComponent("harmonic.npy"))
        let degrees = try #require(ref["degrees"] as? [Int]), mu = try #require(ref["mu"] as? [Double])
        let coefficients = try #require(ref["coefficients"] as? [Double])
        try #require(h.shape == [degrees.count, 3], "harmonic.npy \(h.shape) against scipy's \(degrees.count) degrees")
        // Degrees 1, 2, 4, 6, …: the odd ones from 3 on carry no eigenvalue.
        #expect(degrees.prefix(3) == [1, 2, 4], "degrees \(degrees)")
        for i in degrees.indices {
            #expect(Int(h.values[3 * i]) == degrees[i])
            #expect(abs(h.values[3 * i + 1] - mu[i]) <= 1e-9 * mu[i], "μ_\(degrees[i]) = \(h.values[3 * i + 1]), scipy \(mu[i])")
            #expect(abs(h.values[3 * i + 2] - coefficients[i]) <= 1e-8 * abs(coefficients[i]), "c_\(degrees[i])")
        }
        let y = try NPY.read(out.appendingPathComponent("test_y.npy")).values, want = try #require(ref["test_y"] as? [Double])
        let scale = want.map(abs).max() ?? 1
        #expect(zip(y, want).allSatisfy { abs($0 - $1) <= 1e-9 * scale }, "f* on the test set differs from scipy's")
        let top = try #require(ref["kernel_top"] as? [Double]), repeated = try #require(ref["mu_repeated"] as? [Double])
        for (got, expected) in zip(top, repeated) {
            #expect(abs(got - expected) <= 0.2 * expected, "kernel eigenvalue \(got) against μ \(expected) (Monte Carlo, n = 2000)")
        }
    }

    /// At a constant step with label noise the averaged iterate's test error keeps falling near the
    /// rate theory gives (1/3 here), while the last iterate's stalls: its rate is well below, and its
    /// final error above. The summary's theory figures are the closed forms.
    @Test func averageDecaysWhereTheLastIterateStalls() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let s = try Self.train(["--stream", "--average", "--steps", "6000", "--width", "2048", "--noise", "0.5", "--test-size", "512",
                                "--seed", "1"], in: out)
        let beta = 1.5, r = 1.0 / 6
        #expect(s["rate_optimal"]?.doubleValue.map { abs($0 - 2 * r * beta / (2 * r * beta + 1)) < 1e-12 } == true)
        #expect(s["rate_theory_average"]?.doubleValue.map { abs($0 - min(2 * r, 1 - 1 / beta)) < 1e-12 } == true)
        guard case .object(let average)? = s["rate_average"], case .object(let last)? = s["rate_last"] else {
            Issue.record("no fitted rates in \(s)"); return
        }
        let rho = try #require(average["value"]?.doubleValue), low = try #require(average["low"]?.doubleValue)
        let lastRho = try #require(last["value"]?.doubleValue)
        #expect(rho > 0.2 && rho < 0.6, "averaged rate \(rho)")
        #expect(lastRho < low, "the last iterate's rate \(lastRho) is not below the average's interval from \(low)")
        let eLast = try #require(s["final_test_error"]?.doubleValue), eAverage = try #require(s["final_test_error_average"]?.doubleValue)
        #expect(eAverage < 0.5 * eLast, "final test errors: average \(eAverage), last \(eLast)")
    }

    /// --average-from K starts the average (and its fit) after K updates; the last iterate's run and
    /// its fitted rate are the same with or without it, and each window says where its fit starts.
    @Test func averageFromLeavesTheLastIteratesRateAlone() throws {
        let dir = try CLITests.scratch()
        let common = ["--stream", "--average", "--batch", "4", "--steps", "600", "--width", "128", "--test-size", "64", "--seed", "2"]
        let plain = try Self.train(common, in: dir.appendingPathComponent("plain"))
        let late = try Self.train(common + ["--average-from", "100"], in: dir.appendingPathComponent("late"))
        #expect(plain["final_test_error"] == late["final_test_error"])
        #expect(plain["rate_last"] == late["rate_last"], "rate_last \(String(describing: plain["rate_last"])) against \(String(describing: late["rate_last"]))")
        #expect(late["rate_window"] == plain["rate_window"])
        guard case .array(let window)? = late["rate_window_average"] else { Issue.record("no rate_window_average"); return }
        #expect(window.first?.doubleValue == 401 && window.last?.doubleValue == 2400, "\(window)")
    }

    /// --ridge auto: λ = T^(−β/(2rβ+1)) for the run's T = steps × batch samples, as config.json and summary.json record it.
    @Test func automaticRidgeFollowsTheHorizon() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let s = try Self.train(["--stream", "--average", "--ridge", "auto", "--source", "0.5", "--steps", "250", "--batch", "4",
                                "--width", "128", "--test-size", "16"], in: out)
        let beta = 1.5, r = 0.5
        let want = Foundation.pow(1000.0, -beta / (2 * r * beta + 1))
        #expect(s["ridge"]?.doubleValue.map { abs($0 - want) <= 1e-12 * want } == true, "ridge \(String(describing: s["ridge"])), want \(want)")
    }

    /// Epochs over a data set: batches without replacement, each epoch a permutation; with the batch the
    /// whole set, an epoch is one GD step on the mean loss whatever the order, which numpy checks.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func epochsOverADataSet() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let s = try Self.train(["--dataset", "harmonic", "--n", "40", "--batch", "7", "--average", "--steps", "30", "--width", "300",
                                "--precision", "f64", "--save-init", "--save-samples", "--save-weights", "--log-every", "5"], in: out)
        #expect(s["n"]?.doubleValue == 40 && s["samples_seen"]?.doubleValue == 210)
        let xs = try NPY.read(out.appendingPathComponent("samples_x.npy")), x = try NPY.read(out.appendingPathComponent("x.npy"))
        let d = 3
        // Each epoch (40 samples) visits every row once.
        func rowIndex(_ q: Int) -> Int? {
            (0..<40).first { i in (0..<d).allSatisfy { xs.values[q * d + $0] == x.values[i * d + $0] } }
        }
        for epoch in 0..<5 {
            let seen = Set((0..<40).compactMap { rowIndex(epoch * 40 + $0) })
            #expect(seen.count == 40, "epoch \(epoch) saw \(seen.count) distinct rows")
        }
        let ref = try Self.reference("averaged_sgd", out)
        let diff = try #require(ref["final_difference"] as? [String: Double]), scale = try #require(ref["scale"] as? Double)
        #expect((diff["w"] ?? .nan) <= 1e-12 * scale && (diff["w_average"] ?? .nan) <= 1e-12 * scale, "final weights differ by \(diff)")
    }

    /// Options that do not fit together are refused by name before anything is written.
    @Test func conflictingOptionsAreRefused() throws {
        let dir = try CLITests.scratch()
        let cases: [([String], String)] = [
            (["train", "--batch", "4"], "--batch applies to SGD"),
            (["train", "--stream"], "--stream applies to SGD"),
            (["train", "--optimizer", "sgd", "--average-from", "3"], "needs --average"),
            (["train", "--optimizer", "sgd", "--average", "--average-from", "300"], "--average-from must be in 0…299"),
            (["train", "--optimizer", "sgd", "--stream", "--n", "30"], "--stream draws fresh samples"),
            (["train", "--optimizer", "sgd", "--stream", "--dataset", "sphere"], "needs --dataset harmonic"),
            (["train", "--dataset", "sphere", "--source", "0.5"], "needs --dataset harmonic"),
            (["train", "--optimizer", "sgd", "--gram-every", "5"], "SGD runs do not compute it"),
            (["train", "--optimizer", "sgd", "--stream", "--test-size", "3"], "--test-size must be at least 8"),
            (["train", "--optimizer", "sgd", "--batch", "100"], "larger than the data set's 64 samples"),
            (["train", "--optimizer", "sgd", "--stream", "--save-samples", "--steps", "4000000"], "--save-samples would write"),
            (["train", "--dataset", "harmonic", "--noise", "-1"], "--noise must be a non-negative number"),
            (["train", "--optimizer", "sgd", "--ridge", "auto"], "--ridge auto takes β and r from the target"),
            (["train", "--optimizer", "sgd", "--ridge", "-0.5"], "--ridge must be a non-negative number"),
            (["train", "--ridge", "0.1"], "--ridge applies to SGD"),
        ]
        for (i, (args, message)) in cases.enumerated() {
            let out = dir.appendingPathComponent("r\(i)")
            let r = try CLITests.run(args + ["--backend", "cpu", "--width", "64", "--out", out.path, "--quiet"])
            #expect(r.status != 0 && r.stderr.contains(message), "\(args): exit \(r.status), \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(args) left a directory")
        }
        // A sweep over widths (GD) refuses SGD's options too, and an SGD sweep the GD sweep's.
        for (args, message) in [(["sweep", "--widths", "64,128", "--batch", "4"], "--batch applies to SGD"),
                                (["sweep", "--optimizer", "sgd", "--stream", "--widths", "64,128"], "an SGD sweep runs one width over seeds")] {
            let out = dir.appendingPathComponent("sweep")
            let r = try CLITests.run(args + ["--backend", "cpu", "--out", out.path, "--quiet"])
            #expect(r.status != 0 && r.stderr.contains(message), "\(args): exit \(r.status), \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(args) left a directory")
        }
    }

    /// A stream run killed after a checkpoint and resumed writes the same metrics, weights and averages
    /// as one never stopped.
    @Test func resumedStreamEqualsAnUninterruptedOne() throws {
        let dir = try CLITests.scratch()
        let plain = dir.appendingPathComponent("plain"), killed = dir.appendingPathComponent("killed")
        let args = ["--stream", "--average", "--average-from", "10", "--batch", "2", "--steps", "1200", "--width", "512",
                    "--log-every", "1", "--save-weights", "--test-size", "16", "--seed", "3", "--checkpoint-every", "50"]
        _ = try Self.train(args, in: plain)
        try ResumeCLITests.killAndResume(["train", "--optimizer", "sgd", "--backend", "cpu", "--quiet", "--out", killed.path] + args, in: killed,
                                         afterCheckpoint: 200)
        try ResumeCLITests.expectSame(["metrics.jsonl", "w.npy", "a.npy", "w_average.npy", "a_average.npy"], plain, killed)
    }

    /// sweep --optimizer sgd --seeds 5: the rates fitted to the seed means of the members' own metrics
    /// over the window, as numpy's polyfit of the log-log means gives them; each member saw its own stream.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func sweepOverSeedsFitsTheSeedMeans() throws {
        let out = try CLITests.scratch().appendingPathComponent("sweep")
        let r = try CLITests.run(["sweep", "--optimizer", "sgd", "--stream", "--average", "--seeds", "5", "--width", "256", "--steps", "400",
                                  "--test-size", "64", "--noise", "0.5", "--backend", "cpu", "--quiet", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let s = try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
        let script = """
            import json, sys, numpy as np
            out = sys.argv[1]
            window = json.load(open(f"{out}/summary.json"))["rate_window"]
            runs = [[json.loads(l) for l in open(f"{out}/seed-{j}/metrics.jsonl")] for j in range(5)]
            t = np.array([r["samples"] for r in runs[0]], float)
            keep = t >= window[0]
            fit = {}
            for key, name in [("test_error", "rate_last"), ("test_error_average", "rate_average")]:
                mean = np.mean([[r.get(key, np.nan) for r in run] for run in runs], axis=0)
                fit[name] = -np.polyfit(np.log(t[keep]), np.log(mean[keep]), 1)[0]
            first = [run[-1]["test_error"] for run in runs]
            print(json.dumps({"fit": fit, "distinct_streams": len(set(first))}))
            """
        let py = try NPYTests.python(["-c", script, out.path])
        try #require(py.status == 0, "\(py.output)")
        let ref = try #require(try JSONSerialization.jsonObject(with: Data(py.output.utf8)) as? [String: Any])
        let fit = try #require(ref["fit"] as? [String: Double])
        for name in ["rate_last", "rate_average"] {
            guard case .object(let f)? = s[name], let v = f["value"]?.doubleValue, let lo = f["low"]?.doubleValue, let hi = f["high"]?.doubleValue else {
                Issue.record("\(name) missing in \(s)"); continue
            }
            let want = try #require(fit[name])
            #expect(abs(v - want) <= 1e-9 * max(1, abs(want)), "\(name) \(v), numpy \(want)")
            #expect(lo <= v && v <= hi, "\(name) \(v) outside its interval [\(lo), \(hi)]")
        }
        #expect(ref["distinct_streams"] as? Int == 5, "the seeds did not see different samples")
    }
}
