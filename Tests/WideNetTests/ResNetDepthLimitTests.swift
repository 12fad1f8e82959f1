import Foundation
import Testing
@testable import WideNet

/// `widenet resnet --experiment depth-limit`: each scheme converges to its limit at its order, against
/// references rebuilt independently (Tests/References/resnet_depth_limit.py: scipy's solve_ivp at
/// rtol = atol = 1e-12 on the field the run wrote), and bad options are refused cleanly.
@Suite struct ResNetDepthLimitTests {
    static let small = ["--points", "16", "--width", "12", "--seed", "3"]

    static func resnet(_ args: [String], in out: URL) throws -> JSONObject {
        let r = try CLITests.run(["resnet", "--quiet", "--out", out.path] + small + args)
        try #require(r.status == 0, "\(r.stderr)")
        return try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
    }

    /// summary.json's entry of one scheme.
    static func entry(_ summary: JSONObject, _ scheme: String) throws -> JSONObject {
        guard case .array(let all)? = summary["schemes"] else { throw BackendError("summary.json has no schemes") }
        for case .object(let s) in all where s["scheme"]?.displayText == scheme { return s }
        throw BackendError("summary.json has no entry for \(scheme)")
    }

    static func order(_ summary: JSONObject, _ scheme: String) throws -> Double {
        guard case .object(let o)? = try entry(summary, scheme)["order"], let p = o["order"]?.numeric else {
            throw BackendError("\(scheme) has no fitted order")
        }
        return p
    }

