import Foundation
import Testing
@testable import WideNet
@testable import WideNetReports

/// `widenet saddle` at small size: a linear net from σ0 = 1e-6 learns a rank-3 teacher one singular
/// value at a time, largest first; the plateau detector and the singular values on their own.
struct SaddleTests {
    /// Library runs write their reports as the CLI's do.
    init() { RunReports.install() }

    @Test func linearNetLearnsTheTeacherInDecreasingOrder() throws {
        var c = SaddleExperiment.Config()
        c.n = 300; c.d = 6; c.k = 4; c.hidden = 8; c.teacherRank = 3; c.singularValues = [6, 3, 1.5]
        c.initScale = 1e-6; c.steps = 1500; c.learningRate = 0.02; c.logEvery = 5; c.quiet = true
        c.out = FileManager.default.temporaryDirectory.appendingPathComponent("widenet-saddle-\(UUID().uuidString)").path
        let r = try SaddleExperiment.run(c)
        guard case .array(let reached)? = r.summary["rank_reached_at"], case .array(let sv)? = r.summary["final_singular_values"] else {
            Issue.record("summary lacks the staircase: \(r.summary.render())"); return
        }
        let steps = reached.compactMap { if case .number(let v) = $0 { return v } else if case .int(let v) = $0 { return Double(v) } else { return nil } }
        #expect(steps.count == 3, "ranks reached: \(steps)")
        #expect(steps == steps.sorted() && Set(steps).count == steps.count, "the rank must rise one step at a time: \(steps)")
        let values = sv.compactMap { if case .number(let v) = $0 { return v } else { return nil } }
        for (got, want) in zip(values, [6.0, 3.0, 1.5]) { #expect(abs(got - want) < 1e-3 * want, "singular value \(got) vs \(want)") }
        // The first plateau is the saddle at the origin, at the initial loss.
        guard case .array(let plateaus)? = r.summary["plateaus"], case .object(let first)? = plateaus.first,
              case .int(let start)? = first["start"] else { Issue.record("no plateau found"); return }
        #expect(start == 0)
        for file in ["config.json", "metrics.jsonl", "summary.json", "report.html", "w1.npy", "w2.npy"] {
            #expect(FileManager.default.fileExists(atPath: r.directory.appendingPathComponent(file).path), "missing \(file)")
        }
    }

    /// The escape from the origin takes about log(1/σ0²)/(2ηs₁) steps: linear in log(1/σ0) with
    /// slope 1/(η s₁) for a linear net (Arata).
    @Test func escapeTimeGrowsLinearlyInLogInverseScale() throws {
        var c = SaddleExperiment.Config()
        c.n = 200; c.d = 4; c.k = 3; c.hidden = 6; c.teacherRank = 2; c.singularValues = [5, 2]
        c.steps = 900; c.learningRate = 0.02; c.logEvery = 2; c.quiet = true
        c.out = FileManager.default.temporaryDirectory.appendingPathComponent("widenet-sweep-\(UUID().uuidString)").path
        let r = try SaddleSweep.run(c, scales: [1e-2, 1e-4, 1e-6, 1e-8])
        guard case .number(let slope)? = r.summary["slope_steps_per_log_inverse_scale"], case .number(let r2)? = r.summary["r2"] else {
            Issue.record("no fit in \(r.summary.render())"); return
        }
        let theory = 1 / (0.02 * 5)
        #expect(abs(slope - theory) < 0.15 * theory, "slope \(slope) against 1/(η s₁) = \(theory)")
        #expect(r2 > 0.99)
    }

    static func numbers(_ summary: JSONObject, _ key: String) -> [Double] { summary[key]?.numbers ?? [] }

    static func config(_ body: (inout SaddleExperiment.Config) -> Void) -> SaddleExperiment.Config {
        var c = SaddleExperiment.Config()
        c.quiet = true
        c.out = FileManager.default.temporaryDirectory.appendingPathComponent("widenet-saddle-\(UUID().uuidString)").path
        body(&c)
        return c
    }

    /// Plateau skipping (Arata): each jump lands on the next saddle, so the same ranks are reached
    /// one at a time and the target loss in several times fewer GD steps, with the same final map.
    @Test func skippingPlateausKeepsTheStaircaseAndSavesSteps() throws {
        func run(skip: Bool) throws -> JSONObject {
            try SaddleExperiment.run(Self.config { c in
                c.n = 300; c.d = 6; c.k = 4; c.hidden = 8; c.teacherRank = 3; c.singularValues = [6, 3, 1.5]
                c.initScale = 1e-6; c.steps = 1200; c.learningRate = 0.02; c.logEvery = 2
                c.skipPlateaus = skip; c.plateauMinSteps = 3
            }).summary
        }
        let plain = try run(skip: false), skipped = try run(skip: true)
        #expect(Self.numbers(plain, "ranks_after_drops") == [1, 2, 3], "\(plain.render())")
        #expect(Self.numbers(skipped, "ranks_after_jumps") == [1, 2, 3], "\(skipped.render())")
        let a = Self.numbers(plain, "steps_to_target"), b = Self.numbers(skipped, "steps_to_target")
        #expect(a.count == 1 && b.count == 1 && b[0] * 5 <= a[0], "steps to the target: \(a) plain, \(b) skipping")
        for (x, y) in zip(Self.numbers(plain, "final_singular_values").prefix(3), Self.numbers(skipped, "final_singular_values")) {
            #expect(abs(x - y) < 1e-6 * x)
        }
    }

    /// Nonlinear nets on a teacher of the same kind climb the same staircase: one drop per teacher
    /// unit, the rank of the fitted outputs rising by one at each.
    @Test(arguments: [Activation.tanh, .relu])
    func nonlinearNetsClimbTheSameStaircase(_ activation: Activation) throws {
        let r = try SaddleExperiment.run(Self.config { c in
            c.activation = activation
            c.n = 400; c.d = 6; c.k = 3; c.hidden = 10; c.teacherRank = 3; c.singularValues = [6, 3, 1.5]
            c.initScale = 1e-6; c.steps = activation == .relu ? 1500 : 900; c.learningRate = 0.02; c.logEvery = 2
        })
        #expect(Self.numbers(r.summary, "ranks_after_drops") == [1, 2, 3], "\(activation): \(r.summary.render())")
        let reached = Self.numbers(r.summary, "rank_reached_at")
        #expect(reached.count == 3 && reached == reached.sorted())
        // Skipping runs for nonlinear nets too and does not lose the fit.
        let skipped = try SaddleExperiment.run(Self.config { c in
            c.activation = activation
            c.n = 400; c.d = 6; c.k = 3; c.hidden = 10; c.teacherRank = 3; c.singularValues = [6, 3, 1.5]
            c.initScale = 1e-6; c.steps = 1500; c.learningRate = 0.02; c.logEvery = 2; c.skipPlateaus = true; c.plateauMinSteps = 3
        })
        #expect(Self.numbers(skipped.summary, "jump_count").first ?? 0 >= 1)
        #expect(Self.numbers(skipped.summary, "final_rank") == [3])
    }

    /// Amari's singular region: two units equal in both layers. GD lingers on a plateau with the
    /// duplicate pair for longer as the symmetry-breaking noise σ0 shrinks; Adam leaves it early.
    @Test func duplicateUnitsHoldGDOnAPlateauLongerThanAdam() throws {
        func run(_ optimizer: Optimizer, lr: Double, scale: Double) throws -> JSONObject {
            try SaddleExperiment.run(Self.config { c in
                c.activation = .tanh; c.n = 300; c.d = 2; c.k = 1; c.hidden = 2; c.teacherRank = 2; c.singularValues = [2, 1]
                c.initialization = .duplicate; c.initScale = scale; c.optimizer = optimizer; c.learningRate = lr
                c.steps = 2500; c.logEvery = 5
            }).summary
        }
        func longestPlateau(_ s: JSONObject) -> (length: Double, duplicates: Double) {
            guard case .array(let ps)? = s["plateaus"] else { return (0, 0) }
            return ps.compactMap { p -> (Double, Double)? in
                guard case .object(let o) = p else { return nil }
                return (o["length"]?.doubleValue ?? 0, o["duplicate_pairs"]?.doubleValue ?? 0)
            }.max { $0.0 < $1.0 } ?? (0, 0)
        }
        let gdWide = longestPlateau(try run(.gd, lr: 0.05, scale: 1e-3)), gdNarrow = longestPlateau(try run(.gd, lr: 0.05, scale: 1e-7))
        let adam = longestPlateau(try run(.adam, lr: 0.01, scale: 1e-7))
        #expect(gdWide.duplicates >= 1 && gdNarrow.duplicates >= 1, "the GD plateau sits on the duplicate pair")
        #expect(gdNarrow.length > gdWide.length * 1.5, "plateau \(gdNarrow.length) at σ0 = 1e-7 vs \(gdWide.length) at 1e-3")
        #expect(adam.length * 3 < gdNarrow.length, "Adam's longest plateau \(adam.length) vs GD's \(gdNarrow.length)")
    }

    /// The matrix products on an OpenCL device give the CPU run's trajectory (f64).
    @Test(.enabled(if: TestDevices.openCL?.info.hasFP64 ?? false, "no OpenCL device with fp64"))
    func openCLAndCPUAgreeStepByStep() throws {
        func run(_ backend: BackendKind) throws -> [Double] {
            let r = try SaddleExperiment.run(Self.config { c in
                c.n = 150; c.d = 5; c.k = 3; c.hidden = 7; c.teacherRank = 2; c.singularValues = [4, 2]
                c.activation = .tanh; c.initScale = 1e-3; c.steps = 120; c.logEvery = 1; c.learningRate = 0.05
                c.backend = backend; c.device = TestDevices.openCL?.info.name
            })
            let text = try String(contentsOf: r.directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            return text.split(separator: "\n").compactMap { line in
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
                return o["loss"] as? Double
            }
        }
        let cpu = try run(.cpu), device = try run(.opencl)
        #expect(cpu.count == 121 && device.count == 121)
        for (a, b) in zip(cpu, device) { #expect(abs(a - b) <= 1e-9 * max(abs(a), 1e-12), "loss \(a) on the CPU, \(b) on OpenCL") }
    }

    @Test func dropDetectorTellsOverlappingStagesApart() {
        // Three sigmoidal drops in log-loss, the middle two close together, then a floor.
        let steps = 0..<600
        let loss = steps.map { t -> Double in
            let centres = [100.0, 170.0, 400.0], heights = [2.0, 1.5, 2.5]
            let logLoss = zip(centres, heights).reduce(3.0) { $0 - $1.1 / (1 + Foundation.exp(-(Double(t) - $1.0) / 6)) }
            return Foundation.exp(logLoss)
        }
        let drops = DropDetector.drops(loss)
        #expect(drops.map(\.peak).count == 3, "\(drops)")
        for (drop, centre) in zip(drops, [100, 170, 400]) { #expect(abs(drop.peak - centre) <= 2) }
        #expect(DropDetector.drops([Double](repeating: 1, count: 50)).isEmpty)
    }

    @Test func whitenedTeacherInputsHaveIdentityCovariance() throws {
        var c = SaddleExperiment.Config()
        c.n = 50; c.d = 4; c.k = 2; c.teacherRank = 2
        let data = try SaddleExperiment.data(c)
        for a in 0..<4 { for b in 0..<4 {
            let cov = (0..<50).reduce(0.0) { $0 + data.x[$1 * 4 + a] * data.x[$1 * 4 + b] } / 50
            #expect(abs(cov - (a == b ? 1 : 0)) < 1e-12)
        } }
    }

    @Test func plateauDetectorFindsFlatRunsAboveTheFloor() {
        let loss = [Double](repeating: 10, count: 50) + (0..<20).map { 10 * Foundation.pow(0.7, Double($0 + 1)) }
            + [Double](repeating: 0.08, count: 40) + [Double](repeating: 1e-20, count: 60)
        let p = PlateauDetector.plateaus(loss, threshold: 1e-3, minSteps: 30, floor: 1e-10)
        #expect(p.count == 2)
        #expect(p.first?.start == 0 && p.first?.end == 49)
        #expect(abs((p.last?.loss ?? 0) - 0.08) < 1e-12)
        #expect(PlateauDetector.plateaus(loss, threshold: 1e-3, minSteps: 100).isEmpty)
    }

    @Test func singularValuesOfAKnownMatrix() throws {
        // diag(3, 2) rotated on both sides keeps its singular values.
        let c = Foundation.cos(0.3), s = Foundation.sin(0.3)
        let a = [3 * c, -2 * s, 3 * s, 2 * c, 0, 0]    // 3×2
        let sv = try SingularValues.of(a, rows: 3, cols: 2)
        #expect(abs(sv[0] - 3) < 1e-12 && abs(sv[1] - 2) < 1e-12)
        #expect(try SingularValues.of([1, 2, 3], rows: 1, cols: 3).count == 1)
    }

    @Test func badInputIsRefused() {
        var c = SaddleExperiment.Config()
        c.teacherRank = 9; c.quiet = true
        #expect(throws: BackendError.self) { try SaddleExperiment.run(c) }
        c.teacherRank = 2; c.initScale = 0
        #expect(throws: BackendError.self) { try SaddleExperiment.run(c) }
        c.initScale = 1e-6; c.targetLoss = -1
        #expect(throws: BackendError.self) { try SaddleExperiment.run(c) }
        c.targetLoss = nil; c.activation = .tanh; c.teacherRank = 11
        #expect(throws: BackendError.self) { try SaddleExperiment.run(c) }
    }
}
