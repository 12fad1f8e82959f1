import ArgumentParser
import Foundation
import WideNet

extension ParticleUnit: ExpressibleByArgument {}
extension MFLDLoss: ExpressibleByArgument {}
extension MFLDTaskKind: ExpressibleByArgument {}
extension MFLDAlgorithm: ExpressibleByArgument {}

struct MFLDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mfld",
        abstract: "Mean-field Langevin dynamics of a two-layer network's particles (noisy gradient descent).",
        discussion: """
            f(x) = (1/N) Σ_i h(θ_i, x), θ = (w, b, a); objective F(q) = (1/n) Σ_j ℓ(f(x_j), y_j) + λ' E‖θ‖² + λ E log q.
            Each step: θ ← θ − η (∇ δF/δq + 2λ'θ) + √(2λη) ξ, fused in one kernel with Philox noise.
            Logs the loss, the regulariser, a k-nearest-neighbour entropy estimate, the objective and test metrics.

            Examples:
              widenet mfld --task parity --d 20 --parity-k 3 --particles 4096 --n 2000 --steps 4000 --lr 0.5 \\
                --lambda-ent 1e-3 --lambda-l2 1e-3 --anneal-every 1000 --anneal-factor 0.5
              widenet mfld --task teacher --particles 100000 --save-particles
              widenet mfld --no-data --particles 100000 --lambda-ent 0.01 --lambda-l2 0.05   # the Gaussian law
            """)

    @Option(help: "Particles N.") var particles: Int = 4096
    @Option(help: "Training samples.") var n: Int = 1000
    @Option(name: .customLong("n-test"), help: "Test samples (default n/4).") var nTest: Int?
    @Option(help: "Input dimension.") var d: Int = 10
    @Option(help: "Steps.") var steps: Int = 1000
    @Option(help: "Step size η.") var lr: Double = 0.1
    @Option(name: .customLong("lambda-ent"), help: "Entropy weight λ (noise temperature).") var lambdaEnt: Double = 1e-3
    @Option(name: .customLong("lambda-l2"), help: "Weight decay λ'.") var lambdaL2: Double = 1e-3
    @Option(help: "tanh, relu, or bounded (R·tanh(a)·tanh(wᵀx + b)).") var unit: ParticleUnit = .tanh
    @Option(name: .customLong("unit-scale"), help: "R of the bounded unit.") var unitScale: Double = 1
    @Option(help: "squared or logistic (default: logistic for parity, squared otherwise).") var loss: MFLDLoss?
    @Option(help: "teacher, parity or file.") var task: MFLDTaskKind = .teacher
    @Option(name: .customLong("parity-k"), help: "Parity order k (y = x_1 ⋯ x_k on {±1}^d).") var parityK: Int = 3
    @Option(name: .customLong("teacher-width"), help: "Units of the teacher network.") var teacherWidth: Int = 4
    @Option(help: "Inputs, n×d .npy (task file; the last 20 % are held out).") var x: String?
    @Option(help: "Labels, n .npy (task file).") var y: String?
    @Option(name: .customLong("anneal-every"), help: "Multiply λ by the anneal factor every K steps (0: never).") var annealEvery: Int = 0
    @Option(name: .customLong("anneal-factor"), help: "Annealing factor γ.") var annealFactor: Double = 0.5
    @Option(help: "Minibatch size (default: the full batch).") var batch: Int?
    @Option(help: "langevin (noisy gradient descent) or pda (particle dual averaging: Langevin steps on the running average of the potentials).")
    var algorithm: MFLDAlgorithm = .langevin
    @Option(name: .customLong("inner-steps"), help: "PDA: Langevin steps per outer iteration.") var innerSteps: Int = 10
    @Option(name: .customLong("svrg-every"), help: "SVRG: take a full-data snapshot every K steps and variance-reduce the minibatch gradients (needs --batch).")
    var svrgEvery: Int = 0
    @Option(help: "Seed of data, particles and noise.") var seed: UInt64 = 0
    @Option(name: .customLong("data-seed"), help: "Seed of the data alone (default: --seed).") var dataSeed: UInt64?
    @Option(name: .customLong("init-scale"), help: "Standard deviation of the initial particles.") var initScale: Double = 1
    @Option(name: .customLong("init-particles"), help: "Initial particles, N×(d+2) .npy (w_1..w_d, b, a per row; sets --particles).")
    var initParticles: String?
    @Flag(name: .customLong("no-data"), help: "Switch the data term off (the particle law is then an explicit Gaussian).")
    var noData = false
    @Option(name: .customLong("log-every"), help: "Metrics every K steps (default: about 100 rows).") var logEvery: Int?
    @Option(name: .customLong("entropy-sample"), help: "Particles in the entropy estimate (0: off).") var entropySample: Int = 1000
    @Option(help: "Coordinates of the 2-D scatter in the report, as i,j (0-based; d is b, d+1 is a).") var scatter: String = "0,1"
    @Flag(name: .customLong("save-particles"), help: "Write particles.npy (N×(d+2): w_1..w_d, b, a).") var saveParticles = false
    @Option(help: "Propagation-of-chaos sweep: particle counts N1,N2,… (at least 3); one run per count and seed.")
    var chaos: String?
    @Option(name: .customLong("chaos-seeds"), help: "Seeds per particle count in the sweep.") var chaosSeeds: Int = 3
    @Option(name: .customLong("block-width"), help: .hidden) var blockWidth: Int?
    @OptionGroup var runControl: RunControlOptions
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if initParticles != nil, let flag = ["--init-scale", "--chaos"].first(where: RunControlOptions.onCommandLine) {
            throw ValidationError("\(flag) does not apply with --init-particles, which gives the particles")
        }
        if (x != nil || y != nil) && RunControlOptions.onCommandLine("--task") && task != .file {
            throw ValidationError("--task \(task.rawValue) draws its own data; --x/--y give a data file (--task file)")
        }
        if let blockWidth, blockWidth < 32 || blockWidth % 32 != 0 {
            throw BackendError("--block-width must be a positive multiple of 32")
        }
    }

    /// Options that do not apply beside others: refused (exit 64) rather than ignored. Run after the
    /// values' own checks (MFLDConfig.validate), so that a value out of range is named as such.
    func refuseOptionsThatDoNotApply(task: MFLDTaskKind, particles: Int) throws {
        let given = RunControlOptions.onCommandLine
        func refuse(_ message: String) throws { throw BackendError(message, .usage) }
        if task == .file {
            for flag in ["--n", "--d"] where given(flag) {
                try refuse("\(flag) does not apply with --task file: the files --x/--y give the rows and the dimension")
            }
            if given("--data-seed") { try refuse("--data-seed does not apply with --task file: the data come from --x/--y, not a seed") }
        }
        if given("--parity-k") && task != .parity { try refuse("--parity-k applies to --task parity, not --task \(task.rawValue)") }
        if given("--teacher-width") && task != .teacher { try refuse("--teacher-width applies to --task teacher, not --task \(task.rawValue)") }
        if given("--anneal-factor") && annealEvery == 0 {
            try refuse("--anneal-factor needs --anneal-every K (the steps between annealings); without it λ is never annealed")
        }
        if given("--inner-steps") && algorithm != .pda {
            try refuse("--inner-steps applies to --algorithm pda (Langevin steps per outer iteration), not --algorithm \(algorithm.rawValue)")
        }
        if given("--unit-scale") && unit != .bounded {
            try refuse("--unit-scale is R of --unit bounded; it does not apply to --unit \(unit.rawValue)")
        }
        if given("--chaos-seeds") && chaos == nil {
            try refuse(runControl.resume != nil ? "--chaos-seeds does not apply with --resume: a --chaos sweep continues with its recorded seeds"
                                                 : "--chaos-seeds applies to a --chaos sweep only")
        }
        if given("--particles") && chaos != nil { try refuse("--particles does not apply with --chaos, whose counts N1,N2,… are the particle counts") }
        if noData {
            for flag in ["--batch", "--loss"] where given(flag) {
                try refuse("\(flag) does not apply with --no-data: without the data term there is no loss to take minibatches of")
            }
        }
        // The entropy sample is drawn from the particles: more than there are is a contradiction.
        if given("--entropy-sample") && chaos == nil && entropySample > particles {
            try refuse("--entropy-sample \(entropySample) exceeds the \(particles) particles"
                + (initParticles != nil && !given("--particles") ? " of --init-particles" : " (--particles)")
                + "; take at most \(particles) (0: no entropy estimate)")
        }
    }

    func run() throws {
        try reportingErrors(splitsOverRanks: true) {
            var cfg = MFLDConfig()
            cfg.particles = particles; cfg.n = n; cfg.nTest = nTest; cfg.d = d; cfg.steps = steps; cfg.learningRate = lr
            cfg.lambdaEntropy = lambdaEnt; cfg.lambdaL2 = lambdaL2; cfg.unit = unit; cfg.unitScale = unitScale
            cfg.loss = loss; cfg.task = (x != nil || y != nil) ? .file : task; cfg.parityK = parityK
            cfg.teacherWidth = teacherWidth; cfg.xPath = x; cfg.yPath = y
            cfg.annealEvery = annealEvery; cfg.annealFactor = annealFactor; cfg.batch = batch; cfg.algorithm = algorithm; cfg.innerSteps = innerSteps; cfg.svrgEvery = svrgEvery; cfg.seed = seed; cfg.dataSeed = dataSeed
            cfg.initScale = initScale; cfg.initParticlesPath = initParticles; cfg.dataTerm = !noData; cfg.logEvery = logEvery; cfg.entropySample = entropySample
            let parts = scatter.split(separator: ",").compactMap { Int($0) }
            guard parts.count == 2 else { throw ValidationError("--scatter takes two coordinates, e.g. 0,1") }
            cfg.scatter = (parts[0], parts[1])
            cfg.backend = try deviceOptions.resolvedBackend(); cfg.device = deviceOptions.resolvedDevice
            cfg.precision = deviceOptions.precision; cfg.out = output.out; cfg.saveParticles = saveParticles
            cfg.quiet = output.quiet; cfg.blockParticles = blockWidth
            // Given particles set their count unless --particles says it too (then the two must agree).
            if let initParticles, !RunControlOptions.onCommandLine("--particles") {
                cfg.particles = try NPY.read(URL(fileURLWithPath: initParticles)).shape.first ?? cfg.particles
            }
            if runControl.resume == nil {
                try cfg.validate()
                try refuseOptionsThatDoNotApply(task: cfg.task, particles: cfg.particles)
            }
            let recorded = try runControl.recorded(checking: cfg, keys: MFLDConfig.recordedKeys, renamed: ["--no-data": "data_term"])
            if let recorded {
                guard output.out == nil || output.out == runControl.resume else {
                    throw ValidationError("--resume continues the run in its own directory; leave out --out")
                }
                guard chaos == nil else { throw ValidationError("--resume continues a run or a --chaos sweep as it was started; leave out --chaos") }
                let scatter = cfg.scatter
                cfg = try MFLDConfig(recorded: recorded)
                cfg.quiet = output.quiet; cfg.scatter = scatter
            }
            let result: RunOutcome
            // A chaos sweep continued with --resume takes its counts and seeds from its config.json.
            let recordedCounts = recorded?.options["chaos"]?.numbers.map { Int($0) }
            if let counts = try recordedCounts ?? chaos.map(parsedCounts) {
                guard Job.ranks == 1 else {
                    throw ValidationError("--chaos sweeps run in one process; start them without the launcher")
                }
                let seeds = recorded?.int("chaos_seeds") ?? chaosSeeds
                result = try reportingInterruption {
                    try MFLDChaos.run(cfg, counts: counts, seeds: seeds, control: runControl.control(recorded), resume: recorded != nil)
                }
            } else {
                result = try reportingInterruption { try MFLDExperiment.run(cfg, control: runControl.control(recorded)) }
            }
            guard Job.isLeader else { return }   // rank 0 alone wrote the run directory and reports
            output.finish(result.summary, directory: result.directory, notes: result.notes) {
                printSummaryTable(result.summary, excluding: ["gaussian_check"])
                if let g = result.summary["gaussian_check"], g != .null { print("gaussian_check              " + g.render()) }
            }
        }
    }

    func parsedCounts(_ text: String) throws -> [Int] {
        let parsed = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parsed.allSatisfy({ $0 != nil }) else { throw ValidationError("--chaos takes comma-separated integers, e.g. 1000,4000,16000 (got '\(text)')") }
        let counts = parsed.compactMap { $0 }
        guard counts.allSatisfy({ $0 > 0 }) else { throw BackendError("--chaos counts must be positive (got \(text))") }
        // Each count is a member directory: a repeat would run into the same ones and count twice in the fit.
        if let repeated = counts.first(where: { c in counts.filter { $0 == c }.count > 1 }) {
            throw BackendError("--chaos lists \(repeated) more than once; each count is one member of the sweep")
        }
        return counts
    }
}
