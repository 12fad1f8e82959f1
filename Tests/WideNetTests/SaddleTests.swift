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
        // Four scales leave two residual degrees of freedom: the slope has its interval.
        guard case .object(let fit)? = r.summary["fit_steps_per_log_inverse_scale"], let lo = fit["low"]?.numeric,
              let hi = fit["high"]?.numeric, let se = fit["standard_error"]?.numeric else {
            Issue.record("no interval in \(r.summary.render())"); return
        }
        #expect(fit["identified"] == .bool(true) && fit["value"]?.numeric == slope)
        #expect(lo <= slope && slope <= hi && se >= 0, "slope \(slope) outside [\(lo), \(hi)]")
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

    // MARK: the spectrum the learned map approaches, and the rate at the origin

    /// Inputs ×10 (XᵀX/n ≈ 100·I, not whitened): W2·W1 converges to the least-squares map β = (XᵀX)⁺XᵀY,
    /// a tenth of Y's scale, so the rank threshold is half β's smallest singular value (numpy's lstsq), not
    /// of svd(Y)/√n (which left every learned mode under it: final rank 0). Every logged row's rank is the
    /// count of its singular values over numpy's threshold, the staircase reaches 3, and the map's
    /// singular values reach β's. With relu/tanh the centred outputs are measured, and their target stays
    /// the centred Y/√n; gaussian inputs with n < d and whitened inputs with label noise also use β.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func rankThresholdIsOnTheLeastSquaresMapsScale() throws {
        let dir = try CLITests.scratch()
        let script = """
            import numpy as np, sys, json
            d = sys.argv[1]; r = np.random.default_rng(5)
            x = r.standard_normal((40, 6)); t = r.standard_normal((6, 3)) * np.array([3.0, 2, 1])
            np.save(f"{d}/x.npy", 10 * x); np.save(f"{d}/y.npy", x @ t)
            np.save(f"{d}/w1.npy", 1e-3 * r.standard_normal((9, 6))); np.save(f"{d}/w2.npy", 1e-3 * r.standard_normal((3, 9)))
            beta = np.linalg.lstsq(10 * x, x @ t, rcond=None)[0]
            yc = x @ t - (x @ t).mean(axis=0)
            print(json.dumps({"beta": np.linalg.svd(beta, compute_uv=False).tolist(),
                              "y": (np.linalg.svd(x @ t, compute_uv=False) / np.sqrt(40)).tolist(),
                              "centred": (np.linalg.svd(yc, compute_uv=False) / np.sqrt(40)).tolist(),
                              "rate": float(np.linalg.svd((x @ t).T @ (10 * x) / 40, compute_uv=False)[0])}))
            """
        let py = try NPYTests.python(["-c", script, dir.path])
        try #require(py.status == 0, "\(py.output)")
        let ref = try #require(try JSONSerialization.jsonObject(with: Data(py.output.utf8)) as? [String: Any])
        let beta = try #require(ref["beta"] as? [Double]), svdY = try #require(ref["y"] as? [Double])
        let threshold = 0.5 * beta.min()!
        #expect(svdY.min()! * 0.5 > beta.max()!, "the case must put every mode of β under the threshold svd(Y)/√n gives")
        func close(_ a: [Double], _ b: [Double], _ tol: Double) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(abs($1), 1e-300) }
        }
        let r = try SaddleExperiment.run(Self.config { c in
            c.xPath = dir.appendingPathComponent("x.npy").path; c.yPath = dir.appendingPathComponent("y.npy").path
            c.initW1Path = dir.appendingPathComponent("w1.npy").path; c.initW2Path = dir.appendingPathComponent("w2.npy").path
            c.activation = .linear; c.steps = 2500; c.learningRate = 0.0005; c.logEvery = 5; c.backend = .cpu
        })
        let s = r.summary
        #expect(close(Self.numbers(s, "teacher_singular_values"), beta, 1e-10), "\(Self.numbers(s, "teacher_singular_values")) against numpy's β \(beta)")
        #expect(abs((s["rank_threshold"]?.numeric ?? .nan) - threshold) <= 1e-10 * threshold)
        #expect(abs((s["origin_rate"]?.numeric ?? .nan) - (ref["rate"] as? Double ?? 0)) <= 1e-10 * (ref["rate"] as? Double ?? 1))
        #expect(Self.numbers(s, "final_rank") == [3] && Self.numbers(s, "ranks_after_drops") == [1, 2, 3], "\(s.render())")
        #expect(close(Self.numbers(s, "final_singular_values"), beta, 1e-3), "final \(Self.numbers(s, "final_singular_values")) against β \(beta)")
        let wrong = try RunDirectory.metricsRows(in: r.directory).filter { row in
            row["rank"]?.numeric != Double((row["singular_values"]?.numbers ?? []).filter { $0 > threshold }.count)
        }
        #expect(wrong.isEmpty, "\(wrong.count) rows whose rank is not the count over numpy's threshold, first at step \(wrong.first?["step"]?.displayText ?? "")")

        // tanh and relu measure the centred outputs, which approach the centred Y: that target is kept.
        for activation in [Activation.tanh, .relu] {
            let data = try SaddleExperiment.data(Self.config { c in
                c.xPath = dir.appendingPathComponent("x.npy").path; c.yPath = dir.appendingPathComponent("y.npy").path
                c.activation = activation
            })
            #expect(close(data.teacherSingularValues, try #require(ref["centred"] as? [Double]), 1e-10), "\(activation)")
            #expect((data.originRate == nil) == (activation == .relu))
        }

        // Synthetic teachers: gaussian inputs with n < d (β is lstsq's minimum-norm solution), and whitened
        // inputs with label noise, against numpy's lstsq and σ₁(YᵀX/n) on the same arrays.
        for (whiten, n, noise) in [(false, 5, nil), (true, 30, 0.3)] as [(Bool, Int, Double?)] {
            let data = try SaddleExperiment.data(Self.config { c in
                c.n = n; c.d = 8; c.k = 3; c.teacherRank = 3; c.singularValues = [4, 2, 1]; c.whitenInputs = whiten; c.labelNoise = noise
            })
            try NPY.write(data.x, shape: [n, 8], to: dir.appendingPathComponent("sx.npy"))
            try NPY.write(data.y, shape: [n, 3], to: dir.appendingPathComponent("sy.npy"))
            let check = try NPYTests.python(["-c", """
                import numpy as np, sys, json
                x, y = np.load(sys.argv[1] + "/sx.npy"), np.load(sys.argv[1] + "/sy.npy")
                s = np.linalg.svd(np.linalg.lstsq(x, y, rcond=None)[0], compute_uv=False)
                print(json.dumps([s.tolist(), float(np.linalg.svd(y.T @ x / len(x), compute_uv=False)[0])]))
                """, dir.path])
            try #require(check.status == 0, "\(check.output)")
            let want = try #require(try JSONSerialization.jsonObject(with: Data(check.output.utf8)) as? [Any])
            #expect(close(data.teacherSingularValues, try #require(want[0] as? [Double]), 1e-9), "whiten \(whiten): \(data.teacherSingularValues) vs \(want[0])")
            #expect(abs((data.originRate ?? .nan) - (want[1] as? Double ?? 0)) <= 1e-10 * (want[1] as? Double ?? 1))
            #expect(data.teacherSingularValuesOf == SaddleExperiment.leastSquaresMap)
        }
        // Whitened, noise-free: the teacher's own s, and its s₁ as the rate.
        let whitened = try SaddleExperiment.data(Self.config { c in c.n = 30; c.d = 8; c.k = 3; c.teacherRank = 2; c.singularValues = [4, 2] })
        #expect(whitened.teacherSingularValues == [4, 2] && abs((whitened.originRate ?? 0) - 4) < 1e-12)
    }

    /// Gaussian inputs (XᵀX/n ≠ I): the escape theory's rate is the data's σ₁(YᵀX/n) (4.858 here, from numpy
    /// on the member's x.npy and y.npy), not the teacher's s₁ = 5, giving 1/ln(1 + ησ₁) = 10.784 steps per
    /// unit of log(1/σ0). The escape steps come out exactly 25 apart, so the regression's standard error is
    /// ~1e-15; with each step known to ±1 step (uniform: s.d. 1/√3) as a floor on the residual variance,
    /// the standard error is numpy's √(max(RSS/(k − 2), 1/3)/Sxx) and the interval holds the theory.
    @Test(.enabled(if: AveragedSGDTests.hasScipy, "python3 with numpy and scipy is not available"))
    func escapeTheoryUsesTheDatasRateAndTheFitItsResolution() throws {
        let c = Self.config { c in
            c.n = 12; c.d = 4; c.k = 3; c.hidden = 6; c.teacherRank = 2; c.singularValues = [5, 2]; c.whitenInputs = false
            c.learningRate = 0.02; c.steps = 1500; c.logEvery = 1; c.backend = .cpu
        }
        let r = try SaddleSweep.run(c, scales: [1e-3, 1e-4, 1e-5, 1e-6, 1e-7])
        let s = r.summary
        let escape = Self.numbers(s, "first_escape_step"), logInverse = Self.numbers(s, "log_inverse_scale")
        try #require(escape.count == 5)
        let script = """
            import numpy as np, sys, json
            from scipy import stats
            d = sys.argv[1]; x, y = np.load(d + "/sigma1e-03/x.npy"), np.load(d + "/sigma1e-03/y.npy")
            rate = float(np.linalg.svd(y.T @ x / len(x), compute_uv=False)[0])
            lx, ty = json.loads(sys.argv[2]), json.loads(sys.argv[3])
            fit = stats.linregress(lx, ty)
            k = len(lx); sxx = float(np.sum((np.array(lx) - np.mean(lx)) ** 2))
            rss = float(np.sum((np.array(ty) - fit.intercept - fit.slope * np.array(lx)) ** 2))
            se = np.sqrt(max(rss / (k - 2), 1 / 3) / sxx); t = stats.t.ppf(0.975, k - 2)
            print(json.dumps([rate, 1 / np.log1p(0.02 * rate), fit.slope, float(se), fit.slope - t * se, fit.slope + t * se]))
            """
        func text(_ v: [Double]) -> String { "[" + v.map { "\($0)" }.joined(separator: ",") + "]" }
        let py = try NPYTests.python(["-c", script, r.directory.path, text(logInverse), text(escape)])
        try #require(py.status == 0, "\(py.output)")
        let want = try #require(try JSONSerialization.jsonObject(with: Data(py.output.utf8)) as? [Double])
        let (rate, theory) = (want[0], want[1])
        #expect(abs(rate - 5) > 0.05, "the case must have a rate away from the teacher's s₁: \(rate)")
        #expect(abs((s["origin_rate"]?.numeric ?? .nan) - rate) <= 1e-10 * rate)
        let gotTheory = try #require(s["theory_steps_per_log_inverse_scale"]?.numeric)
        #expect(abs(gotTheory - theory) <= 1e-10 * theory, "theory \(gotTheory), numpy's \(theory)")
        guard case .object(let fit)? = s["fit_steps_per_log_inverse_scale"], let lo = fit["low"]?.numeric, let hi = fit["high"]?.numeric,
              let se = fit["standard_error"]?.numeric else { Issue.record("no interval in \(s.render())"); return }
        for (got, expected) in zip([fit["value"]?.numeric ?? .nan, se, lo, hi], want[2...]) {
            #expect(abs(got - expected) <= 1e-9 * abs(expected), "\(got) against numpy's \(expected)")
        }
        #expect(fit["resolution_steps"]?.numeric == 1)
        #expect(lo <= theory && theory <= hi, "the interval [\(lo), \(hi)] excludes the theory \(theory)")
    }

    /// relu is not differentiable at the origin: the sweep gives no theory line rather than a wrong one.
    @Test func reluSweepHasNoTheoryRate() throws {
        let r = try SaddleSweep.run(Self.tinySweep { $0.activation = .relu; $0.steps = 10 }, scales: [1e-2, 1e-3])
        #expect(r.summary["theory_steps_per_log_inverse_scale"] == .null && r.summary["origin_rate"] == .null)
        #expect(r.summary["theory_note"]?.displayText.contains("relu") == true)
    }

    // MARK: the sweep's members, its fit and the options it refuses

    /// A sweep small enough to run in a moment.
    static func tinySweep(_ body: (inout SaddleExperiment.Config) -> Void = { _ in }) -> SaddleExperiment.Config {
        config { c in
            c.n = 40; c.d = 4; c.k = 3; c.hidden = 5; c.teacherRank = 2; c.singularValues = [3, 1]
            c.steps = 60; c.learningRate = 0.05; c.logEvery = 5
            body(&c)
        }
    }

    /// Member directories are named by σ0 at full precision: nearby scales no longer share one
    /// directory (the later reading back the first one's results), one-digit scales keep their
    /// names, and a scale listed twice is refused.
    @Test func sweepMembersAreNamedAtFullPrecision() throws {
        #expect(SaddleSweep.memberName(1e-3, skip: false) == "sigma1e-03")
        #expect(SaddleSweep.memberName(1e-3, skip: true) == "sigma1e-03-skip")
        #expect(SaddleSweep.scaleText(1.2e-3) == "1.2e-03" && SaddleSweep.scaleText(3e-3) == "3e-03")
        #expect(SaddleSweep.scaleText(1.001e-3) == "1.001e-03" && SaddleSweep.scaleText(1.004e-3) == "1.004e-03")
        for scale in [0.1 + 0.2, 1.0 / 3, 1.001e-3, 7e-300] { #expect(Double(SaddleSweep.scaleText(scale)) == scale) }

        let c = Self.tinySweep()
        let r = try SaddleSweep.run(c, scales: [1.2e-3, 1.4e-3, 3e-3])
        let rows = try RunDirectory.metricsRows(in: r.directory)
        #expect(rows.map { $0["member"] } == ["sigma1.2e-03", "sigma1.4e-03", "sigma3e-03"].map { .string($0) })
        for row in rows {
            guard case .string(let member)? = row["member"] else { Issue.record("row without member"); continue }
            let config = try RunFiles.object(in: r.directory.appendingPathComponent(member + "/config.json"), shown: member)
            #expect(config["init_scale"]?.numeric == row["init_scale"]?.numeric, "\(member) ran another scale")
        }
        #expect(rows[0]["loss"]?.numeric != rows[1]["loss"]?.numeric, "1.2e-3 and 1.4e-3 gave the same run")

        let twice = Self.tinySweep()
        #expect(throws: BackendError.self) { try SaddleSweep.run(twice, scales: [1e-3, 1e-3, 1e-6]) }
        #expect(!FileManager.default.fileExists(atPath: twice.out!), "a refused sweep left a directory")
    }

    /// A sweep of an earlier widenet named its members `sigma%.0e`: resumed, a member is found under
    /// that name when it holds this very scale, and a directory holding another scale is refused.
    @Test func resumedSweepFindsMembersUnderTheirOldNames() throws {
        let c = Self.tinySweep()
        let root = URL(fileURLWithPath: c.out!), fm = FileManager.default
        let first = try SaddleSweep.run(c, scales: [1.5e-3, 1e-2])
        let before = try RunDirectory.metricsRows(in: root)
        // The directory the earlier widenet gave 1.5e-3, and the second member not yet run.
        try fm.removeItem(at: root.appendingPathComponent("summary.json"))
        try fm.moveItem(at: root.appendingPathComponent("sigma1.5e-03"), to: root.appendingPathComponent("sigma2e-03"))
        try fm.removeItem(at: root.appendingPathComponent("sigma1e-02"))
        let resumed = try SaddleSweep.run(c, scales: [1.5e-3, 1e-2], resume: true)
        let after = try RunDirectory.metricsRows(in: root)
        #expect(after.first?["member"] == .string("sigma2e-03") && !fm.fileExists(atPath: root.appendingPathComponent("sigma1.5e-03").path))
        #expect(after.map { $0["loss"] } == before.map { $0["loss"] })
        #expect(resumed.summary["first_escape_step"] == first.summary["first_escape_step"])

        // 1e-2's directory holding 1.5e-3's run (nearby scales sharing one, as before the fix) is not read as 1e-2's.
        try fm.removeItem(at: root.appendingPathComponent("summary.json"))
        try fm.removeItem(at: root.appendingPathComponent("sigma1e-02"))
        try fm.moveItem(at: root.appendingPathComponent("sigma2e-03"), to: root.appendingPathComponent("sigma1e-02"))
        #expect(throws: BackendError.self) { try SaddleSweep.run(c, scales: [1.5e-3, 1e-2], resume: true) }
    }

    /// The slope of the escape against log(1/σ0) with its standard error and 95 % interval, against
    /// scipy.stats.linregress and Student's t from scipy; fewer than 2 residual degrees of freedom
    /// leave it unidentified (two points give R² = 1 by construction).
    @Test(.enabled(if: AveragedSGDTests.hasScipy, "python3 with numpy and scipy is not available"))
    func escapeSlopeIntervalMatchesScipy() throws {
        let cases: [([Double], [Double])] = [
            ([2.3, 4.6, 6.9, 9.2], [31, 79, 118, 172]),
            ([2.3, 4.6, 6.9, 9.2, 11.5, 13.8, 16.1, 18.4], [30, 70, 120, 170, 220, 260, 310, 360]),
            ([1, 2, 3, 4, 5, 6], [2.0, 2.9, 6.1, 7.7, 10.4, 11.8]),
        ]
        let script = """
        import sys, json
        from scipy import stats
        out = []
        for x, y in json.loads(sys.argv[1]):
            r = stats.linregress(x, y)
            t = stats.t.ppf(0.975, len(x) - 2)
            out.append([r.slope, r.stderr, r.slope - t * r.stderr, r.slope + t * r.stderr])
        print(json.dumps(out))
        """
        let input = String(decoding: try JSONSerialization.data(withJSONObject: cases.map { [$0.0, $0.1] }), as: UTF8.self)
        let py = try NPYTests.python(["-c", script, input])
        try #require(py.status == 0, "\(py.output)")
        let want = try #require(try JSONSerialization.jsonObject(with: Data(py.output.utf8)) as? [[Double]])
        for ((x, y), ref) in zip(cases, want) {
            let fit = SaddleEscapeFit(x: x, y: y, resolution: 0)
            #expect(fit.identified && fit.points == x.count && fit.reason == nil)
            for (got, expected) in zip([fit.value, fit.standardError, fit.low, fit.high], ref) {
                #expect(abs((got ?? .nan) - expected) <= 1e-9 * max(abs(expected), 1), "\(got ?? .nan) against scipy's \(expected) for \(x)")
            }
        }
        // With a resolution h the residual variance is floored at h²/3: numpy's √(max(RSS/(k − 2), h²/3)/Sxx),
        // the interval slope ± t·s.e. Exactly even steps (RSS = 0) get the floor; scattered ones keep their RSS.
        let floored: [([Double], [Double], Double)] = [
            ([2.3026, 4.6052, 6.9078, 9.2103, 11.5129], [67, 92, 117, 142, 167], 1),
            ([2.3026, 4.6052, 6.9078, 9.2103, 11.5129], [60, 90, 110, 150, 160], 5),
            ([1, 2, 3, 4, 5, 6], [2.0, 2.9, 6.1, 7.7, 10.4, 11.8], 0.5),
        ]
        let flooredScript = """
        import sys, json
        import numpy as np
        from scipy import stats
        out = []
        for x, y, h in json.loads(sys.argv[1]):
            x, y = np.array(x), np.array(y); k = len(x)
            r = stats.linregress(x, y)
            rss = float(np.sum((y - r.intercept - r.slope * x) ** 2)); sxx = float(np.sum((x - x.mean()) ** 2))
            se = np.sqrt(max(rss / (k - 2), h * h / 3) / sxx); t = stats.t.ppf(0.975, k - 2)
            out.append([r.slope, se, r.slope - t * se, r.slope + t * se, r.stderr, h / np.sqrt(3) / np.sqrt(sxx)])
        print(json.dumps(out))
        """
        let flooredInput = String(decoding: try JSONSerialization.data(withJSONObject: floored.map { [$0.0, $0.1, $0.2] as [Any] }), as: UTF8.self)
        let fpy = try NPYTests.python(["-c", flooredScript, flooredInput])
        try #require(fpy.status == 0, "\(fpy.output)")
        let fwant = try #require(try JSONSerialization.jsonObject(with: Data(fpy.output.utf8)) as? [[Double]])
        for ((x, y, h), ref) in zip(floored, fwant) {
            let fit = SaddleEscapeFit(x: x, y: y, resolution: h)
            let got = [fit.value, fit.standardError, fit.low, fit.high, fit.regressionStandardError, fit.resolutionStandardError]
            for (g, expected) in zip(got, ref) {
                // Absolute to 1e-9 of the slope's s.e.: an RSS that is zero but for rounding gives scipy and us different 1e-12s.
                #expect(abs((g ?? .nan) - expected) <= 1e-9 * max(abs(expected), ref[1]), "\(g ?? .nan) against numpy's \(expected) for \(y), h = \(h)")
            }
        }
        for k in [2, 3] {
            let fit = SaddleEscapeFit(x: Array(cases[0].0.prefix(k)), y: Array(cases[0].1.prefix(k)), resolution: 0)
            #expect(!fit.identified && fit.value == nil && fit.low == nil && fit.reason?.contains("degrees of freedom") == true, "\(k) points")
        }
        // In the sweep's summary: two scales give the descriptive line but no identified slope.
        let rows: [JSONObject] = [(1e-3, 50.0), (1e-9, 150.0)].map { scale, step in
            var o = JSONObject(); o.set("init_scale", scale); o.set("rank_reached_at", [step]); o.set("skip_plateaus", false); return o
        }
        let summary = try SaddleSweep.summarise(rows, scales: [1e-3, 1e-9], skipping: false, resolution: 1)
        guard case .object(let fit)? = summary["fit_steps_per_log_inverse_scale"] else { Issue.record("\(summary.render())"); return }
        #expect(fit["identified"] == .bool(false) && summary["slope_steps_per_log_inverse_scale"]?.numeric != nil)
        #expect(summary["fit_steps_per_log_inverse_scale"]?.displayText.hasPrefix("not identified") == true)
    }

    /// Options one of which would be silently ignored are refused by name (exit 64); values out of
    /// range are refused (exit 65); neither leaves a run directory.
    @Test func contradictoryOptionsAndNonsenseValuesAreRefused() throws {
        let dir = try CLITests.scratch()
        let w1 = dir.appendingPathComponent("W1.npy").path, w2 = dir.appendingPathComponent("W2.npy").path
        let x = dir.appendingPathComponent("X.npy").path, y = dir.appendingPathComponent("Y.npy").path
        try NPY.write([Double](repeating: 1e-3, count: 5 * 4), shape: [5, 4], to: URL(fileURLWithPath: w1))
        try NPY.write([Double](repeating: 1e-3, count: 3 * 5), shape: [3, 5], to: URL(fileURLWithPath: w2))
        try NPY.write((0..<80).map { Double($0 % 7) - 3 }, shape: [20, 4], to: URL(fileURLWithPath: x))
        try NPY.write((0..<60).map { Double($0 % 5) - 2 }, shape: [20, 3], to: URL(fileURLWithPath: y))
        let files = ["--d", "4", "--k", "3", "--init-w1", w1, "--init-w2", w2]
        let cases: [(FailureClass, [String], [String])] = [
            (.usage, ["--init-scales", "1e-2,1e-4"] + files, ["--init-scales", "--init-w1"]),
            (.usage, ["--init-scales", "1e-2,1e-4", "--init-w2", w2, "--k", "3"], ["--init-scales", "--init-w2"]),
            (.usage, ["--init-scales", "1e-2,1e-4", "--init-scale", "1e-3"], ["--init-scales", "--init-scale "]),
            (.usage, ["--init-scale", "1e-3"] + files, ["--init-scale", "--init-w1", "--init-w2"]),
            (.usage, ["--init", "duplicate"] + files, ["--init ", "--init-w1", "--init-w2"]),
            (.usage, ["--inputs", "gaussian", "--x", x, "--y", y], ["--inputs", "--x"]),
            (.badInput, ["--plateau-threshold", "-1"], ["--plateau-threshold"]),
            (.badInput, ["--plateau-threshold", "0"], ["--plateau-threshold"]),
            (.badInput, ["--plateau-min-steps", "0"], ["--plateau-min-steps"]),
            (.badInput, ["--singular-values", "1,3"], ["--singular-values", "largest first"]),
            (.badInput, ["--init-scales", "1e-3,1e-3,1e-6"], ["--init-scales", "more than once"]),
        ]
        for (index, (expected, args, mentions)) in cases.enumerated() {
            let out = dir.appendingPathComponent("r\(index)").path
            let r = try CLITests.run(["saddle"] + args + ["--steps", "5", "--quiet", "--out", out])
            #expect(r.status == expected.exitCode, "\(args): exit \(r.status), expected \(expected.exitCode): \(r.stderr)")
            for m in mentions { #expect(r.stderr.contains(m), "\(args): the error does not name \(m): \(r.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: out), "\(args) left a run directory")
        }
        // One file alone leaves the other layer drawn at --init-scale with --init: both apply.
        let one = try CLITests.run(["saddle", "--init-scale", "1e-3", "--init", "duplicate", "--init-w1", w1, "--d", "4", "--k", "3",
                                    "--teacher-rank", "2", "--singular-values", "3,1", "--n", "20", "--steps", "2", "--quiet",
                                    "--out", dir.appendingPathComponent("one").path])
        #expect(one.status == 0, "\(one.stderr)")
        // The library refuses a sweep over initial weights it does not draw.
        let fixed = Self.tinySweep { $0.initW1Path = w1 }
        #expect { try SaddleSweep.run(fixed, scales: [1e-2, 1e-4]) } throws: { ($0 as? BackendError)?.failureClass == .usage }
    }

    /// A relu or tanh teacher may have more units than outputs (Amari's two duplicate units on one
    /// output): accepted as the nonlinear teacher's definition allows, and said in a note, since the
    /// rank the staircase counts is the outputs'. A linear teacher's rank above min(d, k) is refused.
    @Test func nonlinearTeacherWithMoreUnitsThanOutputsIsNoted() throws {
        let tanh = Self.config { c in
            c.activation = .tanh; c.n = 40; c.d = 2; c.k = 1; c.hidden = 2; c.teacherRank = 2; c.singularValues = [2, 1]
        }
        #expect(try SaddleExperiment.prepare(tanh).notes.contains { $0.contains("2 units") && $0.contains("stops at 1") })
        var square = tanh
        square.k = 2
        #expect(try !SaddleExperiment.prepare(square).notes.contains { $0.contains("units") })
        var linear = tanh
        linear.activation = .linear
        #expect(throws: BackendError.self) { try SaddleExperiment.prepare(linear) }
    }

    /// summary.json names the CPU a run used, as other commands do (it was null).
    @Test func summaryNamesTheCPU() throws {
        let r = try SaddleExperiment.run(Self.config { c in
            c.n = 20; c.d = 3; c.k = 2; c.hidden = 3; c.teacherRank = 2; c.singularValues = [2, 1]; c.steps = 2; c.backend = .cpu
        })
        #expect(r.summary["backend"] == .string("cpu"))
        #expect(r.summary["device"] == .string(CPUBackend.cpuName()), "\(r.summary["device"]?.render() ?? "nil")")
    }
}
