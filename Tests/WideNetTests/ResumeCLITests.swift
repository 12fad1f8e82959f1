import Foundation
import Testing
@testable import WideNet

/// Stopping and continuing runs through the binary: SIGKILL (the last periodic checkpoint survives),
/// SIGTERM (a checkpoint is written at the step the signal arrives), and a resume that would change
/// an option. In each case the continued run's metrics.jsonl and arrays equal, byte for byte, those
/// of a run that was never stopped.
@Suite(.serialized)
struct ResumeCLITests {
    static let files = ["metrics.jsonl", "w.npy", "a.npy", "u.npy"]

    static func trainArgs(_ out: URL, backend: String) -> [String] {
        ["train", "--n", "24", "--d", "6", "--width", "2000", "--steps", "150", "--seed", "5", "--log-every", "1",
         "--checkpoint-every", "20", "--save-weights", "--backend", backend, "--out", out.path, "--quiet"]
    }

    static func start(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    static func checkpointStep(_ dir: URL) -> Int? { (try? Checkpoint.load(from: dir))?.step }

    /// Runs `args` (writing to `dir`), kills it with SIGKILL once its checkpoint has reached `step`,
    /// and continues it with `<command> --resume dir --quiet`.
    static func killAndResume(_ args: [String], in dir: URL, afterCheckpoint step: Int) throws {
        let p = try start(args)
        let caught = wait(for: p) { (checkpointStep(dir) ?? 0) >= step }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        try #require(caught, "the run finished before it could be killed")
        let resumed = try CLITests.run([args[0], "--resume", dir.path, "--quiet"])
        try #require(resumed.status == 0, "\(resumed.stderr)")
    }

    /// The files `names` of two run directories are the same bytes.
    static func expectSame(_ names: [String], _ a: URL, _ b: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for name in names {
            let x = try Data(contentsOf: a.appendingPathComponent(name)), y = try Data(contentsOf: b.appendingPathComponent(name))
            let same = x == y   // a Bool, so that a failure does not diff megabytes
            #expect(same, "\(name) differs from the uninterrupted run's", sourceLocation: sourceLocation)
        }
    }

    static func rows(_ dir: URL) -> Int {
        ((try? String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// Waits until `ready` holds or the process ends; false if it ended first.
    static func wait(for p: Process, until ready: () -> Bool) -> Bool {
        while p.isRunning {
            if ready() { return true }
            usleep(2000)
        }
        return false
    }

    static func expectSameFiles(_ a: URL, _ b: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for name in files {
            let x = try Data(contentsOf: a.appendingPathComponent(name)), y = try Data(contentsOf: b.appendingPathComponent(name))
            #expect(x == y, "\(name) differs from the uninterrupted run's", sourceLocation: sourceLocation)
        }
    }

    static var backends: [String] { TestDevices.hasOpenCL ? ["cpu", "opencl"] : ["cpu"] }

    @Test(arguments: backends)
    func killedRunResumesFromItsLastCheckpoint(backend: String) throws {
        let dir = try CLITests.scratch()
        let plain = dir.appendingPathComponent("plain"), killed = dir.appendingPathComponent("killed")
        let reference = try CLITests.run(Self.trainArgs(plain, backend: backend))
        #expect(reference.status == 0, "\(reference.stderr)")

        let p = try Self.start(Self.trainArgs(killed, backend: backend))
        let caught = Self.wait(for: p) { (Self.checkpointStep(killed) ?? 0) >= 40 && Self.rows(killed) > 55 }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        try #require(caught, "the run finished before it could be killed")
        #expect(!FileManager.default.fileExists(atPath: killed.appendingPathComponent("summary.json").path))

        let resumed = try CLITests.run(["train", "--resume", killed.path, "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        try Self.expectSameFiles(plain, killed)
        // The continuation kept the run's cadence (every 20 steps) without being told again.
        #expect(Self.checkpointStep(killed) == 140, "last checkpoint at \(Self.checkpointStep(killed) ?? -1)")
    }

    @Test func terminatedRunWritesACheckpointAndResumes() throws {
        let dir = try CLITests.scratch()
        let plain = dir.appendingPathComponent("plain"), stopped = dir.appendingPathComponent("stopped")
        #expect(try CLITests.run(Self.trainArgs(plain, backend: "cpu")).status == 0)

        let p = try Self.start(Self.trainArgs(stopped, backend: "cpu"))
        let caught = Self.wait(for: p) { Self.rows(stopped) > 30 }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        try #require(caught, "the run finished before the signal")
        #expect(p.terminationStatus == 128 + SIGTERM, "exit status \(p.terminationStatus)")
        let step = try #require(Self.checkpointStep(stopped))
        #expect(step >= 30, "checkpoint at step \(step): it must be the step the signal arrived, not a periodic one")

        // Changing an option that matters is refused, naming it; then the plain resume continues.
        let changed = try CLITests.run(["train", "--resume", stopped.path, "--lr", "0.5", "--quiet"])
        #expect(changed.status != 0 && changed.stderr.contains("--lr"), "\(changed.stderr)")
        let resumed = try CLITests.run(["train", "--resume", stopped.path, "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        try Self.expectSameFiles(plain, stopped)
    }

    /// --no-checkpoint: SIGTERM stops the run at the end of its step with 128 + 15 and writes no
    /// checkpoint (the widest runs would spend minutes on one); it contradicts --checkpoint-every.
    @Test func noCheckpointStopsWithoutWritingOne() throws {
        let dir = try CLITests.scratch().appendingPathComponent("nock")
        var args = Self.trainArgs(dir, backend: "cpu")
        for option in ["--checkpoint-every", "--steps"] { args.removeSubrange(args.firstIndex(of: option)!...args.firstIndex(of: option)! + 1) }
        let p = try Self.start(args + ["--no-checkpoint", "--steps", "100000"])
        let caught = Self.wait(for: p) { Self.rows(dir) > 10 }
        let sent = Date()
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        try #require(caught, "the run finished before the signal")
        #expect(p.terminationStatus == 128 + SIGTERM, "exit status \(p.terminationStatus)")
        #expect(Date().timeIntervalSince(sent) < 5)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("checkpoint").path))
        let both = try CLITests.run(["train", "--no-checkpoint", "--checkpoint-every", "5", "--steps", "1", "--quiet",
                                     "--out", dir.deletingLastPathComponent().appendingPathComponent("both").path])
        #expect(both.status != 0 && both.stderr.contains("--no-checkpoint"), "\(both.stderr)")
    }

    /// A signal during set-up (here inside LAPACK's eigensolver at n = 3000, or while a wide net is
    /// drawn) ends the process within a second with 128 + the signal, removing the run directory it
    /// had begun; a resumed run's directory interrupted again still resumes to the same files.
    @Test func signalsDuringSetUpAreAnsweredAtOnce() throws {
        let dir = try CLITests.scratch()
        for (signal, args) in [(SIGTERM, ["train", "--n", "3000", "--d", "8", "--width", "1024", "--steps", "1"]),
                               (SIGINT, ["train", "--n", "64", "--d", "16", "--width", "33554432", "--steps", "2"])] {
            let out = dir.appendingPathComponent("setup-\(signal)/run")
            let p = try Self.start(args + ["--backend", "cpu", "--quiet", "--out", out.path])
            // The second case is stopped once its directory is claimed (drawing the weights takes seconds).
            let ready = signal == SIGINT ? { FileManager.default.fileExists(atPath: out.appendingPathComponent(".widenet.lock").path) }
                                         : { usleep(1_500_000); return true }
            let caught = Self.wait(for: p, until: ready)
            let sent = Date()
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            try #require(caught, "the run ended before the signal")
            #expect(Date().timeIntervalSince(sent) < 1.0, "took \(Date().timeIntervalSince(sent)) s to stop")
            #expect(p.terminationStatus == 128 + signal, "exit status \(p.terminationStatus)")
            #expect(!FileManager.default.fileExists(atPath: out.deletingLastPathComponent().path), "the run directory was left behind")
        }
        // Kill a run, interrupt its resumption at once, resume again: the same files as a plain run.
        let plain = dir.appendingPathComponent("plain"), killed = dir.appendingPathComponent("killed")
        #expect(try CLITests.run(Self.trainArgs(plain, backend: "cpu")).status == 0)
        let p = try Self.start(Self.trainArgs(killed, backend: "cpu"))
        _ = Self.wait(for: p) { (Self.checkpointStep(killed) ?? 0) >= 40 }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let again = try Self.start(["train", "--resume", killed.path, "--quiet"])
        usleep(300_000)   // past exec and the dynamic loader: before main, a signal still has its default action
        kill(again.processIdentifier, SIGTERM)
        again.waitUntilExit()
        #expect(again.terminationReason == .exit && (again.terminationStatus == 128 + SIGTERM || again.terminationStatus == 0),
                "status \(again.terminationStatus), reason \(again.terminationReason.rawValue)")
        #expect(FileManager.default.fileExists(atPath: killed.appendingPathComponent("config.json").path))
        // A fast machine may finish the resumption before the signal lands; then there is nothing left to resume.
        if again.terminationStatus != 0 {
            let resumed = try CLITests.run(["train", "--resume", killed.path, "--quiet"])
            guard resumed.status == 0 else { Issue.record("resume after an interrupted resume failed: \(resumed.stderr)"); return }
        }
        try Self.expectSameFiles(plain, killed)
    }

    @Test func resumingSomethingThatIsNotARunFails() throws {
        let dir = try CLITests.scratch()
        let r = try CLITests.run(["train", "--resume", dir.appendingPathComponent("nothing").path])
        #expect(r.status != 0 && r.stderr.hasPrefix("error:") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
}
