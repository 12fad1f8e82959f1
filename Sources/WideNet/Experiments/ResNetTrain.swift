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
        /// Notes of the command line's own (a default it resolved), listed with the run's.
        public var notes: [String] = []
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
        let choice = try BackendSelection.make(kind: cfg.backend, device: cfg.device, precision: cfg.precision)
        // A synthetic task's sizes are known before its points are drawn; a file's once it is read.
        if let sizes = syntheticSizes(cfg) { try preflight(cfg, sizes: sizes, backend: choice.backend.info) }
        var data = try inputs(cfg)
        if cfg.task == .file { try preflight(cfg, sizes: (data.d, data.n, data.testN), backend: choice.backend.info) }
        data.notes = cfg.notes + data.notes
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
        if let sizes = syntheticSizes(cfg) { try boostPreflight(cfg, sizes: sizes) }
        var data = try inputs(cfg)
        if cfg.task == .file { try boostPreflight(cfg, sizes: (data.d, data.n, data.testN)) }
        data.notes = cfg.notes + data.notes
        let made = data
        return try RunHarness.run(command: "resnet", out: cfg.out, control: control, quiet: cfg.quiet) { _, _ in
            ResNetBoostRun(cfg, data: made, control: control)
        }
    }

    /// The input dimension, training and test points of a synthetic task (nil for files: known once read).
    static func syntheticSizes(_ cfg: Config) -> (inputs: Int, n: Int, testN: Int)? {
        cfg.task == .file ? nil : (cfg.task == .teacher ? cfg.inputDim : 2, cfg.n, cfg.testSize)
    }

    /// Values (8 bytes) of drawing or reading the points: the kept rows and the draws' temporaries.
    static func dataValues(inputs d0: Double, n: Double, testN: Double) -> Double {
        2 * (n + testN) * (d0 + 2) + 8 * d0 + 8
    }

    /// Bytes of a train run at depth L, width m, n training and t test points: on the device the
    /// parameters with their gradient and moments, the training, test and flow batches; on the host the
    /// points, the parameters' copies and the flow's states (plus the device's share on the CPU backend).
    static func footprint(_ cfg: Config, inputs d0: Int, depth: Double, width: Double, n: Double, testN: Double, onHost: Bool)
        -> (host: Double, device: Double) {
        let (D, L, m, p0) = (Double(cfg.dim), depth, width, Double(d0))
        let stride: Double = cfg.precision == .f32 ? 4 : 8, q = min(256, testN)
        let params = D * p0 + L * (2 * m * D + m) + D + 1 + (cfg.scheme == .lm ? L : 0)
        func batch(_ p: Double) -> Double {
            let twoStage = cfg.scheme == .heun || cfg.scheme == .revnet, implicit = cfg.scheme == .backwardEuler
            return p * p0 + (L + 1) * p * D + 2 * L * p * m + p * D + p * m + 3 * p + (twoStage ? L * p * (D + 2 * m) : 0)
                + (cfg.scheme == .lm || twoStage || implicit ? 2 * p * D : 0) + (implicit || cfg.scheme == .revnet ? 2 * p * D : 0)
        }
        let device = stride * (batch(n) + batch(testN) + batch(q) + 4 * params + 3 * n * D + (cfg.scheme == .revnet ? 2 * D * D : 0))
        let host = 8 * dataValues(inputs: p0, n: n, testN: testN) + stride * (n + testN) * p0 + 8 * 5 * params + 8 * 3 * (L + 1) * q * D
        return (host + (onHost ? device : 0), device)
    }

    /// Refuses, before anything is drawn or written, a run whose memory does not fit: on the host (and
    /// on an OpenCL device, 90 % of its global memory), naming the bytes and the largest size that fits.
    static func preflight(_ cfg: Config, sizes: (inputs: Int, n: Int, testN: Int), backend: BackendInfo) throws {
        let onDevice = backend.kind == "opencl"
        let (d0, L, m, n, t) = (sizes.inputs, Double(cfg.depth), Double(cfg.width), Double(sizes.n), Double(sizes.testN))
        let what = "resnet at depth \(cfg.depth), width \(cfg.width) on \(sizes.n) + \(sizes.testN) points"
        func advice(_ bytes: @escaping (_ L: Double, _ m: Double, _ n: Double, _ t: Double) -> Double) -> (Double) -> String {
            { have in
                largestFitting(have, knobs: [
                    ("--depth", cfg.depth, { bytes($0, m, n, t) }),
                    (cfg.task == .file ? "number of training rows (of --x)" : "--n", sizes.n, { bytes(L, m, $0, t) }),
                    ("--test-size", sizes.testN, { bytes(L, m, n, $0) }),
                    ("--width", cfg.width, { bytes(L, $0, n, t) }),
                ], otherwise: "not even one block of width 1 on one point fits")
            }
        }
        if onDevice {
            let capacity = Double(backend.globalMemBytes) * 0.9
            let need = footprint(cfg, inputs: d0, depth: L, width: m, n: n, testN: t, onHost: false).device
            if need > capacity {
                let hint = advice { footprint(cfg, inputs: d0, depth: $0, width: $1, n: $2, testN: $3, onHost: false).device }(capacity)
                throw BackendError.resources("\(what) needs \(MemoryPreflight.gb(need)) on \(backend.deviceName), which has "
                    + "\(MemoryPreflight.gb(Double(backend.globalMemBytes))) (90 % usable); \(hint)")
            }
        }
        try MemoryPreflight.require(footprint(cfg, inputs: d0, depth: L, width: m, n: n, testN: t, onHost: !onDevice).host, for: what,
                                    largest: advice { footprint(cfg, inputs: d0, depth: $0, width: $1, n: $2, testN: $3, onHost: !onDevice).host })
    }

    /// Bytes of a boost run (host, f64): per block the m×m normal equations and their factor, the P×m
    /// hidden values (P the larger of the training and test points), both block lists and their
    /// checkpoint copies, and the points.
    static func boostBytes(_ cfg: Config, inputs d0: Int, width m: Double, n: Double, testN: Double, blocks K: Double) -> Double {
        let D = Double(cfg.dim), p = max(n, testN)
        let values = 2 * m * m + 2 * p * m + 3 * m * D + 4 * K * (2 * m * D + m) + 2 * (D + 1) * (D + 1)
            + dataValues(inputs: Double(d0), n: n, testN: testN) + 4 * (n + testN) * D + 4 * K
        return 8 * values
    }

    static func boostPreflight(_ cfg: Config, sizes: (inputs: Int, n: Int, testN: Int)) throws {
        let (d0, m, n, t, K) = (sizes.inputs, Double(cfg.width), Double(sizes.n), Double(sizes.testN), Double(cfg.steps))
        try MemoryPreflight.require(boostBytes(cfg, inputs: d0, width: m, n: n, testN: t, blocks: K),
                                    for: "resnet --experiment boost at width \(cfg.width) with \(cfg.steps) blocks on \(sizes.n) + \(sizes.testN) points") { have in
            largestFitting(have, knobs: [
                ("--width", cfg.width, { boostBytes(cfg, inputs: d0, width: $0, n: n, testN: t, blocks: K) }),
                (cfg.task == .file ? "number of training rows (of --x)" : "--n", sizes.n, { boostBytes(cfg, inputs: d0, width: m, n: $0, testN: t, blocks: K) }),
                ("--test-size", sizes.testN, { boostBytes(cfg, inputs: d0, width: m, n: n, testN: $0, blocks: K) }),
                ("--steps", cfg.steps, { boostBytes(cfg, inputs: d0, width: m, n: n, testN: t, blocks: $0) }),
            ], otherwise: "not even one block of width 1 on one point fits", preferFirst: false)
        }
    }

    /// The advice after a memory refusal: the largest value of one size that fits with the others as
    /// given. The first knob is named whenever at least 1 of it fits (the depth of a train run);
    /// otherwise the one that keeps the largest fraction of what was asked.
    static func largestFitting(_ have: Double, knobs: [(flag: String, value: Int, bytes: (Double) -> Double)], otherwise: String,
                               preferFirst: Bool = true) -> String {
        var best: (flag: String, fits: Int, fraction: Double)? = nil
        for (i, knob) in knobs.enumerated() where knob.value >= 1 {
            // The largest v in [1, value] with bytes(v) ≤ have (bytes grows with v).
            guard knob.bytes(1) <= have else { continue }
            var lo = 1.0, hi = Double(knob.value)
            if knob.bytes(hi) <= have { lo = hi }
            while hi - lo > 1 {
                let mid = ((lo + hi) / 2).rounded(.down)
                if knob.bytes(mid) <= have { lo = mid } else { hi = mid }
            }
            let fits = Int(lo)
            if i == 0 && preferFirst { return "the largest \(knob.flag) that fits is about \(fits)" }
            let fraction = lo / Double(knob.value)
            if best == nil || fraction > best!.fraction { best = (knob.flag, fits, fraction) }
        }
        guard let best else { return otherwise }
        return "the largest \(best.flag) that fits is about \(best.fits) (the other sizes as given)"
    }
}
