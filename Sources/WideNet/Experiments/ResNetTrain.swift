import Foundation

/// `widenet resnet --experiment train`: a ResidualNet of depth L (h = T/L) trained by GD, momentum or
/// Adam with backpropagation on the chosen backend, on a planar two-class task, a teacher or files,
/// through the run harness (checkpoints, resume, report).
public enum ResNetTrain {
    public struct Config: Sendable, Codable {
        public var task: ResidualTask = .spirals
        public var xPath: String? = nil, yPath: String? = nil
        public var n = 512, testSize = 512
        /// teacher: the input dimension d₀.
        public var inputDim = 4
        /// The task's label or position noise (default 0.05 planar, 0.1 teacher).
        public var taskNoise: Double? = nil
        public var depth = 16, width = 32, dim = 3
        public var horizon = 1.0
        public var activation: Activation = .tanh
        /// euler, lm (the LM-ResNet two-step with trained k_l, started at lmK) or heun.
        public var scheme: ResidualScheme = .euler
        public var lmK = 0.5
        /// euler-maruyama: σ of the additive noise in training passes.
        public var noise = 0.5
        /// backward-euler: the fixed-point iterations' relative tolerance and limit (default 1e-6 f32, 1e-12 f64; 200).
        public var tolerance: Double? = nil, maxIterations: Int? = nil
        public var optimizer: Optimizer = .adam
        public var learningRate = 0.01
        public var steps = 500
        public var logEvery = 10
        /// boost: GD steps per block of the layer-by-layer baseline, and the least-squares fits' ridge.
        public var boostSteps = 200
        public var ridge = 1e-6
        public var backend: BackendKind = .auto
        public var device: String? = nil
        public var precision: Precision = .f32
        var seedBits: Int64 = 0
        public var seed: UInt64 { get { UInt64(bitPattern: seedBits) } set { seedBits = Int64(bitPattern: newValue) } }
        public var out: String? = nil
        public var quiet = false
        public init() {}

        /// config.json's field names, for the check that a command line beside --resume repeats the run's options.
        public static var recordedKeys: [String] { CodingKeys.allCases.map(\.rawValue).filter { !["out", "quiet"].contains($0) } }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case task, xPath = "x", yPath = "y", n, testSize = "test_size", inputDim = "input_dim", taskNoise = "task_noise"
            case depth, width, dim, horizon, activation, optimizer, learningRate = "lr", steps, logEvery = "log_every"
            case boostSteps = "boost_steps", ridge, scheme, lmK = "lm_k", noise, tolerance, maxIterations = "max_iterations"
            case backend, device, precision, seedBits = "seed", out, quiet
        }

        public func validate() throws {
            for (name, value) in [("--depth", depth), ("--width", width), ("--dim", dim), ("--n", n), ("--input-dim", inputDim),
                                  ("--log-every", logEvery)] where value < 1 {
                throw BackendError("\(name) must be at least 1 (got \(value))")
            }
            guard steps >= 0 else { throw BackendError("--steps must be at least 0 (got \(steps))") }
            guard testSize >= 0 else { throw BackendError("--test-size must be at least 0 (got \(testSize))") }
            guard horizon > 0 && horizon.isFinite else { throw BackendError("--horizon must be a positive number (got \(horizon))") }
            if scheme == .revnet && dim % 2 != 0 {
                throw BackendError("revnet splits the state into two halves: --dim must be even (got \(dim))")
            }
            if let t = tolerance, !(t > 0 && t < 1) { throw BackendError("--tolerance must be in (0, 1) (got \(t))") }
            if let m = maxIterations, m < 1 { throw BackendError("--max-iterations must be at least 1 (got \(m))") }
            guard noise >= 0 && noise.isFinite else { throw BackendError("--noise must be a non-negative number (got \(noise))") }
            guard lmK >= -0.99 && lmK <= 1 else { throw BackendError("--lm-k must lie in [−0.99, 1] (got \(lmK))") }
            guard boostSteps >= 0 else { throw BackendError("--boost-steps must be at least 0 (got \(boostSteps))") }
            guard ridge > 0 && ridge.isFinite else { throw BackendError("--ridge must be a positive number (got \(ridge))") }
            guard learningRate > 0 && learningRate.isFinite else { throw BackendError("--lr must be a positive number (got \(learningRate))") }
            if let taskNoise, !(taskNoise >= 0 && taskNoise.isFinite) { throw BackendError("--task-noise must be a non-negative number (got \(taskNoise))") }
            if task == .file && (xPath == nil || yPath == nil) { throw BackendError("--task file needs both --x and --y") }
            if task != .file && (xPath != nil || yPath != nil) { throw BackendError("--x and --y give the data of --task file; --task \(task.rawValue) draws its own") }
        }
    }

    public static func run(_ cfg: Config, control: RunControl = RunControl()) throws -> RunOutcome {
        try cfg.validate()
        var data = try inputs(cfg)
        let choice = try BackendSelection.make(kind: cfg.backend, device: cfg.device, precision: cfg.precision)
        if let note = choice.note { data.notes.append(note) }
        if cfg.dim < data.d {
            data.notes.append("--dim \(cfg.dim) is below the input dimension \(data.d): E starts as a random projection")
        }
        let made = data
        return try RunHarness.run(command: "resnet", out: cfg.out, control: control, quiet: cfg.quiet) { _, _ -> any SteppedRun in
            if cfg.precision == .f32 { return try ResNetTrainRun<Float>(cfg, data: made, backend: choice.backend, control: control) }
            return try ResNetTrainRun<Double>(cfg, data: made, backend: choice.backend, control: control)
        }
    }

    /// The task's training and test points.
    static func inputs(_ cfg: Config) throws -> ResidualData {
        cfg.task == .file
            ? try ResidualData.files(x: cfg.xPath ?? "", y: cfg.yPath ?? "", testSize: cfg.testSize, seed: cfg.seed)
            : try ResidualData.synthetic(cfg.task, n: cfg.n, testSize: cfg.testSize, inputDim: cfg.inputDim,
                                         noise: cfg.taskNoise ?? (cfg.task == .teacher ? 0.1 : 0.05), seed: cfg.seed)
    }

    /// `--experiment boost`: --steps blocks added one at a time, boosted and layer by layer (ResNetBoostRun).
    public static func boost(_ cfg: Config, control: RunControl = RunControl()) throws -> RunOutcome {
        try cfg.validate()
        let data = try inputs(cfg)
        return try RunHarness.run(command: "resnet", out: cfg.out, control: control, quiet: cfg.quiet) { _, _ in ResNetBoostRun(cfg, data: data) }
    }
}
