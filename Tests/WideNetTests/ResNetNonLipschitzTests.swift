import Foundation
import Testing
@testable import WideNet

/// The non-Lipschitz field sign(x)|x|^½ against its closed-form solutions, and Euler–Maruyama's mean
/// on a linear drift against its exact expectation.
@Suite struct ResNetNonLipschitzTests {
    @Test func squareRootFieldAgainstItsClosedForm() throws {
        let dir = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["resnet", "--experiment", "non-lipschitz", "--depths", "16,32,64,128,256,512", "--horizon", "1.5",
                                  "--quiet", "--out", dir.path])
        try #require(r.status == 0, "\(r.stderr)")
        let s = try RunFiles.object(in: dir.appendingPathComponent("summary.json"), shown: "run")
        #expect(s["euler_from_zero_max"]?.numeric == 0, "Euler from 0 must stay exactly at 0")
        // (x_L(δ) − x_L(0))/δ grows with L towards T²/(4δ).
        let q = s["quotients_at_zero"]?.numbers ?? [], limit = 1.5 * 1.5 / 4 / 1e-12
        #expect(zip(q, q.dropFirst()).allSatisfy { $1 > $0 } && (q.last ?? 0) < limit && (q.last ?? 0) > 0.9 * limit, "quotients \(q)")
        guard case .array(let starts)? = s["starts"] else { Issue.record("no starts"); return }
        for case .object(let o) in starts {
            let x0 = try #require(o["start"]?.numeric)
            guard x0 != 0 else { continue }
            let exact = (x0 > 0 ? 1.0 : -1.0) * Foundation.pow(x0.magnitude.squareRoot() + 0.75, 2)
            #expect(abs((o["exact_end"]?.numeric ?? 0) - exact) <= 1e-14)
            let ends = o["euler_ends"]?.numbers ?? []
            // Errors shrink with h; at ε = 1e-2 the order is forward Euler's 1.
            let errors = ends.map { abs($0 - exact) }
            #expect(zip(errors, errors.dropFirst()).allSatisfy { $1 < $0 }, "x₀ = \(x0): errors \(errors)")
            if x0 == 1e-2, case .object(let fit)? = o["euler_order"] {
                let p = fit["order"]?.numeric ?? 0
                #expect(p > 0.95 && p < 1.05, "order \(p) at x₀ = 1e-2")
                // 6 depths, 4 residual degrees of freedom: ± t₀.₉₇₅,₄ = 2.7764 s.e. (scipy.stats.t.ppf).
                let se = try #require(fit["standard_error"]?.numeric), i = fit["interval"]?.numbers ?? []
                #expect(fit["identified"] == .bool(true) && i.count == 2 && abs((i.last ?? 0) - p - 2.7764451051977934 * se) <= 1e-9 * se + 1e-14,
                        "\(fit.render())")
                let t = o["tangents"]?.numbers.last ?? 0, want = (0.1 + 0.75) / 0.1
                #expect(abs(t - want) < 0.01 * want, "tangent \(t) against \(want)")
            }
        }
    }

    /// x′ = ax + σẆ by Euler–Maruyama: the noise has mean zero, so E[x_L] = (1 + ah)^L x₀ exactly;
    /// the mean over 20 000 paths lies within 4 standard errors of it at every depth, and the exact
    /// discrete mean approaches the SDE's e^{aT}x₀ like h.
    @Test func eulerMaruyamaMeanOfALinearDrift() throws {
        var rng = TestRNG()
        let (a, T, paths, x0) = (-1.3, 1.0, 20_000, 0.8)
        var settings = ResidualSchemeSettings()
        settings.noise = 0.5
        var bias: [Double] = [], hs: [Double] = []
        for L in [4, 8, 16, 32] {
            let h = T / Double(L)
            let dw = rng.normals(L * paths, as: Double.self).map { $0 * h.squareRoot() }
            let end = try ResidualSchemes.pass(.eulerMaruyama, flow: LinearDrift(dim: 1, rate: a), points: [Double](repeating: x0, count: paths),
                                               depth: L, horizon: T, settings: settings, increments: dw).end
            let mean = end.reduce(0, +) / Double(paths)
            let sd = (end.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(paths - 1)).squareRoot()
            let exact = Foundation.pow(1 + a * h, Double(L)) * x0
            #expect(abs(mean - exact) <= 4 * sd / Double(paths).squareRoot(), "L = \(L): mean \(mean), exact \(exact) (seed \(rng.seed))")
            bias.append(abs(exact - Foundation.exp(a * T) * x0)); hs.append(h)
        }
        let order = try #require(ConvergenceOrder(h: hs, error: bias).order)
        #expect(order > 0.9 && order < 1.2, "weak order of the mean \(order)")
    }

    /// What non-lipschitz does not use is refused naming it, and its trajectories are checked against memory.
    @Test func nonLipschitzOptionsAndMemory() throws {
        let cli = CLITests(), base = ["resnet", "--experiment", "non-lipschitz"]
        try cli.expectCleanFailure(base + ["--seed", "4"], mentions: "--seed", "non-lipschitz")
        try cli.expectCleanFailure(base + ["--width", "4"], mentions: "--width", "non-lipschitz")
        for flag in [["--precision", "f32"], ["--task", "spirals"], ["--checkpoint-every", "5"]] {
            try cli.expectCleanFailure(base + flag, mentions: flag[0], "not non-lipschitz")
        }
        try cli.expectCleanFailure(base + ["--backend", "opencl"], mentions: "non-lipschitz", "host")
        try ResNetTrainTests.expectResourceRefusal(base + ["--depths", "100000000"], mentions: ["the largest depth that fits is about"])
    }
}
