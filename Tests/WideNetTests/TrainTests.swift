import Foundation
import Testing
@testable import WideNet

/// End-to-end `widenet train` through the library: the science at small size, reproducibility,
/// blocks, and CPU against OpenCL step by step.
struct TrainTests {
    static func config(_ out: String, backend: BackendKind = .cpu, precision: Precision = .f32,
                       n: Int = 24, d: Int = 6, width: Int = 2048, steps: Int = 60, seed: UInt64 = 7) -> NTKTrainConfig {
        var c = NTKTrainConfig()
        c.n = n; c.d = d; c.width = width; c.steps = steps; c.seed = seed
        c.backend = backend; c.precision = precision; c.out = out; c.logEvery = 1; c.quiet = true
        return c
    }

    static func tempDir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("widenet-test-\(UUID().uuidString)").path
    }

    static func metrics(_ dir: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }

    static func column(_ rows: [[String: Any]], _ key: String) -> [Double] {
        rows.map { ($0[key] as? NSNumber)?.doubleValue ?? .nan }
    }

    /// The loss falls and stays under (1 − ηλ0/2)^k ‖u(0) − y‖² at every step (η = 1/λ_max).
    @Test func lossObeysLinearConvergenceBound() throws {
        let r = try NTKTrainExperiment.run(TrainTests.config(TrainTests.tempDir(), width: 8192, steps: 150))
        #expect(r.summary["bound_holds"] == .bool(true), "bound violated: \(r.summary.render())")
        let rows = try TrainTests.metrics(r.directory)
        let loss = TrainTests.column(rows, "loss"), bound = TrainTests.column(rows, "bound")
        #expect(rows.count == 151)
        #expect(loss.last! < 0.05 * loss.first!, "loss fell only from \(loss.first!) to \(loss.last!)")
        for (l, b) in zip(loss, bound) { #expect(l <= b * (1 + 1e-6)) }
        // Row k holds the loss after k updates: row 0 is the initial loss.
        #expect(rows.first?["step"] as? Int == 0)
    }

    /// Wider nets follow the kernel prediction more closely and move their weights less.
    @Test func widerNetsStayCloserToTheKernel() throws {
        var deviation: [Double] = [], move: [Double] = []
        for m in [512, 32768] {
            let r = try NTKTrainExperiment.run(TrainTests.config(TrainTests.tempDir(), width: m, steps: 40))
            if case .number(let dv) = r.summary["max_kernel_deviation"] { deviation.append(dv) }
            if case .number(let mv) = r.summary["final_max_move"] { move.append(mv) }
        }
        #expect(deviation.count == 2 && deviation[1] < deviation[0] / 2, "kernel deviation \(deviation)")
        #expect(move.count == 2 && move[1] < move[0] / 2, "max movement \(move)")
    }

    /// Same seed, same numbers; the block size does not change the initial weights.
    @Test func runsAreReproducibleAndBlockIndependent() throws {
        let a = try NTKTrainExperiment.run(TrainTests.config(TrainTests.tempDir(), width: 1000, steps: 10))
        let b = try NTKTrainExperiment.run(TrainTests.config(TrainTests.tempDir(), width: 1000, steps: 10))
        let la = try TrainTests.metrics(a.directory).map { $0["loss"] as? Double }
        let lb = try TrainTests.metrics(b.directory).map { $0["loss"] as? Double }
        #expect(la == lb)
        var blocked = TrainTests.config(TrainTests.tempDir(), width: 1000, steps: 10)
        blocked.blockWidth = 96
        let c = try NTKTrainExperiment.run(blocked)
        let l1 = TrainTests.column(try TrainTests.metrics(a.directory), "loss")
        let l3 = TrainTests.column(try TrainTests.metrics(c.directory), "loss")
        // Only the order of the final sum over blocks differs.
        for (x, y) in zip(l1, l3) { #expect(abs(x - y) <= 1e-5 * abs(x)) }
        #expect(l1[0] == l3[0] || abs(l1[0] - l3[0]) <= 1e-6 * l1[0])
    }

    /// CPU and OpenCL with one seed agree step by step: f64 to 1e-9, f32 to 1e-4 (relative loss).
    @Test(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason), arguments: [Precision.f32, .f64])
    func cpuAndOpenCLAgreeStepByStep(precision: Precision) throws {
        var runs: [[[String: Any]]] = []
        for be in [BackendKind.cpu, .opencl] {
            var c = TrainTests.config(TrainTests.tempDir(), backend: be, precision: precision, width: 3000, steps: 40)
            c.trainOutput = precision == .f64   // exercise both update kernels
            let r = try NTKTrainExperiment.run(c)
            runs.append(try TrainTests.metrics(r.directory))
        }
        let tol = precision == .f64 ? 1e-9 : 1e-4
        for key in ["loss", "max_move"] {
            let a = TrainTests.column(runs[0], key), b = TrainTests.column(runs[1], key)
            #expect(a.count == b.count)
            for (k, (x, y)) in zip(a, b).enumerated() {
                #expect(abs(x - y) <= tol * max(abs(x), 1e-12) + 1e-12, "\(key) at step \(k): cpu \(x), opencl \(y)")
            }
        }
        // The two runs start from the same weights, bit for bit (Philox is identical on both).
        let x = SyntheticData.sphere(n: 5, d: 3, seed: 1).x
        func initial(_ be: any Backend) throws -> [Double] {
            let net = try NTKTwoLayerNet<Double>(backend: be, x: x, n: 5, d: 3, width: 777,
                                                 initialisation: .random(seed: 99, kappa: 1.5), blockWidth: 320)
            let (w, a) = try net.weights()
            return w + a
        }
        #expect(try initial(CPUBackend()) == initial(TestDevices.backend()))
    }
}
