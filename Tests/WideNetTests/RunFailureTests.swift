import Foundation
import Testing
@testable import WideNet

/// Runs that fail, through the binary: nothing left behind before the first row (a relative --out
/// too), a step that throws kept as a "failed" run that frees its --out, a sweep stopped by a
/// diverging member reported and moved aside, a tampered checkpoint refused, malformed byte limits
/// and absurd sizes refused in one line, and a value out of range as bad input (65).
@Suite(.serialized)
struct RunFailureTests {
    static func summary(_ dir: URL) throws -> JSONObject {
        try RunFiles.object(in: dir.appendingPathComponent("summary.json"), shown: "summary.json")
    }

    /// --out given relative to the working directory: a run refused in its set-up (checkpoints that do
    /// not fit) or at its first row (an initial loss that overflows) leaves no directory.
    @Test func relativeOutIsRemovedWhenTheRunFailsBeforeItsFirstRow() throws {
        let dir = try CLITests.scratch()
        let disk = try CLITests.run(["train", "--n", "10", "--d", "3", "--width", "64", "--steps", "3", "--backend", "cpu", "--quiet",
                                     "--checkpoint-every", "1", "--out", "disk"], env: ["WIDENET_DISK_LIMIT": "100"], in: dir)
        #expect(disk.status == FailureClass.resources.exitCode, "\(disk.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("disk").path), "a run directory was left behind")

        let n = 6
        let x = dir.appendingPathComponent("X.npy"), y = dir.appendingPathComponent("y.npy")
        try NPY.write(SyntheticData.sphere(n: n, d: 3, seed: 2).x, shape: [n, 3], to: x)
        try NPY.write([Double](repeating: 1e300, count: n), shape: [n], to: y)
        let loss = try CLITests.run(["train", "--x", x.path, "--y", y.path, "--width", "64", "--steps", "3", "--backend", "cpu", "--quiet",
                                     "--out", "overflow"], in: dir)
        #expect(loss.status == FailureClass.badInput.exitCode && loss.stderr.contains("initial loss"), "\(loss.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("overflow").path), "a run directory was left behind")
    }

    /// An --out that existed before the run (empty, or holding the front end's inputs/) keeps what it
    /// held and loses what a run that failed before its first row put in it, so it can be used again.
    @Test func anExistingOutKeepsOnlyWhatItHeld() throws {
        let dir = try CLITests.scratch()
        let n = 6
        let x = dir.appendingPathComponent("X.npy"), y = dir.appendingPathComponent("y.npy")
        try NPY.write(SyntheticData.sphere(n: n, d: 3, seed: 2).x, shape: [n, 3], to: x)
        try NPY.write([Double](repeating: 1e300, count: n), shape: [n], to: y)
        for held in [[], ["inputs"]] {
            let out = dir.appendingPathComponent("out-\(held.count)")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            for name in held { try FileManager.default.createDirectory(at: out.appendingPathComponent(name), withIntermediateDirectories: true) }
            let r = try CLITests.run(["train", "--x", x.path, "--y", y.path, "--width", "64", "--steps", "3", "--backend", "cpu", "--quiet",
                                      "--out", out.path])
            #expect(r.status == FailureClass.badInput.exitCode, "\(r.stderr)")
            let left = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
            #expect(left == held, "--out holding \(held) was left with \(left)")
        }
    }

    /// A step that throws after the first row (backward Euler's fixed point failing at a large step):
    /// status "failed" with the step and the error, rows and report kept, exit 65; the next run into
    /// the same --out moves it aside to -failed.
    @Test func aStepThatThrowsEndsAsAFailedRunThatFreesItsOut() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let args = ["resnet", "--experiment", "train", "--scheme", "backward-euler", "--depth", "4", "--n", "64", "--backend", "cpu",
                    "--quiet", "--out", out.path]
        let failed = try CLITests.run(args + ["--steps", "100", "--lr", "3"])
        #expect(failed.status == FailureClass.badInput.exitCode && failed.stderr.contains("failed at step"), "\(failed.stderr)")
        let s = try Self.summary(out)
        #expect(s["status"] == .string("failed") && s["failed_at_step"]?.numeric != nil, "\(s.render())")
        #expect(s["error"]?.displayText.contains("did not converge") == true, "\(s.render())")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("report.html").path))
        let again = try CLITests.run(args + ["--steps", "3"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.summary(out)["status"] == .string("complete"))
        #expect(try Self.summary(URL(fileURLWithPath: out.path + "-failed"))["status"] == .string("failed"))
    }

