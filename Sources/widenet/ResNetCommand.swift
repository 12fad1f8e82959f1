import ArgumentParser
import Foundation
import WideNet

extension ResNetExperiment.Kind: ExpressibleByArgument {}
extension ResidualDiffusion: ExpressibleByArgument {}
extension ResidualTask: ExpressibleByArgument {}

struct ResNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resnet",
        abstract: "ResNets as ODE discretisations: the depth limit of a fixed vector field per scheme, and training by backpropagation.",
        discussion: """
            Blocks x_{l+1} = x_l + h F(x_l, t_l), F(x, t) = V(t) tanh(U(t) x + c(t)) with U, V, c linear in t \
            (a smooth θ(t) drawn from --seed), L blocks, h = T/L. --experiment depth-limit runs each scheme at each depth on --points inputs and measures the RMS end-point error \
            against the scheme's limit (RK4 of euler/heun/backward-euler: x' = F; lm: x' = F/(1 + k); \
            revnet: y' = F_y(0, z), z' = F_z(y, 0); euler-maruyama: the same scheme at 16 × the largest \
            depth on the same Brownian path), and fits the order: the log-log slope of error against h \
            with its 95 % Student-t interval (not identified with fewer than 4 depths). Depths: --depths, or --depth L with --steps S for \
            L, 2L, …, 2^S·L (one metrics row per scheme and depth, step numbering the rows). Writes the field (field_U/V/c.npy), the \
            points, end points and references per scheme, and trajectories.

            --experiment train: x_0 = E x, the blocks above (--scheme euler, lm with trained k_l, heun, backward-euler by fixed-point iteration, euler-maruyama: noise in training passes, or revnet: \
            the halves y, z of an even --dim moved in turn, each by the block's F of the other) \
            with σ = --activation and their own U_l, c_l, V_l (started at θ(t_l)), f = wᵀx_L + b, loss ½·mean (f − y)², trained for --steps \
            updates by --optimizer (gd, momentum, adam) with backpropagation on the chosen backend \
            (--backend, --precision), on --task spirals|circles (2-D, labels ±1), teacher, or file (--x, --y). \
            --depth L (default 16), --width m (32), --dim D of the state (3, revnet 4; in 2-D only blocks that fold the plane separate circles). \
            Logs train and test loss and accuracy; checkpoints and --resume as every run; writes the \
            parameters, each block's Lipschitz bound h‖V_l‖‖U_l‖ and the flow of the test points. With \
            --depths 4,8,… it trains at each depth (member runs depth-L/) and fits the order in h of the \
            gap between the learned maps of successive depths.

            --experiment boost: --steps blocks added one at a time, each from the same random hidden \
            weights two ways: functional-gradient boosting (V by ridge least squares, --ridge, fitted to \
            −∂loss/∂x_L, an exact line search, the read-out refit) and layer by layer (the new block and \
            the read-out by --boost-steps GD steps of --lr). Loss against blocks with each fitted rate (over the rows \
            --log-every logs). Host f64: --backend cpu or none.

            --experiment non-lipschitz: Euler and backward Euler on F(x) = sign(x)|x|^½ from 0 and ±ε at \
            --depths, against the closed form sign(ε)(√|ε| + T/2)²; the end point's sensitivity to the start.

            Examples:
              widenet resnet
              widenet resnet --scheme euler,heun --depths 8,16,32,64,128,256
              widenet resnet --scheme lm --lm-k 0.5 --depth 16 --steps 5
              widenet resnet --scheme euler-maruyama --noise 0.5 --diffusion multiplicative --paths 64
              widenet resnet --experiment train --task circles --dim 3 --depth 32 --steps 1000
              widenet resnet --experiment boost --task spirals --steps 64
              widenet resnet --experiment non-lipschitz --depths 8,16,32,64,128,256,512,1024
            """)

    @Option(help: "The experiment: depth-limit, train, boost or non-lipschitz (default depth-limit; train with --resume).") var experiment: ResNetExperiment.Kind?
    // .unconditional: `--depths -8,16` reaches the range check instead of reading as an option.
    @Option(parsing: .unconditional, help: "Depths L, comma-separated (default 8,16,…,1024).") var depths: String?
    @Option(help: "depth-limit: the first depth of a doubling ladder (with --steps; default 8). train: the depth L (default 16).") var depth: Int?
    @Option(help: "depth-limit: with --depth L the depths L, 2L, …, 2^S·L (default 7). train: the updates (default 500).") var steps: Int?
    @Option(help: "Schemes, comma-separated, or all: euler, heun, backward-euler, lm, revnet, euler-maruyama.")
    var scheme: String = "all"
    @Option(help: "Hidden width m of each block's F (default 16, train 32).") var width: Int?
    @Option(help: "Dimension d of the state x (default 2 for the pictures, train 3, train --scheme revnet 4).") var dim: Int?
    @Option(help: "depth-limit: input points (on the unit circle for --dim 2, the unit sphere otherwise; default 64).") var points: Int?
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
    @Option(help: "train: spirals, circles, teacher or file (default spirals).") var task: ResidualTask?
    @Option(help: "train --task file: inputs, n×d (.npy).") var x: String?
    @Option(help: "train --task file: labels, n (.npy); ±1 labels get accuracies.") var y: String?
    @Option(help: "train: training points of a synthetic task (default 512).") var n: Int?
    @Option(name: .customLong("test-size"), help: "train: test points (default 512; with --task file the rows held out, default a fifth).")
    var testSize: Int?
    @Option(name: .customLong("input-dim"), help: "train --task teacher: the input dimension (default 4).") var inputDim: Int?
    @Option(name: .customLong("task-noise"), help: "train: the task's noise (default 0.05 planar, 0.1 teacher).") var taskNoise: Double?
    @Option(help: "train: σ of the blocks, tanh, relu or linear (default tanh).") var activation: Activation?
    @Option(help: "train: gd, momentum or adam (default adam).") var optimizer: Optimizer?
    @Option(help: "train: the step size (default 0.01).") var lr: Double?
    @Option(name: .customLong("log-every"), help: "train: a metrics row every K updates (default 10); boost: every K blocks (default 1).") var logEvery: Int?
    @Option(name: .customLong("boost-steps"), help: "boost: GD steps per block of the layer-by-layer baseline (default 200; its step is --lr, default 0.1).")
    var boostSteps: Int?
    @Option(help: "boost: the ridge of the least-squares fits, times the points (default 1e-6).") var ridge: Double?
    @OptionGroup var runControl: RunControlOptions
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    /// The experiment: --experiment, else train when resuming (depth-limit runs have no checkpoints).
    var kind: ResNetExperiment.Kind { experiment ?? (runControl.resume != nil ? .train : .depthLimit) }

    /// The options of the runs on the harness (train and boost), those of train alone, of boost alone, and of depth-limit.
    static let trainOrBoost = ["--task", "--x", "--y", "--n", "--test-size", "--input-dim", "--task-noise", "--lr", "--log-every",
                               "--resume", "--checkpoint-every", "--no-checkpoint"]
    static let trainOnly = ["--activation", "--optimizer", "--device", "--precision"]
    static let boostOnly = ["--boost-steps", "--ridge"]
    /// What boost does not use besides depth-limit's options: its blocks are tanh, fitted on the host in f64, one per step.
    static let notBoost = ["--depth", "--depths", "--horizon"] + trainOnly
    static let depthLimitOnly = ["--scheme", "--points", "--lm-k", "--tolerance", "--max-iterations", "--noise", "--diffusion", "--paths"]
    /// What non-lipschitz does not use: it steps sign(x)|x|^(1/2) in one dimension from fixed starts.
    static let notNonLipschitz = ["--scheme", "--points", "--lm-k", "--noise", "--diffusion", "--paths", "--width", "--dim", "--seed"]

    func validate() throws {
        let given = RunControlOptions.onCommandLine
        if kind == .boost, let flag = (Self.notBoost + Self.depthLimitOnly).first(where: given) {
            throw ValidationError("\(flag) does not apply to --experiment boost (tanh blocks fitted on the host in f64, one per --steps)")
        }
        if kind == .boost, deviceOptions.backend == .opencl {
            throw ValidationError("--backend opencl: --experiment boost runs on the host in f64 (least-squares fits and short GD runs); "
                + "give --backend cpu or leave it out")
        }
        if kind == .train, let flag = Self.boostOnly.first(where: given) { throw ValidationError("\(flag) applies to --experiment boost") }
        if kind == .train || kind == .boost {
            let trainScheme = ["--scheme", "--lm-k", "--noise", "--tolerance", "--max-iterations"]
            if let flag = Self.depthLimitOnly.first(where: { given($0) && !(kind == .train && trainScheme.contains($0)) }) {
                throw ValidationError("\(flag) applies to --experiment depth-limit; train steps its blocks by --scheme euler, lm, heun, euler-maruyama, backward-euler or revnet")
            }
            if kind == .train, given("--scheme"), ResidualScheme(rawValue: scheme) == nil {
                throw ValidationError("--scheme \(scheme): --experiment train steps its blocks by one of "
                    + ResidualScheme.allCases.map(\.rawValue).joined(separator: ", "))
            }
            if kind == .train, given("--tolerance") || given("--max-iterations"), scheme != "backward-euler" {
                throw ValidationError("--tolerance and --max-iterations apply to --scheme backward-euler")
            }
            if kind == .train, given("--noise"), scheme != "euler-maruyama" { throw ValidationError("--noise applies to --scheme euler-maruyama") }
            if kind == .train, given("--lm-k"), scheme != "lm" { throw ValidationError("--lm-k applies to --scheme lm") }
            return
        }
        // depth-limit and non-lipschitz: computed on the host before anything is written.
        let name = kind.rawValue
        if kind == .nonLipschitz, let flag = Self.notNonLipschitz.first(where: given) {
            throw ValidationError("\(flag) does not apply to --experiment non-lipschitz (Euler and backward Euler on sign(x)|x|^(1/2) in one dimension)")
        }
        if let flag = Self.trainOrBoost.first(where: given) { throw ValidationError("\(flag) applies to --experiment train or boost, not \(name)") }
        if let flag = Self.trainOnly.first(where: given) { throw ValidationError("\(flag) applies to --experiment train, not \(name)") }
        if let flag = Self.boostOnly.first(where: given) { throw ValidationError("\(flag) applies to --experiment boost, not \(name)") }
        if deviceOptions.backend == .opencl {
            throw ValidationError("resnet --experiment \(name) runs on the host in f64; --backend opencl has nothing to run")
        }
        if depths != nil && (depth != nil || steps != nil) {
            throw ValidationError("--depths lists the depths; --depth and --steps build a ladder instead: give one or the other")
        }
        if let depth, depth < 1 { throw BackendError("--depth must be at least 1 (got \(depth))") }
        if let steps, steps < 0 { throw BackendError("--steps must be at least 0 (got \(steps))") }
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
        if let noise, !(noise >= 0 && noise.isFinite) { throw BackendError("--noise must be a non-negative number (got \(noise))") }
        if !(horizon > 0 && horizon.isFinite) { throw BackendError("--horizon must be a positive number (got \(horizon))") }
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
                guard L >= 1 else { throw BackendError("--depths: every depth must be at least 1 (got \(L))") }
                guard !out.contains(L) else { throw ValidationError("--depths names \(L) twice") }
                out.append(L)
            }
            return out
        }
        let first = depth ?? 8, count = steps ?? 7
        return (0...count).map { first << $0 }
    }

    func run() throws {
        if kind == .train || kind == .boost { return try runTrain() }
        try reportingErrors {
            var cfg = ResNetExperiment.Config()
            cfg.experiment = kind
            cfg.depths = try depthList(); cfg.schemes = try schemes()
            if kind == .nonLipschitz { cfg.schemes = [.euler, .backwardEuler] }
            cfg.width = width ?? 16; cfg.dim = dim ?? 2; cfg.points = points ?? 64; cfg.horizon = horizon; cfg.seed = seed
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
                // The fitted order with its 95 % Student-t interval, or "not identified" (the reasons below the table).
                print("scheme".padding(toLength: 16, withPad: " ", startingAt: 0) + "order   95 % interval     theory  error at L = \(cfg.depths.last ?? 0)")
                var reasons: [String] = []
                func line(_ name: String, _ fit: JSONValue?, theory: String, last: String) {
                    var order = "-", interval = "not identified"
                    if case .object(let o)? = fit {
                        order = o["order"]?.numeric.map { String(format: "%.3f", $0) } ?? "-"
                        if o["identified"] == .bool(true), let i = o["interval"]?.numbers, i.count == 2 {
                            interval = String(format: "[%.3f, %.3f]", i[0], i[1])
                        } else if let why = o["reason"]?.displayText, !reasons.contains(why) {
                            reasons.append(why)
                        }
                    }
                    print(name.padding(toLength: 16, withPad: " ", startingAt: 0) + order.padding(toLength: 8, withPad: " ", startingAt: 0)
                          + interval.padding(toLength: 18, withPad: " ", startingAt: 0) + theory.padding(toLength: 8, withPad: " ", startingAt: 0) + last)
                }
                for case .object(let s) in schemes {
                    let name = s["scheme"]?.displayText ?? "?"
                    let theory = s["theory_order"]?.numeric.map { String(format: "%.1f", $0) } ?? "-"
                    var last = "-"
                    if case .array(let e)? = s["errors"], let v = e.last?.numeric { last = String(format: "%.3e", v) }
                    line(name, s["order"], theory: theory, last: last)
                    if let u = s["order_against_unmodified"], u != .null {
                        let lastU = s["errors_against_unmodified"]?.numbers.last.map { String(format: "%.3e", $0) } ?? "-"
                        line("\(name) vs x' = F", u, theory: "-", last: lastU)
                    }
                }
                for why in reasons { print("not identified: \(why)") }
            }
        }
    }

    /// The task options that do not apply to `task` are refused (64); with --task file, --input-dim and --n
    /// must agree with X (`fileShape`: rows, columns), else the command line contradicts the data (65).
    func checkTaskOptions(_ task: ResidualTask, fileShape: [Int]?) throws {
        let given = RunControlOptions.onCommandLine
        switch task {
        case .spirals, .circles:
            if given("--input-dim") {
                throw ValidationError("--input-dim applies to --task teacher (with --task file X's columns give it); --task \(task.rawValue) is 2-D")
            }
        case .teacher:
            break
        case .file:
            if given("--task-noise") {
                throw ValidationError("--task-noise applies to the synthetic tasks; --task file takes its labels from --y as they are")
            }
            guard let shape = fileShape, let xPath = x else { return }
            let (rows, columns) = (shape[0], shape[1])
            if let inputDim, inputDim != columns {
                throw BackendError("--input-dim \(inputDim) disagrees with \(xPath), whose rows have \(columns) values (leave out --input-dim)")
            }
            if let n {
                let held = testSize ?? rows / 5
                if n != rows - held {
                    throw BackendError("--n \(n) disagrees with \(xPath): its \(rows) rows less the \(held) held out (--test-size) leave "
                        + "\(rows - held) training points (leave out --n)")
                }
            }
        }
    }

    func runTrain() throws {
        try reportingErrors {
            var c = ResNetTrain.Config()
            let files = x != nil || y != nil
            if let task, task != .file, files {
                throw ValidationError("--task \(task.rawValue) draws its own points; --x and --y are the data of --task file: give one or the other")
            }
            if let task { c.task = task } else if files { c.task = .file }
            c.xPath = x; c.yPath = y
            // X's shape (rows, columns), for the default hold-out and the options that must agree with it.
            let fileShape = c.task == .file ? (try? NPY.read(URL(fileURLWithPath: x ?? "")).shape).flatMap { $0.count == 2 ? $0 : nil } : nil
            if runControl.resume == nil { try checkTaskOptions(c.task, fileShape: fileShape) }
            if let n { c.n = n }
            if let testSize { c.testSize = testSize } else if let rows = fileShape?.first { c.testSize = rows / 5 }
            if let inputDim { c.inputDim = inputDim }
            c.taskNoise = taskNoise
            if let depth { c.depth = depth }
            if let width { c.width = width }
            c.horizon = horizon
            if let activation { c.activation = activation }
            if kind == .train, RunControlOptions.onCommandLine("--scheme"), let chosen = ResidualScheme(rawValue: scheme) { c.scheme = chosen }
            if let dim {
                c.dim = dim
            } else if kind == .train && c.scheme == .revnet {
                c.dim = 4
                c.notes.append("revnet moves the two halves of the state in turn: --dim defaults to 4 (the other schemes' default 3 is odd)")
            }
            if let lmK { c.lmK = lmK }
            if let noise { c.noise = noise }
            c.tolerance = tolerance; c.maxIterations = maxIterations
            if let optimizer { c.optimizer = optimizer }
            if let lr { c.learningRate = lr }
            if let steps { c.steps = steps }
            if let logEvery { c.logEvery = logEvery }
            if kind == .boost { c.steps = steps ?? 32; c.learningRate = lr ?? 0.1; c.logEvery = logEvery ?? 1; c.width = width ?? 32 }
            if let boostSteps { c.boostSteps = boostSteps }
            if let ridge { c.ridge = ridge }
            c.backend = try deviceOptions.resolvedBackend(); c.device = deviceOptions.resolvedDevice; c.precision = deviceOptions.precision
            c.seed = seed; c.out = output.out; c.quiet = output.quiet
            var recorded: RecordedConfig? = nil
            var boosting = kind == .boost
            if let dir = runControl.resume {
                guard output.out == nil || output.out == dir else { throw ValidationError("--resume continues the run in its own directory; leave out --out") }
                let r = try RecordedConfig(directory: URL(fileURLWithPath: dir))
                guard r.command() == "resnet", r.options["task"] != nil else {
                    throw ValidationError("--resume \(dir): not a resnet --experiment train or boost run")
                }
                if case .object(let resolved)? = r.options["resolved"], resolved["experiment"] == .string("boost") { boosting = true }
                try r.refuseChanges(from: c, keys: ResNetTrain.Config.recordedKeys, renamed: ["--lr": "lr", "--x": "x", "--y": "y"])
                // The cadence is the run's own too (README: a resumed run checkpoints as it was started); runs that did
                // not record theirs (boost and depth sweeps before it was recorded) take the one given.
                if let k = runControl.checkpointEvery, case .object(let resolved)? = r.options["resolved"], resolved["checkpoint_every"] != nil {
                    let had = r.resolvedInt("checkpoint_every")
                    if had != k {
                        throw BackendError("--resume \(dir): --checkpoint-every \(k) differs from the run's "
                            + "\(had.map(String.init) ?? "none (a checkpoint only on SIGINT or SIGTERM)") (config.json); a resumed run keeps the options it started with")
                    }
                }
                c = try ConfigCoding.decode(ResNetTrain.Config.self, from: r.options, shown: r.directory.path + "/config.json")
                c.out = r.directory.path; c.quiet = output.quiet
                recorded = r
            }
            // --no-checkpoint beside --resume: the continuation writes none (the run's cadence is not a contradiction).
            let control = runControl.noCheckpoint ? RunControl(checkpointEvery: nil, resume: recorded != nil, checkpoints: false)
                : runControl.control(recorded)
            let config = c
            // --depths: the same training at each depth, a sweep of member runs.
            if depths != nil && depth != nil { throw ValidationError("--depths lists the depths of a sweep; --depth sets one: give one or the other") }
            var sweepDepths: [Int]? = depths != nil ? try depthList() : nil
            if let r = recorded { sweepDepths = r.options["depths"]?.numbers.map { Int($0) } }
            let result = try reportingInterruption {
                if boosting { return try ResNetTrain.boost(config, control: control) }
                if let sweepDepths { return try ResNetDepthSweep.run(config, depths: sweepDepths, control: control, resume: recorded != nil) }
                return try ResNetTrain.run(config, control: control)
            }
            output.finish(result.summary, directory: result.directory, notes: result.notes) {
                printSummaryTable(result.summary, excluding: ["probe_outputs"])
            }
        }
    }
}