    /// The run's RK4 references agree with scipy's for x' = F, the LM modified equation and the
    /// RevNet's coupled field; and the metrics hold one row per (scheme, depth) with step and loss.
    @Test(.enabled(if: AveragedSGDTests.hasScipy, "python3 with numpy and scipy is not available"))
    func referencesMatchScipy() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        _ = try Self.resnet(["--scheme", "euler,lm,revnet", "--depth", "4", "--steps", "2", "--horizon", "1.5"], in: out)
        let script = PrechangeFixtureTests.repository.appendingPathComponent("Tests/References/resnet_depth_limit.py").path
        let json = out.appendingPathComponent("scipy.json")
        let py = try NPYTests.python([script, out.path, json.path])
        try #require(py.status == 0, "\(py.output)")
        let ref = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: [[Double]]])
        for (file, key) in [("reference_field.npy", "field"), ("reference_lm.npy", "lm"), ("reference_revnet.npy", "revnet")] {
            let mine = try NPY.read(out.appendingPathComponent(file))
            let want = try #require(ref[key]).flatMap { $0 }
            try #require(mine.shape == [16, 2])
            let worst = zip(mine.values, want).map { abs($0 - $1) }.max() ?? .nan
            #expect(worst <= 1e-9, "\(file) is off scipy's \(key) by \(worst)")
        }
        let rows = try RunDirectory.metricsRows(in: out)
        #expect(rows.count == 9)
        #expect(rows.allSatisfy { $0["step"] != nil && $0["loss"]?.numeric != nil })
        #expect(rows.map { $0["step"]?.numeric ?? -1 } == (0..<9).map(Double.init))
        #expect(rows.map { $0["depth_index"]?.numeric ?? -1 } == [0, 1, 2, 0, 1, 2, 0, 1, 2])
    }

    /// Fitted orders: Euler, backward Euler, RevNet and LM-ResNet (k = ½) 1, Heun 2, and LM-ResNet
    /// with k = 1 (leapfrog on x' = F/2) 2; LM-ResNet does not converge to x' = F itself.
    @Test func deterministicSchemesConvergeAtTheirOrders() throws {
        let dir = try CLITests.scratch()
        let summary = try Self.resnet(["--scheme", "euler,heun,backward-euler,lm,revnet", "--depths", "16,32,64,128,256"],
                                      in: dir.appendingPathComponent("half"))
        for (scheme, lo, hi) in [("euler", 0.9, 1.1), ("heun", 1.9, 2.1), ("backward-euler", 0.9, 1.1), ("lm", 0.9, 1.1), ("revnet", 0.9, 1.1)] {
            let p = try Self.order(summary, scheme)
            #expect(p >= lo && p <= hi, "\(scheme): fitted order \(p), expected [\(lo), \(hi)]")
        }
        let lm = try Self.entry(summary, "lm")
        let errors = try #require(lm["errors"]?.numbers), unmodified = try #require(lm["errors_against_unmodified"]?.numbers)
        #expect(errors.last! < 1e-2 * unmodified.last!, "lm: \(errors.last!) from x' = F/(1 + k), \(unmodified.last!) from x' = F")
        #expect(unmodified.last! > 0.8 * unmodified.first!, "lm's distance to x' = F shrinks: \(unmodified)")
        let leapfrog = try Self.resnet(["--scheme", "lm", "--lm-k", "1", "--depths", "16,32,64,128,256"], in: dir.appendingPathComponent("one"))
        let p = try Self.order(leapfrog, "lm")
        #expect(p >= 1.85 && p <= 2.15, "lm with k = 1: fitted order \(p), expected 2")
    }

    /// Every fitted order has a 95 % Student-t interval or is not identified with a reason: with 2 and 3
    /// depths (0 and 1 residual degrees of freedom) no interval, in summary.json, the terminal table and
    /// the report; with 4 the interval is the order ± t₀.₉₇₅,₂ s.e. of scipy's linregress on the logged
    /// errors (±4.30 s.e., not ±2), for euler and for lm against both its limit and x' = F.
    @Test(.enabled(if: AveragedSGDTests.hasScipy, "python3 with numpy and scipy is not available"))
    func fittedOrdersHaveStudentTIntervalsOrAreNotIdentified() throws {
        let dir = try CLITests.scratch()
        let base = ["resnet", "--experiment", "depth-limit", "--points", "5", "--width", "7", "--dim", "4", "--seed", "11", "--backend", "cpu"]
        for depths in ["8,16", "8,16,32"] {
            let out = dir.appendingPathComponent("depths-\(depths)")
            let r = try CLITests.run(base + ["--depths", depths, "--scheme", "euler", "--out", out.path])
            try #require(r.status == 0, "\(r.stderr)")
            let s = try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
            guard case .object(let o)? = try Self.entry(s, "euler")["order"] else { Issue.record("no order for \(depths)"); continue }
            #expect(o["identified"] == .bool(false) && o["interval"] == .null && o["order"]?.numeric != nil, "\(depths): \(o.render())")
            #expect(o["reason"]?.displayText.contains("residual degrees of freedom") == true, "\(depths): \(o.render())")
            #expect(r.stdout.contains("not identified") && !r.stdout.contains("2se"), "\(r.stdout)")
            let report = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
            #expect(report.contains("not identified") && !report.contains("± 2"), "report of \(depths)")
        }
        let out = dir.appendingPathComponent("d4")
        let r = try CLITests.run(base + ["--depths", "8,16,32,64", "--scheme", "euler,lm", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let s = try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
        let h = [8.0, 16, 32, 64].map { 1 / $0 }
        var fits: [JSONObject] = [], cases: [([Double], [Double])] = []
        for (scheme, key, errors) in [("euler", "order", "errors"), ("lm", "order", "errors"),
                                      ("lm", "order_against_unmodified", "errors_against_unmodified")] {
            let e = try Self.entry(s, scheme)
            guard case .object(let o)? = e[key] else { Issue.record("\(scheme) has no \(key)"); continue }
            fits.append(o); cases.append((h, try #require(e[errors]?.numbers)))
        }
        let want = try ConvergenceOrderTests.scipy(cases)
        for (o, ref) in zip(fits, want) {
            #expect(o["identified"] == .bool(true) && o["reason"] == .null && o["points"]?.numeric == 4)
            let i = o["interval"]?.numbers ?? []
            try #require(i.count == 2)
            for (got, (expected, name)) in zip([o["order"]?.numeric, o["standard_error"]?.numeric, i[0], i[1]],
                                               zip(ref, ["order", "standard error", "low", "high"])) {
                ConvergenceOrderTests.close(got, expected, name)
            }
        }
        #expect(r.stdout.contains("95 % interval") && r.stdout.contains("lm vs x' = F") && !r.stdout.contains("not identified"), "\(r.stdout)")
    }

    /// Euler–Maruyama against the same scheme on a 16× finer path with the same Brownian increments:
    /// strong order 1 with additive noise, ½ with noise on the residual branch.
    @Test func eulerMaruyamaStrongOrders() throws {
        let dir = try CLITests.scratch()
        let common = ["--scheme", "euler-maruyama", "--depths", "4,8,16,32,64", "--paths", "16"]
        let additive = try Self.resnet(common + ["--diffusion", "additive", "--noise", "0.5"], in: dir.appendingPathComponent("a"))
        let multiplicative = try Self.resnet(common + ["--diffusion", "multiplicative", "--noise", "1"], in: dir.appendingPathComponent("m"))
        let (pa, pm) = (try Self.order(additive, "euler-maruyama"), try Self.order(multiplicative, "euler-maruyama"))
        #expect(pa >= 0.85 && pa <= 1.15, "additive noise: strong order \(pa), expected 1")
        #expect(pm >= 0.35 && pm <= 0.65, "multiplicative noise: strong order \(pm), expected ½")
        let ends = try NPY.read(dir.appendingPathComponent("m/end_points_euler_maruyama.npy"))
        #expect(ends.shape == [5, 16, 16, 2])
    }

    /// A step too large for the fixed-point iteration is an error naming the block; nothing is written.
    @Test func backwardEulerRefusesAStepItCannotSolve() throws {
        try CLITests().expectCleanFailure(["resnet", "--scheme", "backward-euler", "--horizon", "60", "--depth", "2", "--steps", "0"],
                                          mentions: "did not converge", "block")
    }

    @Test func badOptionsAreRefused() throws {
        let t = CLITests()
        try t.expectCleanFailure(["resnet", "--depth", "0"], mentions: "--depth")
        try t.expectCleanFailure(["resnet", "--depths", "8,0"], mentions: "at least 1")
        try t.expectCleanFailure(["resnet", "--depths", "8,16", "--depth", "8"], mentions: "--depths")
        try t.expectCleanFailure(["resnet", "--scheme", "lm", "--lm-k", "1.5"], mentions: "--lm-k")
        try t.expectCleanFailure(["resnet", "--scheme", "lm", "--lm-k", "-1"], mentions: "--lm-k")
        try t.expectCleanFailure(["resnet", "--scheme", "euler", "--noise", "0.1"], mentions: "--noise", "euler-maruyama")
        try t.expectCleanFailure(["resnet", "--scheme", "rk45"], mentions: "--scheme")
        try t.expectCleanFailure(["resnet", "--scheme", "revnet", "--dim", "3"], mentions: "even")
        try t.expectCleanFailure(["resnet", "--scheme", "euler-maruyama", "--depths", "8,12,16"], mentions: "divide")
        try t.expectCleanFailure(["resnet", "--task", "spirals"], mentions: "--task", "--experiment train")
        try t.expectCleanFailure(["resnet", "--backend", "opencl"], mentions: "host")
        // A negative depth in the space form reaches the range check (not "Missing value").
        try t.expectCleanFailure(["resnet", "--depths", "-8,16"], mentions: "at least 1", "-8")
        // Options of the other experiments name the ones they apply to.
        try t.expectCleanFailure(["resnet", "--precision", "f64"], mentions: "--precision", "--experiment train, not depth-limit")
        try t.expectCleanFailure(["resnet", "--lr", "0.1"], mentions: "--lr", "train or boost, not depth-limit")
        try t.expectCleanFailure(["resnet", "--scheme", "backward-euler", "--max-iterations", "2", "--depths", "8,16"],
                                 mentions: "did not converge", "--max-iterations (now 2)")
    }

    /// Points that do not fit in memory are refused with 69 before anything is computed, naming the
    /// largest --points that fits (the host reference's work cap is a separate, later check).
    @Test func pointsBeyondMemoryAreRefused() throws {
        try ResNetTrainTests.expectResourceRefusal(["resnet", "--points", "100000000"], mentions: ["the largest --points that fits is about"])
        try ResNetTrainTests.expectResourceRefusal(["resnet", "--scheme", "euler-maruyama", "--paths", "100000000", "--points", "4"],
                                                   mentions: ["the largest --paths that fits is about"])
    }

    /// The deepest trajectory beyond the cap is not kept, and a note says so and how to keep it.
    @Test func anOmittedTrajectoryIsNoted() throws {
        var cfg = ResNetExperiment.Config()
        cfg.depths = [262144]; cfg.points = 8; cfg.schemes = [.euler]
        let flow = ResidualFlow(dim: 2, width: cfg.width, seed: 0)
        let omitted = ResNetDepthLimit(cfg: cfg, flow: flow, points: [], fieldReference: nil)
        #expect(!cfg.keepsTrajectories)
        #expect(omitted.notes.count == 1 && omitted.notes[0].contains("no trajectory_*.npy and no flow figure")
                && omitted.notes[0].contains("4000000") && omitted.notes[0].contains("at most 7 --points"), "\(omitted.notes)")
        cfg.points = 7
        #expect(cfg.keepsTrajectories && ResNetDepthLimit(cfg: cfg, flow: flow, points: [], fieldReference: nil).notes.isEmpty)
    }

    /// metrics.jsonl: one row per (scheme, depth) with a unique step and the depth's index; the summary
    /// says what steps_run counts.
    @Test func metricsRowsHaveUniqueSteps() throws {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let s = try Self.resnet(["--scheme", "euler,heun", "--depths", "4,8"], in: out)
        let rows = try RunDirectory.metricsRows(in: out)
        #expect(rows.map { $0["step"]?.numeric ?? -1 } == [0, 1, 2, 3])
        #expect(rows.map { $0["depth_index"]?.numeric ?? -1 } == [0, 1, 0, 1])
        #expect(s["metrics_rows"]?.numeric == 4 && s["steps_run"]?.numeric == 3)
        #expect(s["steps_run_counts"]?.displayText.contains("one row per (scheme, depth)") == true)
    }
}