    /// A sweep whose first member diverges: its summary says so and names the member, it has a report,
    /// --resume refuses it with the reason, and a new sweep into the same --out moves it aside.
    @Test func aSweepStoppedByADivergingMemberIsKeptAndMovedAside() throws {
        let out = try CLITests.scratch().appendingPathComponent("sweep")
        let args = ["sweep", "--n", "12", "--d", "4", "--widths", "64,128", "--backend", "cpu", "--quiet", "--out", out.path]
        let diverged = try CLITests.run(args + ["--steps", "80", "--lr", "50"])
        #expect(diverged.status == FailureClass.badInput.exitCode && diverged.stderr.contains("diverged"), "\(diverged.stderr)")
        let s = try Self.summary(out)
        #expect(s["status"] == .string("diverged") && s["stopped_at_member"] == .string("width-64"), "\(s.render())")
        #expect(try CLITests.run(["report", out.path]).status == 0)
        let resume = try CLITests.run(["sweep", "--resume", out.path])
        #expect(resume.status != 0 && resume.stderr.contains("continues only past finished members"), "\(resume.stderr)")
        let again = try CLITests.run(args + ["--steps", "5"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.summary(out)["status"] == .string("complete"))
        #expect(FileManager.default.fileExists(atPath: out.path + "-diverged/summary.json"))
    }

    /// A checkpoint's arrays are checked against the digests state.json recorded, and against its step.
    @Test func aTamperedCheckpointIsRefused() throws {
        let run = try CLITests.scratch()
        try Data("{\"command\": \"test\"}\n".utf8).write(to: run.appendingPathComponent("config.json"))
        var rng = TestRNG()
        let w = rng.normals(37, as: Double.self)
        var cp = Checkpoint(step: 12, configHash: try Checkpoint.configHash(of: run), metricsBytes: 0)
        try cp.write(arrays: [Checkpoint.array("w", w, shape: [37])], to: run)
        let loaded = try Checkpoint.load(from: run)
        #expect(try loaded.array("w", in: run).values == w)

        // One value changed on disk (a NaN written over it).
        let file = Checkpoint.folder(in: run).appendingPathComponent("w-12.npy")
        var changed = w
        changed[5] = .nan
        try NPY.write(changed, shape: [37], to: file)
        #expect(throws: WideNetIOError.self) { try Checkpoint.load(from: run).array("w", in: run) }

        // state.json edited to another step.
        var edited = loaded
        edited.step = 5
        #expect(throws: WideNetIOError.self) { try edited.array("w", in: run) }
    }

    /// $WIDENET_MEMORY_LIMIT / $WIDENET_DISK_LIMIT that are not byte counts are usage errors; a width
    /// beyond any machine is refused as a resource problem, not a trap.
    @Test func malformedLimitsAndAbsurdSizesAreOneLineErrors() throws {
        let cli = CLITests()
        for (name, value) in [("WIDENET_MEMORY_LIMIT", "-1"), ("WIDENET_MEMORY_LIMIT", "abc"), ("WIDENET_DISK_LIMIT", "12 GB")] {
            let r = try CLITests.run(["train", "--n", "8", "--d", "3", "--width", "64", "--steps", "1", "--quiet"], env: [name: value])
            #expect(r.status == FailureClass.usage.exitCode && r.stderr.contains(name), "\(name)=\(value): exit \(r.status) \(r.stderr)")
        }
        for args in [["train", "--n", "8", "--d", "3", "--width", "9223372036854775807", "--steps", "1"],
                     ["gram", "--n", "8", "--d", "3", "--width", "9223372036854775807"]] {
            try cli.expectCleanFailure(args + ["--backend", "cpu"], mentions: "9223372036854775807")
            let r = try CLITests.run(args + ["--backend", "cpu", "--quiet"])
            #expect(r.status == FailureClass.resources.exitCode, "\(args): exit \(r.status)")
        }
        // The CPU backend's particles live in host memory: WIDENET_MEMORY_LIMIT bounds them.
        let particles = ["mfld", "--particles", "30000000", "--n", "20", "--n-test", "10", "--d", "3", "--steps", "1", "--entropy-sample", "64",
                         "--backend", "cpu"]
        try cli.expectCleanFailure(particles, env: ["WIDENET_MEMORY_LIMIT": "4e7"], mentions: "30000000 particles", "largest count that fits")
    }

    /// A value outside its option's range is bad input (65), wherever the check sits; a contradiction
    /// between options is a usage error (64).
    @Test func outOfRangeValuesAreBadInput() throws {
        let dir = try CLITests.scratch()
        let cases: [(FailureClass, [String])] = [
            (.badInput, ["gram", "--n", "20", "--eigensolver", "lanczos", "--tolerance", "0"]),
            (.badInput, ["resnet", "--horizon", "0"]),
            (.badInput, ["train", "--n", "8", "--d", "3", "--label-noise", "2"]),
            (.badInput, ["bench", "--repeats", "0"]),
            (.badInput, ["saddle", "--init-scales", "0,1e-3"]),
            (.badInput, ["saddle", "--singular-values", "1,-2"]),
            (.badInput, ["mfld", "--chaos", "0,64,128"]),
            (.usage, ["saddle", "--init-scales", "a,1e-3"]),
            (.usage, ["gram", "--n", "20", "--eigensolver", "full", "--matrix", "free"]),
        ]
        for (index, (expected, args)) in cases.enumerated() {
            let r = try CLITests.run(args + ["--quiet", "--out", dir.appendingPathComponent("c\(index)").path])
            #expect(r.status == expected.exitCode, "\(args): exit \(r.status), expected \(expected.exitCode): \(r.stderr)")
            #expect(r.stderr.hasPrefix("error:"), "\(args): \(r.stderr)")
        }
    }

    /// --init-exponent shapes sampled weights: refused with --init-w, and a standard deviation that
    /// overflows is refused before anything is written.
    @Test func initialScaleOptionsAreCheckedUpFront() throws {
        let cli = CLITests()
        let dir = try CLITests.scratch()
        let (x, y) = try CLITests.goodData(dir)
        let w = dir.appendingPathComponent("w.npy")
        var rng = TestRNG()
        try NPY.write(rng.normals(64 * 3, as: Double.self), shape: [64, 3], to: w)
        try cli.expectCleanFailure(["train", "--x", x, "--y", y, "--init-w", w.path, "--init-exponent", "1", "--steps", "1"],
                                   mentions: "--init-exponent", "--init-w")
        try cli.expectCleanFailure(["train", "--n", "8", "--d", "3", "--width", "64", "--steps", "1", "--init-exponent", "-200", "--backend", "cpu"],
                                   mentions: "standard deviation")
    }

    /// `widenet report` on a run whose arrays were damaged or removed: a damaged one is a one-line error
    /// naming it, a missing one is said in the report instead of its figure vanishing.
    @Test func reportSaysWhatIsMissingAndRefusesWhatIsDamaged() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["resnet", "--experiment", "train", "--n", "32", "--test-size", "16", "--depth", "3", "--width", "4",
                                  "--steps", "3", "--backend", "cpu", "--quiet", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        try FileManager.default.removeItem(at: out.appendingPathComponent("flow.npy"))
        let missing = try CLITests.run(["report", out.path])
        #expect(missing.status == 0, "\(missing.stderr)")
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("flow.npy or flow_labels.npy is missing"), "the report does not say the flow figure is missing")
        try Data("junk".utf8).write(to: out.appendingPathComponent("lipschitz.npy"))
        try CLITests().expectOneLineError(["report", out.path], mentions: ["lipschitz.npy"])
    }

