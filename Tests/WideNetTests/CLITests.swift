import Foundation
import Testing
@testable import WideNet

/// The `widenet` binary on bad input: one line on standard error naming the problem, a non-zero
/// exit, and no run directory left behind.
@Suite(.serialized)
struct CLITests {
    static var binary: URL {
        // Tests run from <build>/debug/WideNetPackageTests.xctest; the executable sits beside it.
        let bundle = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }
        return (bundle?.bundleURL.deletingLastPathComponent() ?? URL(fileURLWithPath: ".build/debug"))
            .appendingPathComponent("widenet")
    }

    struct Output { let status: Int32; let stdout: String; let stderr: String }

    static func run(_ args: [String], env: [String: String] = [:]) throws -> Output {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
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

    func expectCleanFailure(_ args: [String], env: [String: String] = [:], mentions: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try CLITests.scratch()
        let out = dir.appendingPathComponent("run").path
        let r = try CLITests.run(args + ["--out", out, "--quiet"], env: env)
        #expect(r.status != 0, "exit status 0 for \(args)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("note:") }
        #expect(lines.count == 1, "expected one error line, got: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.localizedCaseInsensitiveContains(mentions), "error does not mention '\(mentions)': \(r.stderr)",
                sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: out), "a run directory was left behind", sourceLocation: sourceLocation)
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

    @Test func unknownSubcommandIsAnError() throws {
        let r = try CLITests.run(["nosuchcommand", "--help"])
        #expect(r.status != 0)
    }

    /// A tiny successful run through the binary: the run directory of DESIGN.md §3.
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
