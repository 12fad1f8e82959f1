import Foundation

/// `widenet resnet --experiment non-lipschitz`: the blocks x_{l+1} = x_l + h F(x_l) of the field
/// F(x) = sign(x)|x|^{1/2} (SquareRootField), continuous but not Lipschitz at 0, in one dimension.
/// From x_0 = 0 the ODE x′ = F has the solutions 0 and ±t²/4; from x_0 = ε ≠ 0 the unique one is
/// sign(ε)(√|ε| + t/2)². Per depth L (h = T/L) and start:
/// - forward Euler's end point: exactly 0 from 0 (F(0) = 0), and its error against the closed form
///   from ε, with the fitted order per ε (the constant grows as ε → 0);
/// - the end point's sensitivity to the start: the tangent Π_l (1 + h/(2√|x_l|)) along Euler's path
///   from ε (exact: (√ε + T/2)/√ε), and at 0 the quotient (x_L(δ) − x_L(0))/δ, δ = 1e-12, which grows
///   as h → 0 (towards T²/(4δ): the discrete map tends to one that jumps at 0);
/// - backward Euler by fixed-point iteration from the Euler predictor: its end points and the most
///   iterations a block took, or where it failed. At x_n = 0 the implicit equation y = hF(y) has
///   three roots, 0 and ±h², and the iteration's slope h/(2√|y|) exceeds 1 below h²/4: 0 is a
///   repelling root, kept only because the predictor lands on it exactly.
final class ResNetNonLipschitz: SteppedRun {
    struct Depth {
        var euler: [Double], backward: [Double?], iterations: [Int?], tangent: [Double], quotient: Double
    }
    let cfg: ResNetExperiment.Config
    let starts: [Double] = [0, 1e-2, 1e-4, 1e-6, 1e-8, -1e-4]
    static let delta = 1e-12
    var results: [Depth] = []

    var command: String { "resnet" }
    var steps: Int { cfg.depths.count - 1 }
    var backendInfo: BackendInfo? { nil }
    var backendKind: String? { "cpu" }
    var notes: [String] { ["non-lipschitz runs on the host in f64, in one dimension, from the fixed starts 0, ±ε (no field, points or seed to choose)"] }

    init(cfg: ResNetExperiment.Config) throws {
        self.cfg = cfg
        let field = SquareRootField(dim: 1), T = cfg.horizon
        var settings = cfg.settings
        settings.maxIterations = max(settings.maxIterations, 1)
        for L in cfg.depths {
            let h = T / Double(L)
            let euler = try ResidualSchemes.pass(.euler, flow: field, points: starts + [Self.delta], depth: L, horizon: T, settings: settings,
                                                 keepTrajectory: true)
            let path = euler.trajectory ?? []
            let width = starts.count + 1
            var tangent: [Double] = []
            for (i, x0) in starts.enumerated() {
                guard x0 != 0 else { tangent.append(.nan); continue }
                var t = 1.0
                for l in 0..<L { t *= 1 + h / (2 * path[l * width + i].magnitude.squareRoot()) }
                tangent.append(t)
            }
            var backward: [Double?] = [], iterations: [Int?] = []
            for x0 in starts {
                var x = [x0], most = 0, failed = false
                for l in 0..<L {
                    do {
                        let (next, k) = try ResidualSchemes.implicitStepCounted(field, x, t: Double(l + 1) * h, h: h, block: l, settings: settings)
                        x = next; most = max(most, k)
                    } catch { failed = true; break }
                }
                backward.append(failed ? nil : x[0]); iterations.append(failed ? nil : most)
            }
            results.append(Depth(euler: Array(euler.end.prefix(starts.count)), backward: backward, iterations: iterations, tangent: tangent,
                                 quotient: (euler.end[starts.count] - euler.end[0]) / Self.delta))
        }
    }

    func exact(_ x0: Double) -> Double {
        x0 == 0 ? 0 : (x0 > 0 ? 1 : -1) * Foundation.pow(x0.magnitude.squareRoot() + cfg.horizon / 2, 2)
    }

    func config() -> JSONObject {
        RecordedConfig.json(command: "resnet", options: cfg, resolved: [("backend", .string("cpu")), ("precision", .string("f64")),
                                                                      ("starts", .array(starts.map { .number($0) }))])
    }

    func observe(_ k: Int) throws -> Observation {
        let r = results[k], L = cfg.depths[k]
        var row = JSONObject()
        row.set("step", k); row.set("depth", L); row.set("h", cfg.horizon / Double(L))
        row.set("euler_from_0", r.euler[0]); row.set("quotient_at_0", r.quotient)
        let i = starts.firstIndex(of: 1e-4) ?? 1
        row.set("loss", abs(r.euler[i] - exact(starts[i])))
        row.set("euler_error_1e-4", abs(r.euler[i] - exact(starts[i])))
        row.set("tangent_1e-4", r.tangent[i])
        return Observation(loss: nil, row: row)
    }

    func advance(from k: Int) throws {}

    func finish(in run: RunDirectory) throws -> JSONObject {
        let hs = cfg.depths.map { cfg.horizon / Double($0) }
        var perStart: [JSONValue] = []
        for (i, x0) in starts.enumerated() {
            var o = JSONObject()
            o.set("start", x0); o.set("exact_end", exact(x0))
            o.set("euler_ends", results.map { $0.euler[i] })
            o.set("backward_euler_ends", results.map { $0.backward[i] ?? .nan })
            o["backward_euler_iterations"] = .array(results.map { $0.iterations[i].map { .int($0) } ?? .null })
            o.set("backward_euler_converged", results.allSatisfy { $0.backward[i] != nil })
            if x0 != 0 {
                let errors = results.map { abs($0.euler[i] - exact(x0)) }
                o.set("euler_errors", errors)
                o["euler_order"] = .object(try ConfigCoding.object(ConvergenceOrder(h: hs, error: errors, noun: "depths")))
                o.set("tangents", results.map { $0.tangent[i] })
                o.set("exact_tangent", (x0.magnitude.squareRoot() + cfg.horizon / 2) / x0.magnitude.squareRoot())
            }
            perStart.append(.object(o))
        }
        try run.writeArray(results.flatMap(\.euler), shape: [results.count, starts.count], to: "euler_ends.npy")
        var s = JSONObject()
        s.set("experiment", "non-lipschitz"); s.set("field", "sign(x)|x|^(1/2)"); s.set("horizon", cfg.horizon)
        s.set("depths", cfg.depths.map(Double.init))
        s.set("euler_from_zero_max", results.map { abs($0.euler[0]) }.max() ?? .nan)
        s.set("quotients_at_zero", results.map(\.quotient)); s.set("quotient_delta", Self.delta)
        s.set("solutions_from_zero", "0 and ±T²/4 = ±\(cfg.horizon * cfg.horizon / 4)")
        s["starts"] = .array(perStart)
        return s
    }
}
