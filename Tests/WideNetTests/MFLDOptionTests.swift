import Foundation
import Testing
@testable import WideNet

/// mfld's options that do not apply beside others are refused, naming both (exit 64), before
/// anything is written; the logistic loss on labels that are not ±1 is refused; a chaos sweep
/// says where it is.
@Suite(.serialized)
struct MFLDOptionTests {
    @Test func optionsThatDoNotApplyAreRefused() throws {
        let dir = try CLITests.scratch()
        let (x, y) = try CLITests.goodData(dir, n: 10)
        try NPY.write([Double](repeating: 0.5, count: 20 * 5), shape: [20, 5], to: dir.appendingPathComponent("p.npy"))
        let p = dir.appendingPathComponent("p.npy").path
        let cases: [([String], [String])] = [
            (["--x", x, "--y", y, "--n", "8"], ["--n", "--task file"]),
            (["--task", "file", "--x", x, "--y", y, "--d", "3"], ["--d", "--task file"]),
            (["--x", x, "--y", y, "--data-seed", "3"], ["--data-seed", "--task file"]),
            (["--anneal-factor", "0.3"], ["--anneal-factor", "--anneal-every"]),
            (["--inner-steps", "4"], ["--inner-steps", "--algorithm pda"]),
            (["--unit-scale", "2", "--unit", "relu"], ["--unit-scale", "--unit relu"]),
            (["--unit-scale", "2"], ["--unit-scale", "--unit tanh"]),
            (["--parity-k", "2"], ["--parity-k", "--task teacher"]),
            (["--task", "parity", "--teacher-width", "3"], ["--teacher-width", "--task parity"]),
            (["--chaos-seeds", "4"], ["--chaos-seeds", "--chaos"]),
            (["--chaos", "16,32,64", "--particles", "100"], ["--particles", "--chaos"]),
            (["--no-data", "--batch", "10"], ["--batch", "--no-data"]),
            (["--no-data", "--loss", "squared"], ["--loss", "--no-data"]),
            (["--particles", "50", "--entropy-sample", "100"], ["--entropy-sample 100", "50 particles"]),
            (["--init-particles", p, "--d", "3", "--entropy-sample", "100"], ["--entropy-sample 100", "20 particles", "--init-particles"]),
            (["--loss", "logistic"], ["--loss logistic", "--task teacher"]),
        ]
        for (args, mentions) in cases {
            let out = dir.appendingPathComponent("run-\(UUID().uuidString)")
            let r = try CLITests.run(["mfld"] + args + ["--backend", "cpu", "--steps", "1", "--quiet", "--out", out.path])
            #expect(r.status == FailureClass.usage.exitCode, "\(args): exit \(r.status), \(r.stderr)")
            for m in mentions { #expect(r.stderr.contains(m), "\(args): \(r.stderr) does not mention \(m)") }
            #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(args) left \(out.path)")
        }
        // A file whose labels are not ±1 (goodData's are real): its data, so exit 65, naming the file.
        let out = dir.appendingPathComponent("logistic")
        let r = try CLITests.run(["mfld", "--x", x, "--y", y, "--loss", "logistic", "--backend", "cpu", "--quiet", "--out", out.path])
        #expect(r.status == FailureClass.badInput.exitCode && r.stderr.contains(y) && r.stderr.contains("±1"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    /// At ηλ' = 1 the decay multiplies the particles by exactly −1: not contracting, not expanding.
    @Test func stepAtTheEdgeSaysItDoesNotContract() {
        var c = MFLDConfig()
        c.learningRate = 2; c.lambdaL2 = 0.5
        do { try c.validate(); Issue.record("ηλ' = 1 was not refused") } catch {
            #expect("\(error)".contains("= -1") && "\(error)".contains("not contracting") && !"\(error)".contains("expands"), "\(error)")
        }
        c.learningRate = 3
        do { try c.validate(); Issue.record("ηλ' = 1.5 was not refused") } catch {
            #expect("\(error)".contains("expands"), "\(error)")
        }
    }

    /// The members of a --chaos sweep run quiet; the sweep prints one line per member (which, how
    /// long, the ETA) unless --quiet.
    @Test func chaosSweepPrintsAProgressLinePerMember() throws {
        let dir = try CLITests.scratch()
        let args = ["mfld", "--chaos", "16,24,32", "--chaos-seeds", "1", "--n", "12", "--d", "2", "--steps", "2",
                    "--entropy-sample", "0", "--backend", "cpu", "--progress", "lines"]
        let r = try CLITests.run(args + ["--out", dir.appendingPathComponent("loud").path])
        try #require(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("mfld --chaos: member") }
        #expect(lines.count == 3, "\(r.stderr)")
        #expect(lines.last?.contains("member 3/3 N32-s0") == true && lines.allSatisfy { $0.contains("elapsed") && $0.contains("ETA") },
                "\(lines)")
        let quiet = try CLITests.run(args + ["--quiet", "--out", dir.appendingPathComponent("quiet").path])
        #expect(quiet.status == 0 && !quiet.stderr.contains("mfld --chaos: member"), "\(quiet.stderr)")
    }
}
