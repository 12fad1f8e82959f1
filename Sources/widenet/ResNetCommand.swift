import ArgumentParser
import Foundation
import WideNet

extension ResNetExperiment.Kind: ExpressibleByArgument {}
extension ResidualDiffusion: ExpressibleByArgument {}

struct ResNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resnet",
        abstract: "ResNets as ODE discretisations: the depth limit of a fixed vector field, per scheme.",
        discussion: """
            Blocks x_{l+1} = x_l + h F(x_l, t_l), F(x, t) = V(t) tanh(U(t) x + c(t)) with U, V, c linear in t \
            (a smooth θ(t) drawn from --seed), L blocks, h = T/L. --experiment depth-limit (the only one \
            so far) runs each scheme at each depth on --points inputs and measures the RMS end-point error \
            against the scheme's limit (RK4 of euler/heun/backward-euler: x' = F; lm: x' = F/(1 + k); \
            revnet: y' = F_y(0, z), z' = F_z(y, 0); euler-maruyama: the same scheme at 16 × the largest \
            depth on the same Brownian path), and fits the order: the log-log slope of error against h \
            with its regression standard error. Depths: --depths, or --depth L with --steps S for \
            L, 2L, …, 2^S·L (each depth is one step of the run). Writes the field (field_U/V/c.npy), the \
            points, end points and references per scheme, and trajectories.

            Examples:
              widenet resnet
              widenet resnet --scheme euler,heun --depths 8,16,32,64,128,256
              widenet resnet --scheme lm --lm-k 0.5 --depth 16 --steps 5
              widenet resnet --scheme euler-maruyama --noise 0.5 --diffusion multiplicative --paths 64
            """)

    @Option(help: "The experiment: depth-limit (the only one so far).") var experiment: ResNetExperiment.Kind = .depthLimit
    @Option(help: "Depths L, comma-separated (default 8,16,…,1024).") var depths: String?
    @Option(help: "The first depth of a doubling ladder (with --steps; default 8).") var depth: Int?
    @Option(help: "With --depth L: the depths L, 2L, …, 2^S·L (default 7).") var steps: Int?
    @Option(help: "Schemes, comma-separated, or all: euler, heun, backward-euler, lm, revnet, euler-maruyama.")
    var scheme: String = "all"
    @Option(help: "Hidden width m of each block's F.") var width = 16
    @Option(help: "Dimension d of the state x (2 for the pictures).") var dim = 2
    @Option(help: "Input points (on the unit circle for --dim 2, the unit sphere otherwise).") var points = 64
    @Option(help: "Horizon T; h = T/L.") var horizon = 1.0
    @Option(name: .customLong("lm-k"), help: "lm: the fixed k of x_{n+1} = (1 − k)x_n + k x_{n−1} + hF(x_n), −1 < k ≤ 1.")
    var lmK: Double?
    @Option(help: "backward-euler: the fixed-point iteration's tolerance on max |change|.") var tolerance: Double?
    @Option(name: .customLong("max-iterations"), help: "backward-euler: fixed-point iterations per block at most.")
    var maxIterations: Int?
    @Option(help: "euler-maruyama: σ of x_{n+1} = x_n + hF + σ g ΔW (default 0.5).") var noise: Double?
    @Option(help: "euler-maruyama: additive (g = I, strong order 1) or multiplicative (g = diag F, order ½).")
    var diffusion: ResidualDiffusion?
    @Option(help: "euler-maruyama: Brownian paths averaged over (default 32).") var paths: Int?
    @Option(help: "Seed of the field, the points and the noise.") var seed: UInt64 = 0
    @Option(help: "auto or cpu: the experiment runs on the host in f64.") var backend: BackendKind?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if backend == .opencl { throw ValidationError("resnet --experiment depth-limit runs on the host in f64; --backend opencl has nothing to run") }
        if depths != nil && (depth != nil || steps != nil) {
            throw ValidationError("--depths lists the depths; --depth and --steps build a ladder instead: give one or the other")
        }
        if let depth, depth < 1 { throw ValidationError("--depth must be at least 1 (got \(depth))") }
        if let steps, steps < 0 { throw ValidationError("--steps must be at least 0 (got \(steps))") }
        if let steps, let depth, Double(depth) * pow(2, Double(steps)) > Double(1 << 24) {
            throw ValidationError("--depth \(depth) --steps \(steps) asks for more than 2^24 blocks")
        }
        let chosen = try schemes()
        let stochastic = chosen.contains(.eulerMaruyama)
        for (name, given) in [("--noise", noise != nil), ("--diffusion", diffusion != nil), ("--paths", paths != nil)] where given && !stochastic {
            throw ValidationError("\(name) applies to euler-maruyama only, which --scheme \(scheme) does not include")
        }
        if lmK != nil && !chosen.contains(.lm) { throw ValidationError("--lm-k applies to lm only, which --scheme \(scheme) does not include") }
        if (tolerance != nil || maxIterations != nil) && !chosen.contains(.backwardEuler) {
            throw ValidationError("--tolerance and --max-iterations apply to backward-euler only, which --scheme \(scheme) does not include")
        }
        if let lmK, !(lmK > -1 && lmK <= 1) { throw ValidationError("--lm-k must lie in (−1, 1] (got \(lmK))") }
        if let noise, !(noise >= 0 && noise.isFinite) { throw ValidationError("--noise must be a non-negative number (got \(noise))") }
        if !(horizon > 0 && horizon.isFinite) { throw ValidationError("--horizon must be a positive number (got \(horizon))") }
        _ = try depthList()
    }

    func schemes() throws -> [ResidualScheme] {
        if scheme == "all" { return ResidualScheme.allCases }
        var out: [ResidualScheme] = []
        for name in scheme.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let s = ResidualScheme(rawValue: name) else {
                throw ValidationError("--scheme \(name): expected all or a list of \(ResidualScheme.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if out.contains(s) { throw ValidationError("--scheme names \(name) twice") }
            out.append(s)
        }
        return out
    }

    func depthList() throws -> [Int] {
        if let depths {
            var out: [Int] = []
            for part in depths.split(separator: ",", omittingEmptySubsequences: false) {
                guard let L = Int(part.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--depths \(depths): '\(part)' is not a whole number") }
                guard L >= 1 else { throw ValidationError("--depths: every depth must be at least 1 (got \(L))") }
                guard !out.contains(L) else { throw ValidationError("--depths names \(L) twice") }
                out.append(L)
            }
            return out
        }
        let first = depth ?? 8, count = steps ?? 7
        return (0...count).map { first << $0 }
    }

    func run() throws {
        try reportingErrors {
            var cfg = ResNetExperiment.Config()
            cfg.experiment = experiment
            cfg.depths = try depthList(); cfg.schemes = try schemes()
            cfg.width = width; cfg.dim = dim; cfg.points = points; cfg.horizon = horizon; cfg.seed = seed
            if let lmK { cfg.settings.lmK = lmK }
            if let tolerance { cfg.settings.tolerance = tolerance }
            if let maxIterations { cfg.settings.maxIterations = maxIterations }
            if let noise { cfg.settings.noise = noise }
            if let diffusion { cfg.settings.diffusion = diffusion }
            if let paths { cfg.paths = paths }
            cfg.out = output.out
            let result = try ResNetExperiment.run(cfg)
            output.finish(result.summary, directory: result.directory, notes: result.notes) {
                guard case .array(let schemes)? = result.summary["schemes"] else { return }
                print("scheme".padding(toLength: 16, withPad: " ", startingAt: 0) + "order   ±2se     theory  error at L = \(cfg.depths.last ?? 0)")
                for case .object(let s) in schemes {
                    let name = s["scheme"]?.displayText ?? "?"
                    var order = "-", se = "-"
                    if case .object(let o)? = s["order"] {
                        order = o["order"]?.numeric.map { String(format: "%.3f", $0) } ?? "-"
                        se = o["standard_error"]?.numeric.map { String(format: "%.3f", 2 * $0) } ?? "-"
                    }
                    let theory = s["theory_order"]?.numeric.map { String(format: "%.1f", $0) } ?? "-"
                    var last = "-"
                    if case .array(let e)? = s["errors"], let v = e.last?.numeric { last = String(format: "%.3e", v) }
                    print(name.padding(toLength: 16, withPad: " ", startingAt: 0) + order.padding(toLength: 8, withPad: " ", startingAt: 0)
                          + se.padding(toLength: 9, withPad: " ", startingAt: 0) + theory.padding(toLength: 8, withPad: " ", startingAt: 0) + last)
                }
            }
        }
    }
}
