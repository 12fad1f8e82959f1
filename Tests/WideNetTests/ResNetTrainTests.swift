import Foundation
import Testing
@testable import WideNet

/// The trainable ResNet (ResidualNet): backpropagation against central finite differences in f64,
/// the CPU and OpenCL backends step by step, and resnet.cl's kernels through the selftest.
@Suite struct ResNetTrainTests {
    static func net<T: Scalar>(_: T.Type, _ backend: any Backend, shape s: ResidualNet<T>.Shape, points p: Int, activation: Activation,
                               seed: UInt64) throws -> (ResidualNet<T>, [Double]) {
        var rng = CheckRNG(seed: seed)
        let x = rng.normals(p * s.inputs, as: Double.self), y = rng.normals(p, as: Double.self)
        // Perturbed away from the smooth start, so that every tensor (b, w, the later blocks) has a gradient of its own.
        let theta = ResidualNet<T>.initialParameters(s, horizon: 1.5, seed: seed).map { t in t.map { $0 + 0.3 * rng.normals(1, as: Double.self)[0] } }
        return (try ResidualNet<T>(backend: backend, shape: s, horizon: 1.5, activation: activation, x: x, points: p, parameters: theta), y)
    }

    @Test(arguments: [(Activation.tanh, ResidualScheme.euler), (.relu, .euler), (.linear, .euler), (.tanh, .lm), (.relu, .lm),
                      (.tanh, .heun), (.relu, .heun), (.tanh, .eulerMaruyama), (.tanh, .backwardEuler), (.tanh, .revnet),
                      (.relu, .revnet)])
    func backpropagationMatchesFiniteDifferences(_ activation: Activation, _ scheme: ResidualScheme) throws {
        // revnet splits the state into halves, so its state has an even dimension (here unequal to the inputs').
        let s = ResidualNet<Double>.Shape(inputs: 2, dim: scheme == .revnet ? 4 : 3, width: 5, depth: 4, scheme: scheme)
        let (net, y) = try Self.net(Double.self, CPUBackend(), shape: s, points: 7, activation: activation, seed: 11)
        // euler-maruyama: the gradient of the noisy pass the update uses (its increments fixed by the update's number).
        let noisy = scheme == .eulerMaruyama
        if noisy {
            net.noise = 0.7; net.noiseSeed = 3
            let (clean, rough) = (try net.outputs(), try net.outputs(noisy: true))
            #expect(zip(clean, rough).contains { abs($0 - $1) > 1e-3 }, "the increments do not reach the outputs")
        }
        let grad = try net.gradient(labels: y, noisy: noisy)
        let theta = try net.parameters()
        let eps = 1e-6
        var worst = 0.0
        for (i, tensor) in theta.enumerated() {
            for q in tensor.indices {
                func loss(_ delta: Double) throws -> Double {
                    var t = theta
                    t[i][q] += delta
                    try net.restore(.init(theta: t, first: theta.map { $0.map { _ in 0 } }, second: theta.map { $0.map { _ in 0 } }, updates: 0))
                    return ResidualNet<Double>.loss(try net.outputs(noisy: noisy), y)
                }
                let fd = (try loss(eps) - loss(-eps)) / (2 * eps)
                let err = abs(fd - grad[i][q]) / max(1e-3, abs(fd))
                worst = max(worst, err)
                #expect(err < 1e-5, "\(activation) \(scheme.rawValue) ∂loss/∂\(s.names[i])[\(q)]: backprop \(grad[i][q]), differences \(fd)")
            }
        }
        #expect(worst > 0, "no gradient was compared")
    }

