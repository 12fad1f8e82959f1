import Foundation
import Testing
@testable import WideNet
@testable import WideNetReports

/// Checkpoints and resumption at the library level: a run continued from its last checkpoint, after
/// rows written past it were lost or left half-written, ends with the same metrics.jsonl and arrays,
/// byte for byte, as a run that was never stopped. (CLITests kills the binary with SIGKILL and SIGTERM.)
struct CheckpointTests {
    /// Library runs write their reports as the CLI's do.
    init() { RunReports.install() }

    static func bytes(_ dir: URL, _ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }

    /// The first line where two text files differ, for the failure message.
    static func firstDifference(_ a: URL, _ b: URL, _ name: String) -> String {
        let x = (try? String(contentsOf: a.appendingPathComponent(name), encoding: .utf8))?.split(separator: "\n") ?? []
        let y = (try? String(contentsOf: b.appendingPathComponent(name), encoding: .utf8))?.split(separator: "\n") ?? []
        for (i, (p, q)) in zip(x, y).enumerated() where p != q { return "line \(i + 1): \(p) | \(q)" }
        return "\(x.count) against \(y.count) lines"
    }

    static func continuesBitForBit(backend: BackendKind, precision: Precision) throws {
        var plain = TrainTests.config(TrainTests.tempDir(), backend: backend, precision: precision, width: 1000, steps: 45)
        plain.saveWeights = true
        let a = try NTKTrainExperiment.run(plain)

        var stopped = plain
        stopped.out = TrainTests.tempDir()
        let b = try NTKTrainExperiment.run(stopped, control: RunControl(checkpointEvery: 20))
        try #expect(Self.bytes(a.directory, "metrics.jsonl") == Self.bytes(b.directory, "metrics.jsonl"),
                "checkpointing must not change the numbers: \(Self.firstDifference(a.directory, b.directory, "metrics.jsonl"))")
        // What a kill after step 43 leaves: the checkpoint of step 40, later rows, a torn last line.
        let metrics = b.directory.appendingPathComponent("metrics.jsonl")
        var torn = try Data(contentsOf: metrics)
        torn.removeLast(30)
        try torn.write(to: metrics)
        for name in ["summary.json", "report.html", "w.npy", "a.npy", "u.npy"] {
            try FileManager.default.removeItem(at: b.directory.appendingPathComponent(name))
        }
        try #expect(Checkpoint.load(from: b.directory).step == 40)

