import ArgumentParser
import Foundation
import WideNet

extension Activation: ExpressibleByArgument {}
extension Optimizer: ExpressibleByArgument {}
extension SaddleInitialization: ExpressibleByArgument {}

enum TeacherInputs: String, ExpressibleByArgument { case whitened, gaussian }

struct SaddleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "saddle",
        abstract: "Plateaus and saddle-to-saddle dynamics of a small-initialisation two-layer net.",
        discussion: """
            f(X) = σ(X W1ᵀ) W2ᵀ, W1 m×d and W2 k×m drawn from N(0, σ0²), loss ½‖f − Y‖²_F / n, on data from a \
            teacher of chosen rank and singular values (or --x/--y). Logs the loss, the singular values and \
            rank of the learned map, the units' alignment, dead and near-duplicate units; summary.json lists \
            the plateaus, the drops and the steps at which each rank is reached. The rank counts singular values \
            above half the smallest of those the map approaches: the least-squares map (XᵀX)⁺XᵀY's for a linear net \
            (the teacher's own on whitened inputs), the centred targets' for relu and tanh. The sweep's escape theory \
            uses the data's rate at the origin, σ₁(YᵀX/n). For relu and tanh the teacher \
            is a net of the same kind, Σ s_r u_r σ(v_r·x). It computes in f64; --backend opencl runs the \
            matrix products on the device. With --init-scales and --skip-plateaus every scale runs with and \
            without skipping, side by side.

            Examples:
              widenet saddle --activation linear --init-scale 1e-6 --teacher-rank 5 --steps 3000
              widenet saddle --lr 0.005 --skip-plateaus
              widenet saddle --activation tanh --hidden 2 --d 2 --k 1 --teacher-rank 2 --init duplicate --optimizer adam
              widenet saddle --init-scales 1e-1,1e-2,1e-3,1e-4,1e-5,1e-6,1e-7,1e-8 --steps 4000 --lr 0.005 --skip-plateaus
              widenet saddle --x X.npy --y Y.npy --init-w1 W1.npy --init-w2 W2.npy --steps 500
            """)

    @Option(help: "Samples of the teacher data.") var n: Int = 1000
    @Option(help: "Input dimension.") var d: Int = 10
    @Option(help: "Output dimension.") var k: Int = 5
    @Option(help: "Hidden units m.") var hidden: Int = 20
    @Option(name: .customLong("init-scale"), help: "Standard deviation σ0 of the initial weights.") var initScale: Double = 1e-6
    @Option(name: .customLong("init-scales"), help: "Sweep over initial scales, e.g. 1e-1,1e-2,…,1e-8: steps to each rank against log(1/σ0).")
    var initScales: String?
    @Option(name: .customLong("teacher-rank"), help: "Rank r of the teacher map (linear: at most min(d, k)); for relu and tanh the teacher's units, at most d.") var teacherRank: Int = 5
    @Option(name: .customLong("singular-values"), help: "The teacher's singular values, largest first (an increasing list is refused).")
    var singularValues: String = "10,8,6,4,2"
    @Option(name: .customLong("label-noise"), help: "Standard deviation of Gaussian noise on the teacher's outputs (the last minimum then has a positive loss).")
    var labelNoise: Double?
    @Option(help: "linear, relu or tanh.") var activation: Activation = .linear
    @Option(help: "gd, momentum or adam.") var optimizer: Optimizer = .gd
    @Option(help: "Steps.") var steps: Int = 3000
    @Option(help: "Step size.") var lr: Double = 0.02
    @Option(help: "Seed of data and weights.") var seed: UInt64 = 0
    @Option(help: "Inputs, n×d .npy.") var x: String?
    @Option(help: "Targets, n×k .npy.") var y: String?
    @Option(name: .customLong("init-w1"), help: "Initial W1, m×d .npy.") var initW1: String?
    @Option(name: .customLong("init-w2"), help: "Initial W2, k×m .npy.") var initW2: String?
    @Option(name: .customLong("log-every"), help: "Metrics every K steps.") var logEvery: Int = 10
    @Option(name: .customLong("plateau-threshold"), help: "A plateau: relative loss change per step below this (with --skip-plateaus: the change the next step would make, η‖∇L‖²/L, tested at every step)…") var plateauThreshold: Double = 1e-3
    @Option(name: .customLong("plateau-min-steps"), help: "…for at least this many steps (the plateaus listed in summary.json).") var plateauMinSteps: Int = 30
    @Flag(name: .customLong("skip-plateaus"), help: "On a plateau, jump τ steps of GD linearised there (all units together, through the Hessian's Krylov space), τ where the loss along that path is lowest (Arata). GD only.")
    var skipPlateaus = false
    @Option(name: .customLong("init"), help: "gaussian (N(0, σ0²)), duplicate (one shared hidden row plus σ0 noise) or zero-output (unit hidden rows, output weights of scale σ0): Amari's singular regions.")
    var initialization: SaddleInitialization = .gaussian
    @Option(help: "Teacher inputs: whitened (XᵀX/n = I, where the linear theory's modes decouple) or gaussian (anisotropic by sampling).")
    var inputs: TeacherInputs = .whitened
    @Option(name: .customLong("target-loss"), help: "The loss at which the run counts as done, for steps and seconds to it (default: 1e-4 of the initial loss).")
    var targetLoss: Double?
    @OptionGroup var runControl: RunControlOptions
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        let given = RunControlOptions.onCommandLine
        if x != nil || y != nil, let f = ["--teacher-rank", "--singular-values"].first(where: given) {
            throw ValidationError("\(f) describes the synthetic teacher; it does not apply with --x/--y")
        }
        if x != nil || y != nil, given("--label-noise") {
            throw ValidationError("--label-noise perturbs the synthetic teacher; it does not apply with --x/--y")
        }
        if x != nil || y != nil, given("--inputs") {
            throw ValidationError("--inputs shapes the synthetic teacher's inputs; it does not apply with --x/--y")
        }
        if initScales != nil, given("--init-scale") {
            throw ValidationError("--init-scale is one scale and --init-scales sweeps several; give one of them")
        }
        if initScales != nil, let f = ["--init-w1", "--init-w2"].first(where: { given($0) }) {
            throw ValidationError("--init-scales sets the scale of the drawn initial weights; it does not apply with \(f)")
        }
        // With both layers from files nothing is drawn: the scale and the kind of initialisation are unused.
        if given("--init-w1") && given("--init-w2"), let f = ["--init-scale", "--init"].first(where: given) {
            throw ValidationError("\(f) shapes the drawn initial weights; it does not apply with --init-w1 and --init-w2 (both layers from files)")
        }
        if skipPlateaus && optimizer != .gd {
            throw ValidationError("--skip-plateaus extrapolates plain gradient descent; it cannot be combined with --optimizer \(optimizer.rawValue)")
        }
        let count = singularValues.split(separator: ",").count
        if given("--teacher-rank") && given("--singular-values") && count != teacherRank {
            throw ValidationError("--singular-values lists \(count) values but --teacher-rank is \(teacherRank)")
        }
    }

    func run() throws {
        try reportingErrors {
            var c = SaddleExperiment.Config()
            c.n = n; c.d = d; c.k = k; c.hidden = hidden; c.initScale = initScale; c.teacherRank = teacherRank
            // Given alone, the singular values set the teacher's rank.
            if RunControlOptions.onCommandLine("--singular-values") && !RunControlOptions.onCommandLine("--teacher-rank") {
                c.teacherRank = singularValues.split(separator: ",").count
            }
            c.given = Set(["--n", "--d", "--k", "--hidden"].filter(RunControlOptions.onCommandLine))
            let values = singularValues.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            // Not a number: a malformed option (64); a number out of range: bad input (65), as for every single value.
            guard values.allSatisfy({ $0 != nil }) else { throw ValidationError("--singular-values takes comma-separated numbers, e.g. 10,8,6") }
            guard values.allSatisfy({ ($0 ?? 0) > 0 }) else { throw BackendError("--singular-values must be positive (got \(singularValues))") }
            c.singularValues = values.compactMap { $0 }
            c.labelNoise = labelNoise
            c.activation = activation; c.optimizer = optimizer; c.steps = steps; c.learningRate = lr; c.seed = seed
            c.xPath = x; c.yPath = y; c.initW1Path = initW1; c.initW2Path = initW2; c.logEvery = logEvery
            c.plateauThreshold = plateauThreshold; c.plateauMinSteps = plateauMinSteps; c.skipPlateaus = skipPlateaus
            c.initialization = initialization; c.targetLoss = targetLoss; c.whitenInputs = inputs == .whitened
            c.backend = try deviceOptions.resolvedBackend(); c.device = deviceOptions.resolvedDevice
            if RunControlOptions.onCommandLine("--precision") && deviceOptions.precision != .f64 {
                printNote("saddle computes in f64 (products of weights from σ0 = 1e-8 reach 1e-16); --precision \(deviceOptions.precision.rawValue) is not used")
            }
            c.out = output.out; c.quiet = output.quiet
            var scales = try initScales.map(parsedScales)
            let recorded = try resumed(c, scales: scales)
            if let recorded {
                c = try ConfigCoding.decode(SaddleExperiment.Config.self, from: recorded.options, shown: recorded.directory.path + "/config.json")
                c.out = recorded.directory.path; c.quiet = output.quiet
                scales = recorded.options["init_scales"]?.numbers
            }
            let control = runControl.control(recorded)
            let result = try reportingInterruption {
                if let scales { return try SaddleSweep.run(c, scales: scales, control: control, resume: recorded != nil) }
                return try SaddleExperiment.run(c, control: control)
            }
            output.finish(result.summary, directory: result.directory, notes: result.notes) {
                printSummaryTable(result.summary, excluding: ["plateaus", "jumps", "drops", "skipping"])
            }
        }
    }

    func parsedScales(_ text: String) throws -> [Double] {
        let scales = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard scales.allSatisfy({ $0 != nil }) else { throw ValidationError("--init-scales takes comma-separated numbers, e.g. 1e-2,1e-4") }
        guard scales.allSatisfy({ ($0 ?? 0) > 0 }) else { throw BackendError("--init-scales must be positive (got \(text))") }
        return scales.compactMap { $0 }
    }

    /// With --resume: the run's config.json, after checking that the options given beside it repeat its own.
    func resumed(_ c: SaddleExperiment.Config, scales: [Double]?) throws -> RecordedConfig? {
        guard let dir = runControl.resume else { return nil }
        guard output.out == nil || output.out == dir else {
            throw ValidationError("--resume continues the run in its own directory; leave out --out")
        }
        let recorded = try RecordedConfig(directory: URL(fileURLWithPath: dir))
        guard recorded.command() == "saddle" else {
            throw ValidationError("--resume \(dir): a \(recorded.command() ?? "unknown") run, not a saddle run")
        }
        var extra = JSONObject()
        if let scales { extra.set("init_scales", scales) }
        try recorded.refuseChanges(from: c, keys: SaddleExperiment.Config.recordedKeys.filter { $0 != "out" } + ["init_scales"],
                                   renamed: ["--init": "initialization", "--inputs": "whiten_inputs"], extra: extra)
        return recorded
    }
}