    /// Five Adam steps (and five GD steps) on the CPU and on the OpenCL device from the same start:
    /// the losses and parameters agree to the precision's rounding at every step.
    @Test(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason), arguments: [Precision.f32, .f64])
    func cpuAndOpenCLAgreeStepByStep(_ precision: Precision) throws {
        let gpu = try TestDevices.backend()
        if precision == .f64 && !gpu.info.supportsF64 { return }
        func compare<T: Scalar>(_: T.Type) throws {
            for (optimizer, scheme) in [(Optimizer.adam, ResidualScheme.euler), (.gd, .euler), (.adam, .lm), (.adam, .heun), (.adam, .eulerMaruyama),
                                        (.adam, .backwardEuler), (.adam, .revnet)] {
                let s = ResidualNet<T>.Shape(inputs: 2, dim: scheme == .revnet ? 6 : 3, width: 37, depth: 6, scheme: scheme)
                let (a, y) = try Self.net(T.self, CPUBackend(), shape: s, points: 45, activation: .tanh, seed: 5)
                let (b, _) = try Self.net(T.self, gpu, shape: s, points: 45, activation: .tanh, seed: 5)
                for net in [a, b] { net.noise = 0.4; net.noiseSeed = 9 }   // euler-maruyama only; the same Philox increments on both
                let tol = T.precision == .f32 ? 2e-4 : 1e-11
                for k in 0..<5 {
                    let (la, lb) = (ResidualNet<T>.loss(try a.outputs(), y), ResidualNet<T>.loss(try b.outputs(), y))
                    #expect(abs(la - lb) <= tol * la, "\(T.precision) \(optimizer) step \(k): loss CPU \(la), OpenCL \(lb)")
                    try a.step(ParameterRule(optimizer, learningRate: 0.01), labels: y)
                    try b.step(ParameterRule(optimizer, learningRate: 0.01), labels: y)
                }
                let (pa, pb) = (try a.parameters(), try b.parameters())
                var worst = 0.0
                for i in pa.indices { for q in pa[i].indices { worst = max(worst, abs(pa[i][q] - pb[i][q])) } }
                #expect(worst <= 10 * tol, "\(T.precision) \(optimizer): parameters differ by \(worst) after 5 steps")
            }
        }
        if precision == .f32 { try compare(Float.self) } else { try compare(Double.self) }
    }

    static func train(_ args: [String], in out: URL) throws -> JSONObject {
        let r = try CLITests.run(["resnet", "--experiment", "train", "--quiet", "--out", out.path] + args)
        try #require(r.status == 0, "\(r.stderr)")
        return try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
    }

    /// Every logged loss and the final parameters of short f64 runs equal numpy's replay from the run's
    /// own inputs and initial parameters, with gradients by finite differences (Tests/References/resnet_train.py).
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"), arguments: ["gd", "momentum", "adam", "lm", "heun", "backward-euler", "revnet"])
    func trainingMatchesNumpysReplay(_ variant: String) throws {
        // lm: the LM-ResNet two-step with trained k_l under GD.
        let schemes = ["lm", "heun", "backward-euler", "revnet"], optimizer = schemes.contains(variant) ? "gd" : variant
        let dir = try CLITests.scratch(), run = dir.appendingPathComponent("run")
        _ = try Self.train(["--task", optimizer == "gd" ? "spirals" : "teacher", "--n", "23", "--test-size", "5",
                            "--dim", variant == "revnet" ? "4" : "3", "--depth", "3",
                            "--width", "5", "--steps", "6", "--log-every", "1", "--optimizer", optimizer, "--lr", optimizer == "adam" ? "0.02" : "0.3",
                            "--activation", optimizer == "momentum" ? "relu" : "tanh", "--backend", "cpu", "--precision", "f64", "--seed", "4"]
                            + (variant == "lm" ? ["--scheme", "lm", "--lm-k", "0.3"] : schemes.contains(variant) ? ["--scheme", variant] : []), in: run)
        let out = dir.appendingPathComponent("reference.json")
        let py = try NPYTests.python([PrechangeFixtureTests.repository.appendingPathComponent("Tests/References/resnet_train.py").path,
                                      run.path, out.path])
        try #require(py.status == 0, "\(py.output)")
        let ref = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        let losses = try #require(ref["losses"] as? [Double]), want = try #require(ref["parameters"] as? [Double])
        let rows = try RunFiles.rows(in: run.appendingPathComponent("metrics.jsonl"), shown: run.path)
        try #require(rows.count == losses.count)
        for (k, row) in rows.enumerated() {
            let got = try #require(row["loss"]?.numeric)
            #expect(abs(got - losses[k]) <= 1e-8 * losses[k], "\(optimizer) step \(k): loss \(got), numpy \(losses[k])")
        }
        let got = try NPY.read(run.appendingPathComponent("parameters.npy")).values
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .nan
        #expect(got.count == want.count && worst <= 1e-6, "\(optimizer): parameters off numpy's by \(worst)")
    }

    /// A run killed after a checkpoint and resumed writes the same metrics and parameters as one never stopped.
    @Test func resumedRunEqualsAnUninterruptedOne() throws {
        let dir = try CLITests.scratch()
        let plain = dir.appendingPathComponent("plain"), killed = dir.appendingPathComponent("killed")
        let args = ["--task", "circles", "--n", "200", "--test-size", "50", "--depth", "8", "--width", "16", "--steps", "1000",
                    "--log-every", "5", "--backend", "cpu", "--seed", "2", "--checkpoint-every", "50"]
        _ = try Self.train(args, in: plain)
        try ResumeCLITests.killAndResume(["resnet", "--experiment", "train", "--quiet", "--out", killed.path] + args, in: killed, afterCheckpoint: 100)
        try ResumeCLITests.expectSame(["metrics.jsonl", "parameters.npy", "flow.npy", "lipschitz.npy"], plain, killed)
    }

    /// Circles: a state of dimension 3 separates them (test accuracy 1 and a small loss); the OpenCL
    /// backend runs the same experiment; options of the other experiment and bad values are refused.
    @Test func circlesTrainAndOptionsAreChecked() throws {
        let dir = try CLITests.scratch()
        let s = try Self.train(["--task", "circles", "--dim", "3", "--depth", "8", "--steps", "300", "--backend", "cpu", "--n", "256",
                                "--test-size", "256"], in: dir.appendingPathComponent("cpu"))
        let accuracy = try #require(s["final_test_accuracy"]?.numeric), loss = try #require(s["final_loss"]?.numeric)
        #expect(accuracy >= 0.98 && loss < 0.02, "circles in 3-D: test accuracy \(accuracy), loss \(loss)")
        let report = try String(contentsOf: dir.appendingPathComponent("cpu/report.html"), encoding: .utf8)
        #expect(report.contains("Flow of the test points"))
        if TestDevices.hasOpenCL {
            let g = try Self.train(["--task", "circles", "--dim", "3", "--depth", "8", "--steps", "30", "--backend", "opencl", "--n", "64",
                                    "--test-size", "16"], in: dir.appendingPathComponent("opencl"))
            #expect(g["final_loss"]?.numeric.map { $0.isFinite } == true)
        }
        let cli = CLITests()
        try cli.expectCleanFailure(["resnet", "--experiment", "train", "--points", "5"], mentions: "--points", "depth-limit")
        try cli.expectCleanFailure(["resnet", "--experiment", "train", "--scheme", "revnet", "--dim", "3"], mentions: "--dim", "even")
        try cli.expectCleanFailure(["resnet", "--experiment", "train", "--scheme", "rk4"], mentions: "--scheme", "revnet")
        try cli.expectCleanFailure(["resnet", "--task", "circles"], mentions: "--task", "--experiment train")
        try cli.expectCleanFailure(["resnet", "--experiment", "train", "--lr", "-1"], mentions: "--lr")
        try cli.expectCleanFailure(["resnet", "--experiment", "train", "--task", "file"], mentions: "--task file", "--x")
        // h·Lip(F) far above 1: backward Euler's fixed-point iteration cannot solve the block.
        try cli.expectCleanFailure(["resnet", "--experiment", "train", "--scheme", "backward-euler", "--depth", "1", "--horizon", "40",
                                    "--max-iterations", "30", "--backend", "cpu"], mentions: "did not converge", "block 0", "--max-iterations (now 30)")
    }

    /// RevNet blocks: trained on circles in a 4-D state (the inputs in y, z starting at 0) they separate
    /// them, and x_L alone gives back every state of the flow by inverting the blocks (to f64 rounding).
    @Test func revnetTrainsAndInvertsItsBlocks() throws {
        let dir = try CLITests.scratch()
        let s = try Self.train(["--task", "circles", "--scheme", "revnet", "--dim", "4", "--depth", "8", "--steps", "300", "--backend", "cpu",
                                "--precision", "f64", "--n", "256", "--test-size", "128"], in: dir)
        let accuracy = try #require(s["final_test_accuracy"]?.numeric), error = try #require(s["revnet_reconstruction_error"]?.numeric)
        #expect(accuracy >= 0.95, "revnet on circles: test accuracy \(accuracy)")
        let flow = try NPY.read(dir.appendingPathComponent("flow.npy")).values
        let scale = flow.map(abs).max() ?? 0
        #expect(scale > 1 && error <= 1e-12 * scale, "revnet: states rebuilt from x_L differ by \(error) (states up to \(scale))")
    }

    /// --depths: a sweep of member runs. Untrained (--steps 0) the nets are forward Euler on one smooth
    /// field, so the gap between the maps of successive depths falls like h (order ≈ 1); trained, the
    /// gaps are the RMS of the members' own probe outputs, recomputed here.
    @Test func depthSweepMeasuresTheMapsDepthLimit() throws {
        let dir = try CLITests.scratch()
        let common = ["--experiment", "train", "--task", "spirals", "--n", "48", "--test-size", "40", "--backend", "cpu", "--quiet"]
        let untrained = try CLITests.run(["resnet", "--depths", "8,16,32,64,128", "--steps", "0", "--out", dir.appendingPathComponent("init").path]
                                         + common)
        try #require(untrained.status == 0, "\(untrained.stderr)")
        let s0 = try RunFiles.object(in: dir.appendingPathComponent("init/summary.json"), shown: "init")
        guard case .object(let order)? = s0["map_gap_order"] else { Issue.record("no map_gap_order"); return }
        let p = try #require(order["order"]?.numeric)
        #expect(p > 0.85 && p < 1.1, "untrained maps: order \(p) in h, forward Euler's is 1")
        // 4 gaps, 2 residual degrees of freedom: the interval is ± t₀.₉₇₅,₂ = 4.3027 s.e. (scipy.stats.t.ppf).
        let se = try #require(order["standard_error"]?.numeric), i = order["interval"]?.numbers ?? []
        #expect(order["identified"] == .bool(true) && i.count == 2 && abs((i.last ?? 0) - p - 4.302652729749462 * se) <= 1e-9 * se + 1e-14,
                "\(order.render())")
        let out = dir.appendingPathComponent("trained")
        let r = try CLITests.run(["resnet", "--depths", "4,8,16", "--steps", "15", "--log-every", "5", "--out", out.path] + common)
        try #require(r.status == 0, "\(r.stderr)")
        let s = try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: "trained")
        let gaps = s["map_gaps"]?.numbers ?? []
        try #require(gaps.count == 2)
        var probes: [[Double]] = []
        for L in [4, 8, 16] {
            let m = try RunFiles.object(in: out.appendingPathComponent("depth-\(L)/summary.json"), shown: "depth-\(L)")
            probes.append(m["probe_outputs"]?.numbers ?? [])
            #expect(m["depth"]?.numeric == Double(L))
        }
        for i in 0..<2 {
            let want = (zip(probes[i], probes[i + 1]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(probes[i].count)).squareRoot()
            #expect(abs(gaps[i] - want) <= 1e-12 * want, "gap \(i): \(gaps[i]) against \(want)")
        }
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("report.html").path))
        // 2 gaps: the order is not identified, with the reason (and the report says so).
        guard case .object(let two)? = s["map_gap_order"] else { Issue.record("no map_gap_order"); return }
        #expect(two["identified"] == .bool(false) && two["interval"] == .null && two["reason"]?.displayText.contains("2 gaps for 2 parameters") == true,
                "\(two.render())")
        let report = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("not identified") && !report.contains("± 2"))
    }

    /// A refusal for want of memory: exit 69, one `error:` line naming each of `mentions`, no run directory.
    static func expectResourceRefusal(_ args: [String], env: [String: String] = ["WIDENET_MEMORY_LIMIT": "1000000000"], mentions: [String],
                                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(args + ["--out", out.path, "--quiet"], env: env)
        #expect(r.reason == .exit && r.status == 69, "exit \(r.status) for \(args): \(r.stderr)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("note:") }
        #expect(lines.count == 1 && lines.first?.hasPrefix("error: ") == true, "\(r.stderr)", sourceLocation: sourceLocation)
        for m in ["of host memory but"] + mentions {
            #expect(r.stderr.contains(m), "error does not mention '\(m)': \(r.stderr)", sourceLocation: sourceLocation)
        }
        #expect(!r.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: out.path), "a run directory was left behind", sourceLocation: sourceLocation)
    }

    /// Sizes beyond memory are refused before anything is drawn or written, naming the size that fits:
    /// the depth when at least one block fits, else the points or the width; a depth sweep checks its deepest member.
    @Test func sizesBeyondMemoryAreRefused() throws {
        let train = ["resnet", "--experiment", "train", "--backend", "cpu", "--steps", "1"]
        try Self.expectResourceRefusal(train + ["--depth", "100000000"], mentions: ["the largest --depth that fits is about"])
        try Self.expectResourceRefusal(train + ["--n", "10000000000"], mentions: ["the largest --n that fits is about"])
        try Self.expectResourceRefusal(train + ["--width", "1000000000"], mentions: ["the largest --width that fits is about"])
        try Self.expectResourceRefusal(train + ["--depths", "8,100000000"], mentions: ["at depth 100000000", "the largest --depth"])
    }

    /// Options the task does not use are refused, and with --task file those that disagree with X.
    @Test func taskOptionsAreCheckedAgainstTheTask() throws {
        let cli = CLITests(), dir = try CLITests.scratch()
        let (x, y) = try CLITests.goodData(dir, n: 40, d: 3)
        let train = ["resnet", "--experiment", "train", "--steps", "1", "--backend", "cpu"]
        try cli.expectCleanFailure(train + ["--task", "spirals", "--input-dim", "3"], mentions: "--input-dim", "teacher")
        try cli.expectCleanFailure(["resnet", "--experiment", "boost", "--task", "circles", "--input-dim", "3"], mentions: "--input-dim", "2-D")
        try cli.expectCleanFailure(train + ["--task", "spirals", "--x", x, "--y", y], mentions: "--task spirals", "--x")
        try cli.expectCleanFailure(train + ["--x", x, "--y", y, "--input-dim", "5"], mentions: "--input-dim 5", "3")
        try cli.expectCleanFailure(train + ["--x", x, "--y", y, "--n", "50"], mentions: "--n 50", "32 training points")
        try cli.expectCleanFailure(train + ["--task", "file", "--x", x, "--y", y, "--task-noise", "0.1"], mentions: "--task-noise", "file")
        // Options that agree with the files are accepted.
        let r = try CLITests.run(train + ["--x", x, "--y", y, "--input-dim", "3", "--n", "32", "--depth", "2", "--width", "4", "--quiet",
                                          "--out", dir.appendingPathComponent("ok").path])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// --scheme revnet without --dim takes an even default (4), with a note.
    @Test func revnetDefaultsToAnEvenDimension() throws {
        let s = try Self.train(["--scheme", "revnet", "--depth", "2", "--width", "4", "--n", "16", "--test-size", "4", "--steps", "1",
                                "--backend", "cpu"], in: try CLITests.scratch().appendingPathComponent("run"))
        #expect(s["dim"]?.numeric == 4)
        guard case .array(let notes)? = s["notes"] else { Issue.record("no notes"); return }
        #expect(notes.contains { $0.displayText.contains("--dim defaults to 4") }, "\(notes)")
    }

    /// Beside --resume, a different --checkpoint-every is refused by name (the run keeps its cadence);
    /// --no-checkpoint is honoured (it does not contradict the recorded cadence).
    @Test func resumeKeepsTheCheckpointCadence() throws {
        let run = try CLITests.scratch().appendingPathComponent("run")
        _ = try Self.train(["--n", "16", "--test-size", "4", "--depth", "2", "--width", "4", "--steps", "20", "--checkpoint-every", "5",
                            "--backend", "cpu"], in: run)
        try FileManager.default.removeItem(at: run.appendingPathComponent("summary.json"))   // as if stopped after its last checkpoint
        let cli = CLITests()
        try cli.expectOneLineError(["resnet", "--resume", run.path, "--checkpoint-every", "50", "--quiet"],
                                   mentions: ["--checkpoint-every 50", "differs from the run's 5"])
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("summary.json").path))
        let again = try CLITests.run(["resnet", "--resume", run.path, "--no-checkpoint", "--quiet"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("summary.json").path))
    }
}
