import Foundation
import Testing
@testable import WideNet

/// `widenet saddle` at small size: a linear net from σ0 = 1e-6 learns a rank-3 teacher one singular
/// value at a time, largest first; the plateau detector and the singular values on their own.
struct SaddleTests {
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
    /// slope 1/(η s₁) for a linear net (seed 004).
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

    /// Skipping plateaus reaches the same staircase (same order, same final singular values) in
    /// fewer steps, and refuses nonlinear nets for now.
    @Test func skippingPlateausKeepsTheStaircaseAndSavesSteps() throws {
        func run(skip: Bool) throws -> (reached: [Double], sv: [Double]) {
            var c = SaddleExperiment.Config()
            c.n = 300; c.d = 6; c.k = 4; c.hidden = 8; c.teacherRank = 3; c.singularValues = [6, 3, 1.5]
            c.initScale = 1e-6; c.steps = 1500; c.learningRate = 0.02; c.logEvery = 2; c.quiet = true
            c.skipPlateaus = skip; c.plateauMinSteps = 10
            c.out = FileManager.default.temporaryDirectory.appendingPathComponent("widenet-skip-\(UUID().uuidString)").path
            let r = try SaddleExperiment.run(c)
            func numbers(_ key: String) -> [Double] {
                guard case .array(let a)? = r.summary[key] else { return [] }
                return a.compactMap { if case .number(let v) = $0 { return v }; if case .int(let v) = $0 { return Double(v) }; return nil }
            }
            return (numbers("rank_reached_at"), numbers("final_singular_values"))
        }
        let plain = try run(skip: false), skipped = try run(skip: true)
        #expect(plain.reached.count == 3 && skipped.reached.count == 3)
        #expect(skipped.reached.last! < plain.reached.last!, "rank 3 at \(skipped.reached) with skipping, \(plain.reached) without")
        #expect(skipped.reached.first! * 4 < plain.reached.first!, "the first escape must be much faster")
        for (a, b) in zip(plain.sv.prefix(3), skipped.sv.prefix(3)) { #expect(abs(a - b) < 1e-3 * a) }
        var c = SaddleExperiment.Config()
        c.activation = .relu; c.skipPlateaus = true; c.steps = 200; c.plateauMinSteps = 5; c.quiet = true
        c.out = FileManager.default.temporaryDirectory.appendingPathComponent("widenet-skip-\(UUID().uuidString)").path
        #expect(throws: BackendError.self) { try SaddleExperiment.run(c) }
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
        c.teacherRank = 2; c.backend = .opencl
        #expect(throws: BackendError.self) { try SaddleExperiment.run(c) }
    }
}
