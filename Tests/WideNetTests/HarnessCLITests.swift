import Foundation
import Testing
@testable import WideNet

/// The run harness through the binary: every kind's report rebuilt byte for byte from its files,
/// saddle continued from a checkpoint to the same files, interrupted sweeps finished by --resume
/// into the summary of one that ran through, a diverged run that is reported on and frees its
/// --out, and one exit code per class of failure.
@Suite(.serialized)
struct HarnessCLITests {
    /// Figures that measure time or this process, not the computation.
    static let unstable: Set<String> = PrechangeFixtureTests.timings.union(
        ["loop_seconds", "time_ratio", "seconds_to_target_skipping", "steps_run", "resumed_from_step"])

    static func read(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }
    static func summary(_ dir: URL) throws -> JSONObject {
        try RunFiles.object(in: dir.appendingPathComponent("summary.json"), shown: "summary.json")
    }

    static let tiny: [String: [String]] = [
        "train": ["train", "--n", "10", "--d", "4", "--width", "256", "--steps", "12", "--backend", "cpu"],
        "sweep": ["sweep", "--widths", "128,256", "--n", "10", "--d", "4", "--steps", "8", "--backend", "cpu"],
        "mfld": ["mfld", "--task", "teacher", "--n", "40", "--d", "3", "--particles", "120", "--steps", "10", "--backend", "cpu"],
        "mfld-chaos": ["mfld", "--chaos", "60,90,120", "--chaos-seeds", "2", "--n", "30", "--d", "3", "--steps", "6", "--backend", "cpu"],
        "saddle": ["saddle", "--n", "60", "--d", "5", "--k", "3", "--hidden", "6", "--teacher-rank", "3", "--steps", "300",
                   "--skip-plateaus", "--plateau-min-steps", "10", "--lr", "0.05"],
        "saddle-sweep": ["saddle", "--init-scales", "1e-2,1e-4", "--n", "60", "--d", "5", "--k", "3", "--hidden", "6",
                         "--teacher-rank", "3", "--steps", "200", "--skip-plateaus", "--lr", "0.05"],
        "gram": ["gram", "--n", "12", "--d", "4", "--width", "512", "--backend", "cpu"],
    ]

