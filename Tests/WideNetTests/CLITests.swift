import Foundation
import Testing
@testable import WideNet

/// The `widenet` binary on bad input: one line on standard error naming the problem, a non-zero
/// exit, and no run directory left behind.
@Suite(.serialized)
struct CLITests {
    static let binary: URL = {
        // Tests run from <build>/debug/WideNetPackageTests.xctest; the executable sits beside it.
        let bundle = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }
        return (bundle?.bundleURL.deletingLastPathComponent() ?? URL(fileURLWithPath: ".build/debug"))
            .appendingPathComponent("widenet")
    }()

    struct Output { let status: Int32; let reason: Process.TerminationReason; let stdout: String; let stderr: String }

    /// `addressSpaceKB`: run under `ulimit -v`, so that a size that is not refused fails in the allocator
    /// at once instead of filling the machine; `seconds`: terminate it past that time.
    static func run(_ args: [String], env: [String: String] = [:], in cwd: URL? = nil, addressSpaceKB: Int? = nil,
                    seconds: Double? = nil) throws -> Output {
        let p = Process()
        if let addressSpaceKB {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "ulimit -v \(addressSpaceKB); exec \"$0\" \"$@\"", binary.path] + args
        } else {
            p.executableURL = binary
            p.arguments = args
        }
        if let cwd { p.currentDirectoryURL = cwd }
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        if let seconds { DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog) }
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        return Output(status: p.terminationStatus, reason: p.terminationReason, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("widenet-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes good X (n×d), y (n) files and returns their paths.
    static func goodData(_ dir: URL, n: Int = 8, d: Int = 3) throws -> (x: String, y: String) {
        let data = SyntheticData.sphere(n: n, d: d, seed: 3)
        let x = dir.appendingPathComponent("X.npy"), y = dir.appendingPathComponent("y.npy")
        try NPY.write(data.x, shape: [n, d], to: x)
        try NPY.write(data.y, shape: [n], to: y)
        return (x.path, y.path)
    }

    /// Runs `args` with `--out` (a fresh path unless `out` is given) and `--quiet` and expects the
    /// clean failure every command promises (README), with no run directory at `out` afterwards.
    func expectCleanFailure(_ args: [String], env: [String: String] = [:], out: String? = nil, mentions: String...,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let out = try out ?? CLITests.scratch().appendingPathComponent("run").path
        try expectOneLineError(args + ["--out", out, "--quiet"], env: env, mentions: mentions, sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: out), "a run directory was left behind", sourceLocation: sourceLocation)
    }

    /// A non-zero exit by the process itself (not a signal), and on standard error, apart from
    /// notes, exactly one line: `error: …` mentioning each of `mentions`; no usage block, no trap.
    func expectOneLineError(_ args: [String], env: [String: String] = [:], mentions: [String],
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try CLITests.run(args, env: env)
        #expect(r.reason == .exit, "killed by signal \(r.status) for \(args): \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.status != 0, "exit status 0 for \(args)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("note:") }
        #expect(lines.count == 1, "expected one error line for \(args), got: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(lines.first?.hasPrefix("error: ") == true, "not an `error:` line: \(r.stderr)", sourceLocation: sourceLocation)
        for fragment in mentions {
            #expect(r.stderr.localizedCaseInsensitiveContains(fragment), "error does not mention '\(fragment)': \(r.stderr)",
                    sourceLocation: sourceLocation)
        }
        for trace in ["Fatal error", "Stack dump", "Backtrace", "Current stack trace", "Usage:"] {
            #expect(!r.stderr.contains(trace), "standard error holds '\(trace)': \(r.stderr)", sourceLocation: sourceLocation)
        }
    }

    /// A .npy file with header text `header` and `payload` zero bytes, in `dir`.
    static func npy(_ dir: URL, _ name: String, header: String, payload: Int) throws -> String {
        let url = dir.appendingPathComponent(name)
        try NPYTests.file(header, payload: [UInt8](repeating: 0, count: payload)).write(to: url)
        return url.path
    }

    @Test func truncatedNPY() throws {
        let dir = try CLITests.scratch()
        let (x, y) = try CLITests.goodData(dir)
        let data = try Data(contentsOf: URL(fileURLWithPath: x))
        let bad = dir.appendingPathComponent("trunc.npy")
        try data.prefix(data.count - 7).write(to: bad)
        try expectCleanFailure(["train", "--x", bad.path, "--y", y, "--steps", "2"], mentions: "truncated")
    }

    @Test func wrongDtype() throws {
        let dir = try CLITests.scratch()
        let (_, y) = try CLITests.goodData(dir)
        // A valid int64 .npy header: numpy's format, but a dtype we do not take.
        var header = "{'descr': '<i8', 'fortran_order': False, 'shape': (8, 3), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var file = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
        file += Data(header.utf8) + Data(count: 8 * 3 * 8)
        let bad = dir.appendingPathComponent("int.npy")
        try file.write(to: bad)
        try expectCleanFailure(["train", "--x", bad.path, "--y", y], mentions: "dtype")
    }

    @Test func shapeMismatchBetweenXAndY() throws {
        let dir = try CLITests.scratch()
        let (x, _) = try CLITests.goodData(dir)
        let y = dir.appendingPathComponent("y5.npy")
        try NPY.write([Double](repeating: 0.5, count: 5), shape: [5], to: y)
        try expectCleanFailure(["train", "--x", x, "--y", y.path], mentions: "shape")
    }

    @Test func zeroWidth() throws {
        try expectCleanFailure(["train", "--width", "0", "--steps", "1", "--backend", "cpu"], mentions: "--width")
    }

    @Test func nanInLabels() throws {
        let dir = try CLITests.scratch()
        let (x, _) = try CLITests.goodData(dir)
        var labels = [Double](repeating: 0.25, count: 8)
        labels[5] = .nan
        let y = dir.appendingPathComponent("ynan.npy")
        try NPY.write(labels, shape: [8], to: y)
        try expectCleanFailure(["train", "--x", x, "--y", y.path], mentions: "non-finite")
    }

    @Test func openCLWhereNoneExists() throws {
        // An ICD directory with no drivers: the loader finds no platform.
        let empty = try CLITests.scratch()
        try expectCleanFailure(["train", "--backend", "opencl", "--steps", "1"],
                               env: ["OCL_ICD_VENDORS": empty.path, "OPENCL_VENDOR_PATH": empty.path], mentions: "OpenCL")
    }

    @Test func parallelInputs() throws {
        let dir = try CLITests.scratch()
        var x = SyntheticData.sphere(n: 6, d: 3, seed: 1).x
        for k in 0..<3 { x[3 + k] = x[k] }   // row 1 repeats row 0: λ0 = 0
        let xp = dir.appendingPathComponent("Xpar.npy"), yp = dir.appendingPathComponent("y6.npy")
        try NPY.write(x, shape: [6, 3], to: xp)
        try NPY.write([Double](repeating: 0.1, count: 6), shape: [6], to: yp)
        try expectCleanFailure(["train", "--x", xp.path, "--y", yp.path, "--backend", "cpu"], mentions: "λ0")
    }

    @Test func widthThatDoesNotFit() throws {
        try expectCleanFailure(["train", "--width", "4000000000000", "--backend", "cpu"], mentions: "largest width")
    }

    // MARK: The bad-input catalogue

    /// X (8×3) as numpy would write it, but with header text `header`; the right number of bytes follow
    /// when the dtype is 8 bytes wide.
    static func badX(_ header: String, payload: Int = 8 * 3 * 8) throws -> (dir: URL, x: String, y: String) {
        let dir = try scratch()
        let (_, y) = try goodData(dir)
        return (dir, try npy(dir, "X.npy", header: header, payload: payload), y)
    }

    @Test func bigEndianNPY() throws {
        let (_, x, y) = try CLITests.badX("{'descr': '>f8', 'fortran_order': False, 'shape': (8, 3), }")
        try expectCleanFailure(["train", "--x", x, "--y", y], mentions: x, "big-endian")
    }

    @Test func fortranOrderNPY() throws {
        let (_, x, y) = try CLITests.badX("{'descr': '<f8', 'fortran_order': True, 'shape': (8, 3), }")
        try expectCleanFailure(["train", "--x", x, "--y", y], mentions: x, "Fortran-ordered")
    }

    @Test(arguments: [("<c16", 16), ("|b1", 1), ("<f2", 2), ("|O", 8), ("<u4", 4)])
    func unsupportedDtype(descr: String, itemSize: Int) throws {
        let (_, x, y) = try CLITests.badX("{'descr': '\(descr)', 'fortran_order': False, 'shape': (8, 3), }",
                                          payload: 8 * 3 * itemSize)
        try expectCleanFailure(["train", "--x", x, "--y", y], mentions: x, "unsupported dtype '\(descr)'")
    }

    enum MalformedHeader: String, CaseIterable, Sendable {
        case badMagic, lengthBeyondFile, notADict, noDescr, noFortranOrder, noShape

        /// The file's bytes and what the error must say.
        var file: (bytes: Data, problem: String) {
            let good = NPY.encode([Double](repeating: 0.5, count: 24), shape: [8, 3])
            var bytes = [UInt8](good)
            func header(_ text: String) -> Data { NPYTests.file(text, payload: [UInt8](repeating: 0, count: 8 * 3 * 8)) }
            switch self {
            case .badMagic:
                bytes[5] = UInt8(ascii: "X")
                return (Data(bytes), "bad magic")
            case .lengthBeyondFile:
                bytes[8] = 0xFF; bytes[9] = 0xFF
                return (Data(bytes), "header length is 65535 bytes")
            case .notADict: return (header("['<f8', False, (8, 3)]"), "not a dict")
            case .noDescr: return (header("{'fortran_order': False, 'shape': (8, 3), }"), "no 'descr'")
            case .noFortranOrder: return (header("{'descr': '<f8', 'shape': (8, 3), }"), "no 'fortran_order'")
            case .noShape: return (header("{'descr': '<f8', 'fortran_order': False, }"), "no 'shape'")
            }
        }
    }

    @Test(arguments: MalformedHeader.allCases) func malformedHeader(_ kind: MalformedHeader) throws {
        let dir = try CLITests.scratch()
        let (_, y) = try CLITests.goodData(dir)
        let x = dir.appendingPathComponent("\(kind.rawValue).npy")
        try kind.file.bytes.write(to: x)
        try expectCleanFailure(["train", "--x", x.path, "--y", y], mentions: x.path, kind.file.problem)
    }

    /// X and y with the given shapes (zero-filled but for X's first column), for each command that reads files.
    static func arrays(_ dir: URL, x shape: [Int], y count: Int) throws -> (x: String, y: String) {
        let x = dir.appendingPathComponent("X.npy"), y = dir.appendingPathComponent("y.npy")
        let values = (0..<shape.reduce(1, *)).map { shape[1] > 0 && $0 % shape[1] == 0 ? 1.0 : 0.0 }
        try NPY.write(values, shape: shape, to: x)
        try NPY.write([Double](repeating: 0.5, count: count), shape: [count], to: y)
        return (x.path, y.path)
    }

    @Test(arguments: [("train", [0, 3], "X is empty"), ("train", [3, 0], "X is empty"), ("gram", [0, 3], "non-empty"),
                      ("mfld", [0, 3], "at least 2 rows")])
    func emptyArrays(command: String, shape: [Int], problem: String) throws {
        let dir = try CLITests.scratch()
        let (x, y) = try CLITests.arrays(dir, x: shape, y: shape[0])
        let files = command == "gram" ? ["--x", x] : ["--x", x, "--y", y]
        try expectCleanFailure([command] + files + ["--backend", "cpu"], mentions: x, problem)
    }

    @Test(arguments: ["train", "gram", "mfld"]) func infinityInX(command: String) throws {
        let dir = try CLITests.scratch()
        let (_, y) = try CLITests.goodData(dir)
        var x = SyntheticData.sphere(n: 8, d: 3, seed: 2).x
        x[7] = -.infinity   // row 2, column 1
        let xp = dir.appendingPathComponent("Xinf.npy")
        try NPY.write(x, shape: [8, 3], to: xp)
        let files = command == "gram" ? ["--x", xp.path] : ["--x", xp.path, "--y", y]
        try expectCleanFailure([command] + files + ["--backend", "cpu"], mentions: xp.path, "non-finite", "row 2")
    }

    /// With file data the training rows are known only after the split (the last 20 % are held out).
    @Test func batchLargerThanTheTrainingRowsOfAFile() throws {
        let dir = try CLITests.scratch()
        let (x, y) = try CLITests.goodData(dir, n: 10)
        try expectCleanFailure(["mfld", "--x", x, "--y", y, "--batch", "9", "--backend", "cpu"],
                               mentions: "--batch 9 exceeds the 8 training samples")
    }

    /// An all-zero row has no direction: λ0 = 0 and the NTK theory does not apply.
    @Test(arguments: ["train", "gram"]) func zeroInput(command: String) throws {
        let dir = try CLITests.scratch()
        let (_, y) = try CLITests.goodData(dir)
        var x = SyntheticData.sphere(n: 8, d: 3, seed: 2).x
        for k in 0..<3 { x[4 * 3 + k] = 0 }
        let xp = dir.appendingPathComponent("Xzero.npy")
        try NPY.write(x, shape: [8, 3], to: xp)
        let files = command == "gram" ? ["--x", xp.path] : ["--x", xp.path, "--y", y]
        try expectCleanFailure([command] + files + ["--backend", "cpu"], mentions: xp.path, "row 4 of X is zero")
    }

    @Test(arguments: [
        (["train", "--width", "-5"], "--width must be at least 1 (got -5)"),
        (["train", "--width", "99999999999999999999"], "'99999999999999999999' is invalid for '--width"),
        (["gram", "--width", "-5"], "--width must be at least 1 (got -5)"),
        (["mfld", "--particles", "0"], "--particles must be at least 1 (got 0)"),
        (["mfld", "--particles", "-3"], "--particles must be at least 1 (got -3)"),
        (["mfld", "--particles", "99999999999999999999"], "'99999999999999999999' is invalid for '--particles"),
        (["mfld", "--particles", "9000000000000000000"], "--particles 9000000000000000000 is beyond"),
    ])
    func sizeOutOfRange(args: [String], problem: String) throws {
        try expectCleanFailure(args + ["--n", "8", "--d", "3", "--backend", "cpu"], mentions: problem)
    }

    @Test func outUnderARegularFile() throws {
        let dir = try CLITests.scratch()
        let file = dir.appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        let out = file.appendingPathComponent("run").path
        try expectCleanFailure(["train", "--n", "8", "--d", "3", "--width", "10", "--steps", "1", "--backend", "cpu"],
                               out: out, mentions: "--out \(out)", "not a directory")
    }

    @Test func outIsARegularFile() throws {
        let dir = try CLITests.scratch()
        let file = dir.appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        try expectOneLineError(["train", "--n", "8", "--d", "3", "--width", "10", "--steps", "1", "--backend", "cpu",
                                "--out", file.path, "--quiet"], mentions: ["--out \(file.path)", "not a directory"])
        #expect(try Data(contentsOf: file) == Data("x".utf8), "the file given as --out was touched")
    }

    @Test(.enabled(if: geteuid() != 0, "running as root, which may write into read-only directories"))
    func outUnderAReadOnlyDirectory() throws {
        let dir = try CLITests.scratch().appendingPathComponent("locked")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: dir.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path) }
        let out = dir.appendingPathComponent("a/run").path
        try expectCleanFailure(["train", "--n", "8", "--d", "3", "--width", "10", "--steps", "1", "--backend", "cpu"],
                               out: out, mentions: "--out \(out)", "Permission denied")
    }

    #if os(Linux)
    /// Nothing can be created under /proc, even by root.
    @Test func outWhereNothingCanBeCreated() throws {
        let out = "/proc/widenet-\(UUID().uuidString)/run"
        try expectCleanFailure(["train", "--n", "8", "--d", "3", "--width", "10", "--steps", "1", "--backend", "cpu"],
                               out: out, mentions: "--out \(out)", "cannot create")
    }
    #endif

    @Test(arguments: [
        (["train", "--lr", "-0.1"], "--lr must be a positive number (got -0.1)"),
        (["train", "--steps", "-1"], "--steps must be ≥ 0 (got -1)"),
        (["train", "--kappa", "-1"], "--kappa must be positive"),
        (["train", "--log-every", "0"], "--log-every must be ≥ 1"),
        (["train", "--block-width", "5"], "--block-width must be a positive multiple of 32"),
        (["train", "--precision", "f16"], "'f16' is invalid for '--precision"),
        (["train", "--backend", "foo"], "'foo' is invalid for '--backend"),
        (["train", "--width"], "Missing value for '--width"),
        (["train", "--no-such-option", "3"], "Unknown option '--no-such-option'"),
        (["gram", "--kappa", "0"], "--kappa must be a positive number (got 0.0)"),
        (["mfld", "--lr", "-1"], "--lr must be a positive number (got -1.0)"),
        (["mfld", "--steps", "-1"], "--steps must be ≥ 0 (got -1)"),
        (["mfld", "--batch", "500", "--n", "100"], "--batch 500 exceeds the 100 training samples"),
        (["mfld", "--n-test", "0"], "--n-test must be at least 1 (got 0)"),
        (["mfld", "--teacher-width", "0"], "--teacher-width must be at least 1 (got 0)"),
        (["mfld", "--anneal-factor", "2"], "--anneal-factor must be in (0, 1]"),
        (["mfld", "--lambda-ent", "-1"], "--lambda-ent must be ≥ 0"),
    ])
    func optionOutOfRange(args: [String], problem: String) throws {
        try expectCleanFailure(args + (args.contains("--backend") ? [] : ["--backend", "cpu"]), mentions: problem)
    }

    @Test(arguments: [
        (["saddle", "--teacher-rank", "20", "--d", "10", "--k", "5"], "--teacher-rank must be between 1 and min(d, k) = 5"),
        (["saddle", "--init-scale", "0"], "--init-scale must be positive"),
        (["saddle", "--init-scale", "-1"], "--init-scale must be positive"),
        (["saddle", "--lr", "-1"], "--lr must be positive"),
        (["saddle", "--steps", "-1"], "--steps must be ≥ 0"),
    ])
    func saddleOptionOutOfRange(args: [String], problem: String) throws {
        try expectCleanFailure(args + ["--backend", "cpu"], mentions: problem)
    }

    @Test(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason)) func deviceIndexBeyondTheDevices() throws {
        try expectCleanFailure(["train", "--backend", "opencl", "--device", "99", "--n", "8", "--d", "3", "--width", "10",
                                "--steps", "1"], mentions: "--device 99")
    }

    /// Options checked before the measurements start: bench takes no --out.
    @Test(arguments: [
        (["bench", "--particles", "0"], "--particles must be at least 1 (got 0)"),
        (["bench", "--repeats", "0"], "--repeats must be at least 1"),
        (["bench", "--gemm-sizes", "0,16"], "--gemm-sizes takes positive integers"),
        (["bench", "--backends", "foo"], "--backends foo: expected cpu, opencl or opencl:N"),
        (["bench", "--backends", "cpu,opencl:99"], "--backends opencl:99: there is no OpenCL device 99"),
        (["tune", "--size", "0"], "--size must be at least 1"),
        (["devices", "--no-such-option"], "Unknown option '--no-such-option'"),
    ])
    func commandWithoutRunDirectory(args: [String], problem: String) throws {
        try expectOneLineError(args, mentions: [problem])
    }

    @Test func benchJSONUnderARegularFile() throws {
        let dir = try CLITests.scratch()
        let file = dir.appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        let json = file.appendingPathComponent("bench.json").path
        try expectOneLineError(["bench", "--backends", "cpu", "--json", json], mentions: ["--json \(json)", "not a directory"])
    }

    /// The last component cannot be made: the directories made on the way to it are removed.
    @Test func outNameTooLong() throws {
        let dir = try CLITests.scratch()
        let out = dir.appendingPathComponent("new/" + String(repeating: "x", count: 300)).path
        try expectCleanFailure(["train", "--n", "8", "--d", "3", "--width", "10", "--steps", "1", "--backend", "cpu"],
                               out: out, mentions: "cannot create", "File name too long")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "a directory made on the way was left")
    }

    /// `widenet selftest`: one line per check and a closing count, exit 0 when all pass; --plans
    /// needs no device; a --check that matches nothing is refused by name.
    @Test(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
    func selftestPrintsOneLinePerCheckAndACount() throws {
        let json = try CLITests.scratch().appendingPathComponent("selftest.json")
        let r = try CLITests.run(["selftest", "--check", "philox_fill", "--check", "fused", "--width", "5000", "--json", json.path])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("PASS") }.count == 3, "\(r.stdout)")
        #expect(lines.last == "selftest: 3 passed, 0 failed")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any]
        #expect(report?["failed"] as? Int == 0 && (report?["checks"] as? [Any])?.count == 3)
        let plans = try CLITests.run(["selftest", "--plans"])
        #expect(plans.status == 0 && plans.stdout.contains("ntk_forward_tiled") && plans.stdout.contains(" 0 failed"))
        try expectOneLineError(["selftest", "--check", "no-such-kernel"], mentions: ["--check no-such-kernel"])
    }

    /// n×n matrices (train, gram's stored H∞: matrix-free it fits, Benchmarks/results/gram_scale_cpu.md) and saddle's n×m activations are checked against the memory
    /// this process may use before they are allocated: one line with the bytes needed, the bytes
    /// available and the largest size that fits, instead of a crash in the allocator.
    @Test(arguments: [["gram", "--n", "100000", "--d", "8", "--matrix", "stored"], ["train", "--n", "100000", "--steps", "1"],
                      ["saddle", "--n", "100000000", "--hidden", "1000"], ["saddle", "--n", "10", "--hidden", "1000000000"]])
    func sizesBeyondMemoryAreRefusedBeforeAllocating(args: [String]) throws {
        try expectCleanFailure(args, mentions: "of host memory but", "is available")
        // The limit a test or a shared machine sets is honoured too, naming the largest n that fits.
        try expectCleanFailure(["gram", "--n", "2000", "--d", "3"], env: ["WIDENET_MEMORY_LIMIT": "10000000"],
                               mentions: "WIDENET_MEMORY_LIMIT", "the largest n that fits is 645")
    }

    /// Progress when standard error is not a terminal: plain lines by default (nohup, Slurm), one
    /// JSON object per line with --progress json, nothing with none or --quiet.
    @Test func progressWithoutATerminal() throws {
        let dir = try CLITests.scratch()
        let base = ["train", "--n", "12", "--d", "4", "--width", "512", "--steps", "30", "--backend", "cpu"]
        let lines = try CLITests.run(base + ["--out", dir.appendingPathComponent("a").path])
        #expect(lines.status == 0)
        #expect(lines.stderr.contains("train: step 30/30 (100%)"), "\(lines.stderr)")
        let json = try CLITests.run(base + ["--progress", "json", "--out", dir.appendingPathComponent("b").path])
        let records = json.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        let last = try #require(records.last.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(last["progress"] as? String == "train" && last["step"] as? Int == 30 && last["total"] as? Int == 30)
        #expect(last["final"] as? Bool == true && (last["loss"] as? Double ?? .nan).isFinite)
        for mode in [["--progress", "none"], ["--quiet"]] {
            let quiet = try CLITests.run(base + mode + ["--out", dir.appendingPathComponent(UUID().uuidString).path])
            #expect(!quiet.stderr.contains("train: step") && !quiet.stderr.contains("\"progress\""), "\(quiet.stderr)")
        }
    }

    /// Options that contradict each other, or a file that sets the same thing, are refused by name
    /// (none is ignored or invented).
    @Test func conflictingOptionsAreRefusedByName() throws {
        let dir = try CLITests.scratch()
        let (x, y) = try CLITests.goodData(dir, n: 30, d: 4)
        let w1 = dir.appendingPathComponent("W1.npy"), y2 = dir.appendingPathComponent("Y2.npy")
        try NPY.write([Double](repeating: 1e-3, count: 10 * 4), shape: [10, 4], to: w1)
        try NPY.write([Double](repeating: 0.5, count: 30 * 2), shape: [30, 2], to: y2)
        let cases: [([String], String)] = [
            (["saddle", "--teacher-rank", "3", "--singular-values", "0.5,0.3"], "--singular-values lists 2 values but --teacher-rank is 3"),
            (["saddle", "--d", "4", "--k", "3", "--teacher-rank", "2", "--singular-values", "2,1", "--hidden", "50", "--init-w1", w1.path], "--hidden 50 disagrees with"),
            (["saddle", "--x", x, "--y", y2.path, "--teacher-rank", "2"], "--teacher-rank describes the synthetic teacher"),
            (["saddle", "--x", x, "--y", y2.path, "--singular-values", "1,2"], "--singular-values describes the synthetic teacher"),
            (["saddle", "--x", x, "--y", y2.path, "--k", "3"], "--k 3 disagrees with the data files"),
            (["mfld", "--task", "teacher", "--x", x, "--y", y], "--task teacher draws its own data"),
            (["train", "--kappa", "2", "--init-w", w1.path, "--d", "4"], "--kappa scales sampled hidden weights"),
            (["train", "--device", "99", "--backend", "cpu"], "--device 99 names an OpenCL device"),
            (["gram", "--device", "0", "--backend", "cpu", "--width", "64"], "does not apply with --backend cpu"),
        ]
        for (args, problem) in cases { try expectCleanFailure(args, mentions: problem) }
        try expectOneLineError(["tune", "--backend", "cpu"], mentions: ["--backend cpu does not apply"])
        // Given alone, the singular values set the teacher's rank (nothing is made up to fill it).
        let alone = try CLITests.run(["saddle", "--singular-values", "0.5,0.3", "--steps", "10", "--quiet",
                                      "--out", dir.appendingPathComponent("alone").path])
        #expect(alone.status == 0, "\(alone.stderr)")
        let config = try String(contentsOf: dir.appendingPathComponent("alone/config.json"), encoding: .utf8)
        #expect(config.contains("\"teacher_rank\": 2"), "\(config)")
    }

    @Test func unknownSubcommandIsAnError() throws {
        let r = try CLITests.run(["nosuchcommand", "--help"])
        #expect(r.status != 0)
    }

    /// A tiny successful run through the binary: the run directory of ARCHITECTURE.md §3.
    @Test func smallRunWritesTheRunDirectory() throws {
        let dir = try CLITests.scratch()
        let out = dir.appendingPathComponent("ok").path
        let r = try CLITests.run(["train", "--n", "8", "--d", "3", "--width", "100", "--steps", "3", "--backend", "cpu",
                                  "--save-weights", "--out", out, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        for f in ["config.json", "metrics.jsonl", "summary.json", "report.html", "w.npy", "a.npy"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + f), "missing \(f)")
        }
        let w = try NPY.read(URL(fileURLWithPath: out + "/w.npy"))
        #expect(w.shape == [100, 3])
    }
}
