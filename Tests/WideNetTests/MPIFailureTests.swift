#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import WideNet

/// A job of ranks that loses one: kill -9 of a rank, a rank that stops answering, a signal that
/// reaches one rank only. Each ends the whole job with one line, keeps the last checkpoint whole,
/// and `--resume` with the same number of ranks then finishes with the uninterrupted run's bytes.
@Suite(.serialized, .enabled(if: LaunchEnvironmentTests.mpirun != nil, "mpirun (openmpi-bin) is not installed"))
struct MPIFailureTests {
    /// mpirun started without waiting: the test acts on its ranks while they run.
    final class Job {
        let process = Process()
        private let out: URL, err: URL

        init(_ ranks: Int, _ args: [String], env: [String: String] = [:]) throws {
            process.executableURL = URL(fileURLWithPath: LaunchEnvironmentTests.mpirun!)
            process.arguments = ["-q", "--oversubscribe", "--allow-run-as-root", "-np", "\(ranks)", CLITests.binary.path] + args
            var environment = ProcessInfo.processInfo.environment
            environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
            for (k, v) in env { environment[k] = v }
            process.environment = environment
            // Files, not pipes: nothing has to read while the test acts on the ranks.
            let dir = try CLITests.scratch()
            out = dir.appendingPathComponent("stdout"); err = dir.appendingPathComponent("stderr")
            FileManager.default.createFile(atPath: out.path, contents: nil); FileManager.default.createFile(atPath: err.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: out); process.standardError = try FileHandle(forWritingTo: err)
            try process.run()
        }

        /// Waits for the end (at most `seconds`, then kills the job and fails).
        func finish(within seconds: Double) throws -> CLITests.Output {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning {
                process.terminate()
                Issue.record("the job did not end within \(seconds) s")
            }
            process.waitUntilExit()
            return .init(status: process.terminationStatus, reason: process.terminationReason,
                         stdout: try String(contentsOf: out, encoding: .utf8), stderr: try String(contentsOf: err, encoding: .utf8))
        }
    }

    /// The process id of rank `rank` of the job writing to `out` (found by its launcher's environment).
    static func pid(ofRank rank: Int, writing out: URL) -> Int32? {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains(out.path),
                  !String(decoding: cmdline, as: UTF8.self).hasPrefix(LaunchEnvironmentTests.mpirun!),
                  let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            if String(decoding: environ, as: UTF8.self).split(separator: "\0").contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }

    /// Waits until the run in `out` has a checkpoint (state.json), at most 60 s.
    static func firstCheckpoint(in out: URL, job: Job) throws {
        let state = out.appendingPathComponent("checkpoint/state.json")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: state.path) && job.process.isRunning && Date() < deadline { usleep(10_000) }
        try #require(FileManager.default.fileExists(atPath: state.path), "no checkpoint was written")
        try #require(!FileManager.default.fileExists(atPath: out.appendingPathComponent("summary.json").path),
                     "the run finished before a rank could be stopped")
    }

    static func expectSameFiles(_ files: [String], _ a: URL, _ b: URL) throws {
        for file in files {
            #expect(try Data(contentsOf: a.appendingPathComponent(file)) == Data(contentsOf: b.appendingPathComponent(file)), "\(file)")
        }
    }

    /// Starts `args` on `ranks` ranks writing `out`, waits for its first checkpoint and sends
    /// `signal` to rank `rank`; returns that rank's process id and how the job ended.
    static func stop(rank: Int, with signal: Int32, of ranks: Int, _ args: [String], out: URL,
                     env: [String: String] = [:]) throws -> (pid: Int32, ended: CLITests.Output) {
        let job = try Job(ranks, args + ["--out", out.path], env: env)
        try firstCheckpoint(in: out, job: job)
        let pid = try #require(Self.pid(ofRank: rank, writing: out), "rank \(rank) not found")
        kill(pid, signal)
        defer { if signal == SIGSTOP { kill(pid, SIGKILL) } }
        let ended = try job.finish(within: 30)
        #expect(ended.status != 0)
        return (pid, ended)
    }

    static let train = ["train", "--n", "16", "--d", "5", "--width", "30000", "--block-width", "4096", "--steps", "600",
                        "--log-every", "10", "--checkpoint-every", "10", "--seed", "6", "--backend", "cpu", "--quiet"]

    /// kill -9 of rank 1 of 3: rank 0 names it in one line with the checkpoint that continues the
    /// run, every rank ends, and the resume on 3 ranks ends as the run alone does.
    @Test func killedRankEndsTheJobAndTheResumeFinishesIdentically() throws {
        let dir = try CLITests.scratch(), out = dir.appendingPathComponent("np3")
        let (victim, r) = try Self.stop(rank: 1, with: SIGKILL, of: 3, Self.train, out: out)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1, "one line: \(r.stderr)")
        #expect(errors.first?.contains("rank 1 of 3 (pid \(victim), this machine) ended without a word") == true, "\(r.stderr)")
        #expect(errors.first?.contains("`mpirun -np 3 widenet train --resume \(out.path)`") == true, "\(r.stderr)")
        #expect(Self.pid(ofRank: 0, writing: out) == nil && Self.pid(ofRank: 2, writing: out) == nil, "a rank outlived the job")

        let resumed = try MPIRunTests.mpirun(3, ["train", "--resume", out.path, "--quiet"])
        try #require(resumed.status == 0, "\(resumed.stderr)")
        let alone = try CLITests.run(Self.train + ["--out", dir.appendingPathComponent("alone").path])
        try #require(alone.status == 0, "\(alone.stderr)")
        try Self.expectSameFiles(["metrics.jsonl", "u.npy"], out, dir.appendingPathComponent("alone"))
    }

    /// A rank that stops answering (SIGSTOP) leaves the others in a collective: past
    /// WIDENET_EXCHANGE_TIMEOUT they end the job, saying how long they waited.
    @Test func stalledRankIsEndedByTheWatchdog() throws {
        let out = try CLITests.scratch().appendingPathComponent("np2")
        let (_, r) = try Self.stop(rank: 1, with: SIGSTOP, of: 2, Self.train, out: out, env: ["WIDENET_EXCHANGE_TIMEOUT": "1"])
        #expect(r.stderr.contains("error: rank 0 of 2 waited 1 s in an exchange for a rank that never came"), "\(r.stderr)")
        #expect(r.stderr.contains("the checkpoint of step"), "\(r.stderr)")
    }

    /// SIGTERM to one rank of three: all checkpoint at the same step and stop, rank 0 says how to
    /// continue; the resume is refused on another number of ranks and on three finishes as the run
    /// alone does (the mean-field particles, each rank's own share in its checkpoint).
    @Test func signalToOneRankStopsThemAllAtOneStep() throws {
        let dir = try CLITests.scratch(), out = dir.appendingPathComponent("np3")
        let args = ["mfld", "--task", "teacher", "--n", "32", "--n-test", "16", "--d", "3", "--particles", "5000", "--block-width", "1024",
                    "--steps", "300", "--log-every", "10", "--checkpoint-every", "100", "--entropy-sample", "200", "--seed", "8",
                    "--save-particles", "--backend", "cpu", "--quiet"]
        let (_, r) = try Self.stop(rank: 2, with: SIGTERM, of: 3, args, out: out)
        let notes = r.stderr.split(separator: "\n").filter { $0.contains("checkpoint written") }
        #expect(notes.count == 1, "rank 0 alone says it: \(r.stderr)")
        #expect(notes.first?.contains("continue with `mpirun -np 3 widenet mfld --resume \(out.path)`") == true, "\(r.stderr)")
        #expect(!r.stderr.contains("error:"), "\(r.stderr)")

        let wrong = try MPIRunTests.mpirun(2, ["mfld", "--resume", out.path, "--quiet"])
        #expect(wrong.status == 65)
        #expect(wrong.stderr.contains("written by 3 ranks, but this job has 2"), "\(wrong.stderr)")
        let resumed = try MPIRunTests.mpirun(3, ["mfld", "--resume", out.path, "--quiet"])
        try #require(resumed.status == 0, "\(resumed.stderr)")
        let alone = try CLITests.run(args + ["--out", dir.appendingPathComponent("alone").path])
        try #require(alone.status == 0, "\(alone.stderr)")
        try Self.expectSameFiles(["metrics.jsonl", "particles.npy", "sample.npy"], out, dir.appendingPathComponent("alone"))
    }
}