    @Test(arguments: ["train", "sweep", "mfld", "mfld-chaos", "saddle", "saddle-sweep", "gram"])
    func reportRebuildsEachKindByteForByte(_ kind: String) throws {
        let out = try CLITests.scratch().appendingPathComponent(kind)
        let run = try CLITests.run(Self.tiny[kind]! + ["--quiet", "--out", out.path])
        try #require(run.status == 0, "\(run.stderr)")
        let original = try Self.read(out.appendingPathComponent("report.html"))
        try FileManager.default.removeItem(at: out.appendingPathComponent("report.html"))
        let again = try CLITests.run(["report", out.path])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.read(out.appendingPathComponent("report.html")) == original, "\(kind): the rebuilt report differs")
        #expect(try Self.summary(out)["command"] == .string(kind), "\(kind)")
        #expect(!original.contains("generic"), "\(kind) got the generic report")
    }

    static func start(_ args: [String], stderr: Pipe? = nil) throws -> Process {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = stderr ?? FileHandle.nullDevice
        try p.run()
        return p
    }

    /// saddle gained checkpoints: SIGTERM mid-run writes one; --resume continues to the same
    /// metrics and arrays as a run never stopped, with rates from the steps it ran itself.
    @Test func saddleStopsAndResumesToTheSameFiles() throws {
        let dir = try CLITests.scratch()
        let plain = dir.appendingPathComponent("plain"), stopped = dir.appendingPathComponent("stopped")
        let args = ["saddle", "--n", "300", "--d", "8", "--k", "4", "--hidden", "24", "--teacher-rank", "4", "--steps", "2000",
                    "--lr", "0.05", "--skip-plateaus", "--log-every", "1",
                    "--quiet"]
        let reference = try CLITests.run(args + ["--out", plain.path])
        try #require(reference.status == 0, "\(reference.stderr)")
        let p = try Self.start(args + ["--out", stopped.path])
        let caught = ResumeCLITests.wait(for: p) { ResumeCLITests.rows(stopped) > 200 }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        try #require(caught, "the run finished before the signal")
        #expect(p.terminationStatus == 128 + SIGTERM)
        let step = try #require(ResumeCLITests.checkpointStep(stopped))
        let resumed = try CLITests.run(["saddle", "--resume", stopped.path, "--quiet"])
        try #require(resumed.status == 0, "\(resumed.stderr)")
        for name in ["metrics.jsonl", "w1.npy", "w2.npy", "losses.npy"] {
            #expect(try Data(contentsOf: plain.appendingPathComponent(name)) == Data(contentsOf: stopped.appendingPathComponent(name)),
                    "\(name) differs from the uninterrupted run's")
        }
        let a = try Self.summary(plain), b = try Self.summary(stopped)
        PrechangeFixtureTests.compare(.object(a), .object(b), at: "saddle summary", skipping: Self.unstable)
        #expect(b["resumed_from_step"]?.numeric == Double(step) && b["steps_run"]?.numeric == Double(2000 - step))
        #expect(a["steps_run"]?.numeric == 2000)
        // A changed option is refused by name.
        let changed = try CLITests.run(["saddle", "--resume", plain.path, "--lr", "0.1", "--quiet"])
        #expect(changed.status != 0 && changed.stderr.contains("--lr"), "\(changed.stderr)")
    }

    /// Each sweep, stopped by SIGTERM while its second member trains, says how to continue and
    /// exits 143; --resume then ends with the rows and summary of a sweep that ran through.
    @Test(arguments: [
        ("sweep", ["sweep", "--widths", "512,1024,2048", "--n", "16", "--d", "5", "--steps", "150", "--log-every", "1", "--backend", "cpu"],
         "width-1024"),
        ("mfld", ["mfld", "--chaos", "150,200,250", "--chaos-seeds", "1", "--n", "40", "--d", "3", "--steps", "200", "--log-every", "4",
                  "--entropy-sample", "100", "--backend", "cpu"], "N200-s0"),
        ("saddle", ["saddle", "--init-scales", "1e-2,1e-3,1e-4", "--n", "200", "--d", "6", "--k", "3", "--hidden", "16",
                    "--teacher-rank", "3", "--steps", "1200", "--lr", "0.05", "--log-every", "1"], "sigma1e-03"),
    ])
    func interruptedSweepResumesToTheSameSummary(_ command: String, _ args: [String], _ second: String) throws {
        let dir = try CLITests.scratch()
        let plain = dir.appendingPathComponent("plain"), stopped = dir.appendingPathComponent("stopped")
        let reference = try CLITests.run(args + ["--quiet", "--out", plain.path])
        try #require(reference.status == 0, "\(reference.stderr)")
        let err = Pipe()
        let p = try Self.start(args + ["--quiet", "--out", stopped.path], stderr: err)
        let member = stopped.appendingPathComponent(second)
        let caught = ResumeCLITests.wait(for: p) { ResumeCLITests.rows(member) > 10 }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(caught, "the sweep finished before the signal")
        #expect(p.terminationStatus == 128 + SIGTERM, "status \(p.terminationStatus): \(message)")
        #expect(message.contains("widenet \(command) --resume \(stopped.path)") && message.contains(second), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: stopped.appendingPathComponent("summary.json").path))

        let resumed = try CLITests.run([command, "--resume", stopped.path, "--quiet"])
        try #require(resumed.status == 0, "\(resumed.stderr)")
        let a = try Self.summary(plain), b = try Self.summary(stopped)
        PrechangeFixtureTests.compare(.object(a), .object(b), at: "\(command) summary", skipping: Self.unstable)
        let rowsA = try RunDirectory.metricsRows(in: plain), rowsB = try RunDirectory.metricsRows(in: stopped)
        #expect(rowsA.count == rowsB.count)
        for (x, y) in zip(rowsA, rowsB) { PrechangeFixtureTests.compare(.object(x), .object(y), at: "\(command) row", skipping: Self.unstable) }
        let done = try CLITests.run([command, "--resume", stopped.path, "--quiet"])
        #expect(done.status != 0 && done.stderr.contains("complete"), "\(done.stderr)")
    }

    /// A diverged run keeps a reportable directory (summary.json says where it stopped) and does
    /// not block its --out: the next run there moves it aside.
    @Test func divergedRunIsReportedAndFreesItsOut() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let args = ["train", "--n", "12", "--d", "4", "--width", "256", "--steps", "60", "--backend", "cpu", "--quiet", "--out", out.path]
        let diverged = try CLITests.run(args + ["--lr", "50"])
        #expect(diverged.status == FailureClass.badInput.exitCode && diverged.stderr.contains("diverged at step"), "\(diverged.stderr)")
        let s = try Self.summary(out)
        #expect(s["status"] == .string("diverged") && s["diverged_at_step"]?.numeric != nil, "\(s.render())")
        #expect(try CLITests.run(["report", out.path]).status == 0)
        let again = try CLITests.run(args + ["--lr", "0.5"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.summary(out)["status"] == .string("complete"))
        #expect(FileManager.default.fileExists(atPath: out.path + "-diverged/summary.json"))
    }

    /// One exit code per class: usage 64, bad input 65, resources 69 (README, "Exit codes").
    @Test func exitCodesNameTheClassOfFailure() throws {
        let dir = try CLITests.scratch()
        let bad = dir.appendingPathComponent("bad.npy")
        try Data("not an npy file".utf8).write(to: bad)
        let cases: [(FailureClass, [String], [String: String])] = [
            (.usage, ["saddle", "--teacher-rank", "3", "--singular-values", "0.5,0.3"], [:]),
            (.usage, ["train", "--no-checkpoint", "--checkpoint-every", "3"], [:]),
            (.badInput, ["train", "--x", bad.path, "--y", bad.path], [:]),
            (.badInput, ["saddle", "--steps", "-1"], [:]),
            (.resources, ["gram", "--n", "4000", "--d", "4"], ["WIDENET_MEMORY_LIMIT": "1000000"]),
        ]
        for (index, (expected, args, env)) in cases.enumerated() {
            let r = try CLITests.run(args + ["--quiet", "--out", dir.appendingPathComponent("c\(index)").path], env: env)
            #expect(r.status == expected.exitCode, "\(args): exit \(r.status), expected \(expected.exitCode): \(r.stderr)")
            #expect(r.stderr.hasPrefix("error:") || r.stderr.contains("Error:"), "\(args): \(r.stderr)")
        }
    }

    /// A run directory holds what the run ran on: train's inputs as used (unit rows) and, with
    /// --save-init, the initial weights; mfld's split of a data file; saddle's data and initial weights.
    @Test func runsKeepWhatTheyRanOn() throws {
        var rng = TestRNG()
        let dir = try CLITests.scratch()
        let (n, d, m) = (10, 3, 64)
        let x: [Double] = rng.normals(n * d), y: [Double] = rng.normals(n), w: [Double] = rng.normals(m * d)
        try NPY.write(x, shape: [n, d], to: dir.appendingPathComponent("x.npy"))
        try NPY.write(y, shape: [n], to: dir.appendingPathComponent("y.npy"))
        try NPY.write(w, shape: [m, d], to: dir.appendingPathComponent("w.npy"))
        let train = dir.appendingPathComponent("train")
        let r = try CLITests.run(["train", "--x", dir.appendingPathComponent("x.npy").path, "--y", dir.appendingPathComponent("y.npy").path,
                                  "--init-w", dir.appendingPathComponent("w.npy").path, "--steps", "3", "--save-init", "--backend", "cpu",
                                  "--precision", "f64", "--quiet", "--out", train.path])
        try #require(r.status == 0, "\(r.stderr)")
        let kept = try NPY.read(train.appendingPathComponent("x.npy")).values
        for i in 0..<n {
            let norm = (0..<d).reduce(0.0) { $0 + x[i * d + $1] * x[i * d + $1] }.squareRoot()
            for k in 0..<d { #expect(abs(kept[i * d + k] - x[i * d + k] / norm) < 1e-15, "seed \(rng.seed): x.npy row \(i)") }
        }
        #expect(try NPY.read(train.appendingPathComponent("y.npy")).values == y)
        #expect(try NPY.read(train.appendingPathComponent("w0.npy")).values == w, "w0.npy is not the given --init-w")

        let mfld = dir.appendingPathComponent("mfld")
        let q = try CLITests.run(["mfld", "--task", "file", "--x", dir.appendingPathComponent("x.npy").path,
                                  "--y", dir.appendingPathComponent("y.npy").path, "--particles", "16", "--steps", "2",
                                  "--backend", "cpu", "--quiet", "--out", mfld.path])
        try #require(q.status == 0, "\(q.stderr)")
        let train8 = try NPY.read(mfld.appendingPathComponent("x.npy")), test2 = try NPY.read(mfld.appendingPathComponent("x_test.npy"))
        #expect(train8.shape == [8, d] && test2.shape == [2, d] && train8.values + test2.values == x, "the split is the rows in order, last 20 % held out")

        let saddle = dir.appendingPathComponent("saddle")
        let s = try CLITests.run(["saddle", "--n", "30", "--d", "4", "--k", "2", "--hidden", "5", "--teacher-rank", "2", "--steps", "5",
                                  "--quiet", "--out", saddle.path])
        try #require(s.status == 0, "\(s.stderr)")
        for file in ["x.npy", "y.npy", "w1_init.npy", "w2_init.npy"] {
            #expect(FileManager.default.fileExists(atPath: saddle.appendingPathComponent(file).path), "saddle lacks \(file)")
        }
        #expect(try NPY.read(saddle.appendingPathComponent("w1_init.npy")).shape == [5, 4])
    }

    /// A width sweep over seeds: one data set, the slopes with seed-bootstrap intervals; one seed,
    /// or too few widths, is flagged as not identified with the reason.
    @Test func sweepSlopesCarryIntervalsOverSeeds() throws {
        let dir = try CLITests.scratch()
        let base = ["sweep", "--n", "10", "--d", "4", "--steps", "20", "--backend", "cpu", "--quiet"]
        let many = dir.appendingPathComponent("many")
        let r = try CLITests.run(base + ["--widths", "256,512,1024,2048,4096", "--seeds", "5", "--out", many.path])
        try #require(r.status == 0, "\(r.stderr)")
        let s = try Self.summary(many)
        guard case .object(let o)? = s["fit_max_move"] else { Issue.record("no fit_max_move: \(s.render())"); return }
        let fit = try ConfigCoding.decode(FittedValue.self, from: o, shown: "fit_max_move")
        let (v, lo, hi) = (try #require(fit.value), try #require(fit.low), try #require(fit.high))
        #expect(fit.identified && lo < v && v < hi && v < 0, "\(fit)")
        // Every seed ran on the same data, so with the same step size.
        let lrs = Set(try FileManager.default.contentsOfDirectory(atPath: many.path).filter { $0.hasPrefix("width-") }
            .map { try Self.summary(many.appendingPathComponent($0))["lr"]?.numeric ?? .nan })
        #expect(lrs.count == 1, "\(lrs)")
        let one = dir.appendingPathComponent("one")
        #expect(try CLITests.run(base + ["--widths", "256,1024,4096", "--out", one.path]).status == 0)
        guard case .object(let p)? = try Self.summary(one)["fit_max_move"] else { Issue.record("no fit_max_move"); return }
        let flagged = try ConfigCoding.decode(FittedValue.self, from: p, shown: "fit_max_move")
        #expect(!flagged.identified && flagged.value == nil && flagged.reason != nil, "\(flagged)")
    }
}