    /// An option given twice: the last value is used, and a note says so (it is not dropped in silence).
    @Test func anOptionGivenTwiceIsNoted() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["train", "--n", "8", "--d", "3", "--width", "64", "--steps", "2", "--backend", "cpu", "--quiet",
                                  "--width=128", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("note: --width is given twice (64, then 128): the last, 128, is used"), "\(r.stderr)")
        let config = try RunFiles.object(in: out.appendingPathComponent("config.json"), shown: "config.json")
        guard case .object(let resolved)? = config["resolved"] else { Issue.record("no resolved config"); return }
        #expect(resolved["width"] == .int(128))
    }

    /// mfld --chaos with a count listed twice is refused (the two would share member directories);
    /// --resume on a failed run says it failed; a report written later clears the summary's report_error.
    @Test func repeatedCountsResumingAFailedRunAndALateReport() throws {
        try CLITests().expectCleanFailure(["mfld", "--chaos", "64,64,128", "--n", "20", "--n-test", "10", "--d", "3", "--steps", "2",
                                           "--backend", "cpu"], mentions: "--chaos lists 64 more than once")
        let out = try CLITests.scratch().appendingPathComponent("run")
        let failed = try CLITests.run(["resnet", "--experiment", "train", "--scheme", "backward-euler", "--depth", "4", "--n", "64",
                                       "--backend", "cpu", "--quiet", "--out", out.path, "--steps", "100", "--lr", "3"])
        #expect(failed.status == FailureClass.badInput.exitCode, "\(failed.stderr)")
        try CLITests().expectOneLineError(["resnet", "--resume", out.path, "--quiet"], mentions: ["the run failed", "\(out.path)-failed"])

        let done = try CLITests.scratch().appendingPathComponent("done")
        let r = try CLITests.run(["train", "--n", "8", "--d", "3", "--width", "64", "--steps", "2", "--backend", "cpu", "--quiet", "--out", done.path])
        try #require(r.status == 0, "\(r.stderr)")
        var summary = try Self.summary(done)
        summary.set("report_error", "cannot write report.html: No space left on device")
        try AtomicFile.write(summary.render(pretty: true) + "\n", to: done.appendingPathComponent("summary.json"))
        #expect(try CLITests.run(["report", done.path]).status == 0)
        #expect(try Self.summary(done)["report_error"] == nil)
        let html = try String(contentsOf: done.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(!html.contains("report_error"))
    }

    /// A failed run with a checkpoint continues from it on --resume (a full disk freed, say): here the
    /// same step fails again, which shows the run was continued rather than refused.
    @Test func aFailedRunContinuesFromItsLastCheckpoint() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let args = ["resnet", "--experiment", "train", "--scheme", "backward-euler", "--depth", "4", "--n", "64", "--backend", "cpu",
                    "--quiet", "--out", out.path, "--steps", "100", "--lr", "3", "--checkpoint-every", "1"]
        let failed = try CLITests.run(args)
        #expect(failed.status == FailureClass.badInput.exitCode && failed.stderr.contains("failed at step 2"), "\(failed.stderr)")
        let again = try CLITests.run(["resnet", "--resume", out.path, "--quiet"])
        #expect(again.status == FailureClass.badInput.exitCode && again.stderr.contains("failed at step 2"), "\(again.stderr)")
        #expect(try Self.summary(out)["status"] == .string("failed"))
    }

    /// --out / is refused (a run and its cleanup need a directory of their own); a diverged run moved
    /// aside gets its report rewritten under its new name.
    @Test func theRootIsRefusedAndAMovedRunIsRetitled() throws {
        let root = try CLITests.run(["train", "--n", "8", "--d", "3", "--width", "64", "--steps", "1", "--quiet", "--out", "/"])
        #expect(root.status == FailureClass.usage.exitCode && root.stderr.contains("--out /"), "\(root.stderr)")
        let out = try CLITests.scratch().appendingPathComponent("run")
        let args = ["train", "--n", "12", "--d", "4", "--width", "256", "--backend", "cpu", "--quiet", "--out", out.path]
        _ = try CLITests.run(args + ["--steps", "60", "--lr", "50"])
        #expect(try CLITests.run(args + ["--steps", "2"]).status == 0)
        let html = try String(contentsOf: URL(fileURLWithPath: out.path + "-diverged/report.html"), encoding: .utf8)
        #expect(html.contains("Run run-diverged"), "the moved run's report keeps its old name")
    }

    /// A resumed train run keeps its checkpoint cadence: another --checkpoint-every is refused by name.
    @Test func resumeRefusesAnotherCheckpointCadence() throws {
        let run = try CLITests.scratch().appendingPathComponent("run")
        let first = try CLITests.run(["train", "--n", "8", "--d", "3", "--width", "64", "--steps", "20", "--checkpoint-every", "5",
                                      "--backend", "cpu", "--quiet", "--out", run.path])
        try #require(first.status == 0, "\(first.stderr)")
        try FileManager.default.removeItem(at: run.appendingPathComponent("summary.json"))   // as if stopped after its last checkpoint
        try CLITests().expectOneLineError(["train", "--resume", run.path, "--checkpoint-every", "7", "--quiet"],
                                          mentions: ["--checkpoint-every 7", "differs from the run's 5"])
        let again = try CLITests.run(["train", "--resume", run.path, "--checkpoint-every", "5", "--quiet"])
        #expect(again.status == 0, "\(again.stderr)")
    }

    /// --gram-every K computes H(k) every K steps even when K is not a multiple of --log-every.
    @Test func gramEveryIsHonouredBetweenLoggedRows() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["train", "--n", "10", "--d", "4", "--width", "128", "--steps", "50", "--gram-every", "10", "--log-every", "3",
                                  "--backend", "cpu", "--quiet", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let rows = try RunDirectory.metricsRows(in: out)
        let gramSteps = rows.compactMap { row -> Int? in
            guard row["lambda_min_h"] != nil, let k = row["step"]?.numeric else { return nil }
            return Int(k)
        }
        #expect(gramSteps == [0, 10, 20, 30, 40, 50], "\(gramSteps)")
        let least = rows.compactMap { $0["lambda_min_h"]?.numeric }.min()
        #expect(try Self.summary(out)["lambda_min_h_least"]?.numeric == least)
    }

    /// Rows at the ends of Double's range have a norm: X·1e300 and X·1e-300 give X's λ0.
    @Test func hugeAndTinyRowsAreScaledNotLost() throws {
        let dir = try CLITests.scratch()
        let (n, d) = (9, 4)
        var rng = TestRNG()
        let x = rng.normals(n * d, as: Double.self)
        var lambda: [Double] = []
        for (index, scale) in [1.0, 1e300, 1e-300].enumerated() {
            let file = dir.appendingPathComponent("X\(index).npy")
            try NPY.write(x.map { $0 * scale }, shape: [n, d], to: file)
            let out = dir.appendingPathComponent("g\(index)")
            let r = try CLITests.run(["gram", "--x", file.path, "--quiet", "--out", out.path])
            try #require(r.status == 0, "scale \(scale): \(r.stderr)")
            lambda.append(try #require(try Self.summary(out)["lambda0"]?.numeric))
        }
        #expect(lambda[0] > 0.01)
        #expect(abs(lambda[1] - lambda[0]) <= 1e-14 && abs(lambda[2] - lambda[0]) <= 1e-14, "\(lambda)")
    }
}