        let resumed = try NTKTrainExperiment.run(try NTKTrainConfig(recorded: RecordedConfig(directory: b.directory)),
                                                 control: RunControl(resume: true))
        for name in ["metrics.jsonl", "w.npy", "a.npy", "u.npy"] {
            try #expect(Self.bytes(a.directory, name) == Self.bytes(resumed.directory, name), "\(name) differs after resuming: \(Self.firstDifference(a.directory, resumed.directory, name))")
        }
        #expect(FileManager.default.fileExists(atPath: resumed.directory.appendingPathComponent("report.html").path))
    }

    @Test(arguments: [Precision.f32, .f64])
    func cpuRunContinuesBitForBit(precision: Precision) throws {
        try Self.continuesBitForBit(backend: .cpu, precision: precision)
    }

    @Test(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
    func openCLRunContinuesBitForBit() throws {
        try Self.continuesBitForBit(backend: .opencl, precision: .f32)
    }

    @Test func resumingRefusesAnEditedConfigurationAndAMissingCheckpoint() throws {
        let r = try NTKTrainExperiment.run(TrainTests.config(TrainTests.tempDir(), steps: 12), control: RunControl(checkpointEvery: 5))
        try #expect(Checkpoint.load(from: r.directory).step == 10)
        let config = r.directory.appendingPathComponent("config.json")
        let text = try String(contentsOf: config, encoding: .utf8)
        try text.replacingOccurrences(of: "\"seed\": 7", with: "\"seed\": 8").write(to: config, atomically: true, encoding: .utf8)
        #expect(throws: WideNetIOError.self) { try Checkpoint.load(from: r.directory) }
        // A finished run has nothing to continue.
        let done = try NTKTrainExperiment.run(TrainTests.config(TrainTests.tempDir(), steps: 12), control: RunControl(checkpointEvery: 5))
        #expect(throws: WideNetIOError.self) {
            try NTKTrainExperiment.run(try NTKTrainConfig(recorded: RecordedConfig(directory: done.directory)),
                                       control: RunControl(resume: true))
        }
        let fresh = try NTKTrainExperiment.run(TrainTests.config(TrainTests.tempDir(), steps: 3))
        #expect(throws: WideNetIOError.self) { try Checkpoint.load(from: fresh.directory) }
        let recorded = try RecordedConfig(directory: fresh.directory)
        #expect(throws: BackendError.self) { try recorded.refuseChanges([.init("--lr", "lr", .number(0.5))]) }
        try recorded.refuseChanges([.init("--seed", "seed", .int(7)), .init("--steps", "steps", .int(3))])
    }

    /// A step size above 2/λ_max(H∞) blows up; the error names the step, the checkpoint kept and the bound.
    @Test func divergenceStopsWithTheStepTheCheckpointAndAHint() throws {
        var c = TrainTests.config(TrainTests.tempDir(), steps: 400)
        c.learningRate = 50
        do {
            _ = try NTKTrainExperiment.run(c, control: RunControl(checkpointEvery: 2))
            Issue.record("η = 50 should diverge")
        } catch let error as RunDiverged {
            let text = "\(error)"
            #expect(text.contains("diverged at step") && text.contains("checkpoint") && text.contains("2/λ_max"), "\(text)")
            // The directory says what happened and can be reported on.
            let summary = try RunFiles.config(in: URL(fileURLWithPath: c.out!)).pairs.isEmpty ? JSONObject()
                : RunFiles.object(in: URL(fileURLWithPath: c.out!).appendingPathComponent("summary.json"), shown: "summary.json")
            #expect(summary["status"] == .string("diverged") && summary["diverged_at_step"]?.numeric != nil, "\(summary.render())")
            try ReportRebuild.rebuild(c.out!)
            let cp = try Checkpoint.load(from: URL(fileURLWithPath: c.out!))
            let w = try cp.array("w", in: URL(fileURLWithPath: c.out!))
            let finite = w.values.allSatisfy { $0.isFinite }
            #expect(finite, "the kept checkpoint must be a good one")
        }
    }

    /// The particle system continues with the same noise: Langevin with minibatches and SVRG, and PDA.
    @Test(arguments: [MFLDAlgorithm.langevin, .pda])
    func mfldRunContinuesBitForBit(algorithm: MFLDAlgorithm) throws {
        var c = MFLDScienceTests.config()
        c.particles = 300; c.n = 40; c.d = 3; c.steps = 30; c.logEvery = 1; c.algorithm = algorithm; c.innerSteps = 2
        c.saveParticles = true; c.entropySample = 100
        if algorithm == .langevin { c.batch = 16; c.svrgEvery = 4 }
        c.out = TrainTests.tempDir()
        let a = try MFLDExperiment.run(c)
        c.out = TrainTests.tempDir()
        let b = try MFLDExperiment.run(c, control: RunControl(checkpointEvery: 10))
        try #expect(Self.bytes(a.directory, "metrics.jsonl") == Self.bytes(b.directory, "metrics.jsonl"))
        let metrics = b.directory.appendingPathComponent("metrics.jsonl")
        var torn = try Data(contentsOf: metrics)
        torn.removeLast(17)
        try torn.write(to: metrics)
        for name in ["particles.npy", "summary.json", "report.html"] {
            try FileManager.default.removeItem(at: b.directory.appendingPathComponent(name))
        }
        // The last checkpoint is step 20 (with SVRG refreshed every 4 steps, 10 was skipped, 20 kept).
        try #expect(Checkpoint.load(from: b.directory).step == 20)
        let resumed = try MFLDExperiment.run(try MFLDConfig(recorded: RecordedConfig(directory: b.directory)),
                                             control: RunControl(resume: true))
        for name in ["metrics.jsonl", "particles.npy"] {
            try #expect(Self.bytes(a.directory, name) == Self.bytes(resumed.directory, name),
                        "\(name) differs after resuming: \(Self.firstDifference(a.directory, resumed.directory, name))")
        }
    }
}
