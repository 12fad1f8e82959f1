import Foundation
import Testing
@testable import WideNet

/// Runs split over ranks by mpirun, through the binary: the same files, byte for byte, as one
/// process; commands that do not split refuse the launcher.
@Suite(.serialized, .enabled(if: LaunchEnvironmentTests.mpirun != nil, "mpirun (openmpi-bin) is not installed"))
struct MPIRunTests {
    static func mpirun(_ ranks: Int, _ args: [String]) throws -> CLITests.Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: LaunchEnvironmentTests.mpirun!)
        p.arguments = ["--oversubscribe", "--allow-run-as-root", "-np", "\(ranks)", CLITests.binary.path] + args
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"   // no cross-memory attach in containers
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return .init(status: p.terminationStatus, reason: p.terminationReason, stdout: String(decoding: o, as: UTF8.self),
                     stderr: String(decoding: e, as: UTF8.self))
    }

    /// Runs `args` alone and on each of `rankCounts` (`ranked` rewrites what the ranks get), expecting
    /// `files` the same bytes; returns the scratch folder (alone/ and np<K>/ in it).
    @discardableResult
    static func expectSameBytes(_ args: [String], on rankCounts: [Int], files: [String],
                                ranked: ([String]) -> [String] = { $0 }) throws -> URL {
        let dir = try CLITests.scratch()
        let alone = try CLITests.run(args + ["--out", dir.appendingPathComponent("alone").path])
        try #require(alone.status == 0, "\(alone.stderr)")
        for ranks in rankCounts {
            let out = dir.appendingPathComponent("np\(ranks)")
            let r = try mpirun(ranks, ranked(args) + ["--out", out.path])
            try #require(r.status == 0, "\(ranks) ranks: \(r.stderr)")
            for file in files {
                #expect(try Data(contentsOf: out.appendingPathComponent(file)) == Data(contentsOf: dir.appendingPathComponent("alone/\(file)")),
                        "\(ranks) ranks: \(file)")
            }
            #expect(r.stdout.components(separatedBy: "run directory:").count == 2, "rank 0 alone reports: \(r.stdout)")
        }
        return dir
    }

    /// 16 blocks of 64 neurons dealt over 1, 2 and 3 ranks, f32 and f64, the output layer trained too.
    @Test(arguments: ["f32", "f64"])
    func trainIsTheSameBytesOnEveryRankCount(precision: String) throws {
        let args = ["train", "--n", "12", "--d", "5", "--width", "1000", "--block-width", "64", "--steps", "30", "--log-every", "3",
                    "--seed", "4", "--train-output", "--save-weights", "--precision", precision, "--backend", "cpu", "--quiet"]
        try Self.expectSameBytes(args, on: [1, 2, 3], files: ["metrics.jsonl", "w.npy", "a.npy", "u.npy"])
    }

    /// Averaged SGD on a stream, output layer trained, over 2 and 3 ranks: every rank draws the same
    /// batches, and the average of every rank's blocks is gathered for w_average.npy.
    @Test func averagedSGDIsTheSameBytesOnEveryRankCount() throws {
        let args = ["train", "--optimizer", "sgd", "--stream", "--average", "--average-from", "3", "--batch", "2", "--width", "1000",
                    "--block-width", "64", "--steps", "40", "--log-every", "4", "--test-size", "24", "--train-output", "--save-weights",
                    "--backend", "cpu", "--quiet"]
        try Self.expectSameBytes(args, on: [2, 3], files: ["metrics.jsonl", "w.npy", "a.npy", "w_average.npy", "a_average.npy"])
    }

    /// The empirical Gram matrix at m = 2.5·10^6, three blocks of 2^20, over 1, 2 and 3 ranks (the counts summed exactly).
    @Test func gramIsTheSameBytesOnEveryRankCount() throws {
        let args = ["gram", "--n", "40", "--d", "6", "--width", "2500000", "--seed", "9", "--backend", "cpu", "--quiet"]
        try Self.expectSameBytes(args, on: [1, 2, 3], files: ["metrics.jsonl", "gram_0.npy", "gram_inf.npy", "gram_inf_eigenvalues.npy"])
    }

    /// Two ranks on the OpenCL backend (PoCL here), both on the one device: train and mfld give
    /// the bytes of one OpenCL process; a --device list must name one device per local rank.
    @Test(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
    func openCLRanksAreTheSameBytes() throws {
        let runs: [(args: [String], files: [String])] = [
            (["train", "--n", "12", "--d", "5", "--width", "1000", "--block-width", "64", "--steps", "10", "--log-every", "2",
              "--seed", "4", "--save-weights"], ["metrics.jsonl", "w.npy", "a.npy", "u.npy"]),
            (["mfld", "--task", "teacher", "--n", "24", "--n-test", "8", "--d", "3", "--particles", "3000", "--block-width", "1024",
              "--steps", "4", "--log-every", "1", "--entropy-sample", "100", "--seed", "2", "--save-particles"], ["metrics.jsonl", "particles.npy"]),
        ]
        for run in runs {
            try Self.expectSameBytes(run.args + ["--backend", "opencl", "--device", "0", "--quiet"], on: [2], files: run.files) { args in
                args.map { $0 == "0" ? "0,0" : $0 }   // one device per local rank
            }
        }
        let wrong = try Self.mpirun(2, ["train", "--n", "8", "--d", "3", "--width", "64", "--steps", "1", "--backend", "opencl",
                                        "--device", "0,0,0", "--quiet", "--out", try CLITests.scratch().appendingPathComponent("wrong").path])
        #expect(wrong.status == 64)
        #expect(wrong.stderr.contains("--device 0,0,0 lists 3 devices but 2 ranks run on this machine"), "\(wrong.stderr)")
    }

    /// Each rank's peak resident memory at m = 2^21 (n = 32, d = 32, f32, eight blocks): the base a
    /// process needs plus its share of the width, b + c/K. b and c are fitted to one process and
    /// two ranks; four ranks must fall where the line puts them, and well below one process.
    @Test func eachRanksPeakMemoryFallsAsOneOverK() throws {
        let dir = try CLITests.scratch()
        let args = ["train", "--n", "32", "--d", "32", "--width", "2097152", "--block-width", "262144", "--steps", "1",
                    "--backend", "cpu", "--quiet"]
        let alone = try CLITests.run(args + ["--out", dir.appendingPathComponent("alone").path])
        try #require(alone.status == 0, "\(alone.stderr)")
        func peak(_ out: URL, ranks: Int) throws -> Double {
            let s = try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
            guard ranks > 1 else { return try #require(s["peak_resident_bytes"]?.doubleValue) }
            guard case .object(let exchange)? = s["exchange"], case .array(let peaks)? = exchange["peak_resident_bytes"] else {
                throw WideNetIOError("\(out.path): summary.json has no exchange.peak_resident_bytes")
            }
            #expect(peaks.count == ranks)
            return peaks.compactMap(\.doubleValue).max() ?? .nan
        }
        var peaks = [1: try peak(dir.appendingPathComponent("alone"), ranks: 1)]
        for ranks in [2, 4] {
            let out = dir.appendingPathComponent("np\(ranks)")
            let r = try Self.mpirun(ranks, args + ["--out", out.path])
            try #require(r.status == 0, "\(ranks) ranks: \(r.stderr)")
            peaks[ranks] = try peak(out, ranks: ranks)
        }
        let (one, two, four) = (peaks[1]!, peaks[2]!, peaks[4]!)
        let share = 2 * (one - two), base = one - share   // b + c = one, b + c/2 = two
        #expect(share > 0.7 * one, "the width is most of a process's memory: \(peaks)")
        #expect(abs(four - (base + share / 4)) < 0.08 * one, "four ranks off the line b + c/K: \(peaks)")
    }

    /// A width sweep over two ranks: rank 0 keeps the sweep's directory and plans each member,
    /// both run every width (two and three blocks of 2^20); each member's files are the run alone's,
    /// and so are the sweep's fitted slopes.
    @Test func sweepIsTheSameOverTwoRanks() throws {
        let args = ["sweep", "--widths", "1100000,2200000", "--n", "8", "--d", "3", "--steps", "3", "--seed", "5", "--backend", "cpu", "--quiet"]
        let dir = try Self.expectSameBytes(args, on: [2], files: ["width-1100000/metrics.jsonl", "width-2200000/metrics.jsonl", "width-2200000/u.npy"])
        let out = dir.appendingPathComponent("np2")
        let summary = { (u: URL) in try RunFiles.object(in: u.appendingPathComponent("summary.json"), shown: u.path) }
        let one = try summary(dir.appendingPathComponent("alone")), two = try summary(out)
        for key in ["slope_max_move", "slope_flip_fraction", "slope_kernel_deviation"] {
            #expect(one[key] != nil && one[key] == two[key], "\(key)")
        }
    }

    /// The mean-field particles in five blocks of 1024 dealt over 1, 2 and 3 ranks: the outputs,
    /// the objective with its entropy estimate and every particle the same bytes as one process.
    @Test func mfldIsTheSameBytesOnEveryRankCount() throws {
        let args = ["mfld", "--task", "teacher", "--n", "32", "--n-test", "16", "--d", "3", "--particles", "5000", "--block-width", "1024",
                    "--steps", "3", "--log-every", "1", "--entropy-sample", "300", "--seed", "3", "--save-particles", "--backend", "cpu", "--quiet"]
        try Self.expectSameBytes(args, on: [1, 2, 3], files: ["metrics.jsonl", "particles.npy", "sample.npy"])
    }

    @Test func commandsThatDoNotSplitRefuseTheLauncher() throws {
        let r = try Self.mpirun(2, ["saddle", "--steps", "5", "--quiet", "--out", try CLITests.scratch().appendingPathComponent("s").path])
        #expect(r.status == 64)
        #expect(r.stderr.contains("error: mpirun started 2 ranks, but saddle runs in one process"), "\(r.stderr)")
    }
}
