import Foundation

/// `widenet train`: gradient descent on the two-layer ReLU net in the NTK regime (ARCHITECTURE.md §1.1),
/// logging the loss against the linear-convergence bound and the kernel prediction, and the
/// quantities the theory says stay put as m grows.
public enum NTKTrainExperiment {
    /// Checks the inputs, picks the backend, then trains on the run harness; nothing is written
    /// before the inputs pass.
    public static func run(_ cfg: NTKTrainConfig, control: RunControl = RunControl()) throws -> RunOutcome {
        try control.validate()
        guard cfg.steps >= 0 else { throw BackendError("--steps must be ≥ 0 (got \(cfg.steps))") }
        if let lr = cfg.learningRate, !(lr > 0 && lr.isFinite) { throw BackendError("--lr must be a positive number (got \(lr))") }
        if let k = cfg.logEvery, k < 1 { throw BackendError("--log-every must be ≥ 1 (got \(k))") }
        guard cfg.gramEvery >= 0 else { throw BackendError("--gram-every must be ≥ 0 (got \(cfg.gramEvery))") }
        guard cfg.kappa > 0, cfg.kappa.isFinite else { throw BackendError("--kappa must be positive (got \(cfg.kappa))") }
        if let g = cfg.initExponent, !g.isFinite { throw BackendError("--init-exponent must be a finite number (got \(g))") }
        if let t = cfg.targetLoss, !(t >= 0 && t.isFinite) { throw BackendError("--target-loss must be a non-negative number (got \(t))") }
        if cfg.usesSGD { try SGDSetup.validate(cfg) } else { try SGDSetup.validateGD(cfg) }
        var cfg = cfg
        if cfg.stream == true, cfg.dataset == nil { cfg.dataset = .harmonic }
        let inputs = try TrainInputs.load(cfg)
        let choice = try BackendSelection.make(kind: cfg.backend, device: cfg.device, precision: cfg.precision)
        var notes = inputs.notes
        if let note = choice.note { notes.insert(note, at: 0) }
        if cfg.usesSGD {
            let setup = try SGDSetup(cfg, inputs, choice.backend, notes)
            return try RunHarness.run(command: "train", out: cfg.out, control: control, quiet: cfg.quiet) { _, _ in
                switch cfg.precision {
                case .f32: return try SGDTrainRun<Float>(setup, control)
                case .f64: return try SGDTrainRun<Double>(setup, control)
                }
            }
        }
        let setup = try TrainSetup(cfg, inputs, choice.backend, notes)
        return try RunHarness.run(command: "train", out: cfg.out, control: control, quiet: cfg.quiet) { _, _ in
            switch cfg.precision {
            case .f32: return try TrainRun<Float>(setup, control)
            case .f64: return try TrainRun<Double>(setup, control)
            }
        }
    }
}

/// What a training run fixes before its directory exists: the kernel at infinite width, its
/// spectrum, the step size the theory allows, and the memory check.
struct TrainSetup {
    let cfg: NTKTrainConfig
    let inputs: TrainInputs
    let backend: any Backend
    var notes: [String]
    let width: Int
    let kernel: InfiniteWidthKernel
    /// The fine-grained analysis, up to NTKTrainConfig.spectrumLimit samples unless --spectrum.
    let spectrum: KernelSpectrum?
    let lr: Double
    var lambda0: Double { kernel.lambda0 }
    var lambdaMax: Double { kernel.lambdaMax }

    init(_ cfg: NTKTrainConfig, _ inputs: TrainInputs, _ backend: any Backend, _ notes: [String]) throws {
        self.cfg = cfg; self.inputs = inputs; self.backend = backend; self.notes = notes
        width = inputs.width ?? NTKTrainConfig.defaultWidth(for: backend.info)
        try TrainSetup.preflight(cfg, width: width, inputs: inputs, on: backend.info)
        let scale = cfg.initialScale(width: width)
        if inputs.initW == nil, !(scale > 0 && scale.isFinite && (cfg.precision == .f64 || scale < Double(Float.greatestFiniteMagnitude))) {
            throw BackendError(String(format: "the initial hidden weights' standard deviation κ·m^(−γ/2) = %g (κ = %g, γ = %g, m = %d) is not a positive "
                + "finite %@ number; choose another --init-exponent or --kappa", scale, cfg.kappa, cfg.initExponent ?? 0, width, cfg.precision.rawValue))
        }
        // K_a's κ: the sampled weights' standard deviation, or that of the weights given (the RMS of their entries).
        let givenScale = inputs.initW.map { w in (w.reduce(0) { $0 + $1 * $1 } / Double(max(w.count, 1))).squareRoot() }
        kernel = try InfiniteWidthKernel(x: inputs.x, n: inputs.n, d: inputs.d,
                                         outputLayerScale: cfg.trainOutput ? givenScale ?? cfg.initialScale(width: width) : nil)
        try kernel.requirePositiveDefinite()
        spectrum = TrainSetup.analysesSpectrum(cfg, n: inputs.n) ? try KernelSpectrum(kernel) : nil
        let (lambda0, lambdaMax) = (kernel.lambda0, kernel.lambdaMax)
        lr = cfg.learningRate ?? 1 / lambdaMax
        let h = kernel.name
        if cfg.trainOutput { self.notes.append("the output layer is trained too: the kernel is H = H∞ + K_a (λ0, η and the prediction use it)") }
        if cfg.trainOutput, let givenScale {
            self.notes.append(String(format: "K_a takes κ = %.4g, the RMS of the entries of --init-w (the standard deviation its rows would have if drawn)", givenScale))
        }
        if cfg.learningRate == nil { self.notes.append(String(format: "η = 1/λ_max(%@) = %.4g (λ0 = %.4g, λ_max = %.4g)", h, lr, lambda0, lambdaMax)) }
        if cfg.meanField {
            self.notes.append(String(format: "mean-field scaling: f = (1/m) Σ a_r relu(w_rᵀx), the weights step η·m = %.4g so that the function "
                + "moves at O(η) and each neuron at O(η); the NTK bound and kernel prediction do not apply and are not drawn", lr * Double(width)))
        }
        if let g = cfg.initExponent, g != 0 {
            self.notes.append(String(format: "initial hidden weights N(0, κ² m^(−γ)), γ = %g: standard deviation %.4g", g, cfg.initialScale(width: width)))
        }
        if lr >= 2 / lambdaMax {
            self.notes.append(String(format: "η = %.4g ≥ 2/λ_max(%@) = %.4g: the kernel dynamics diverge at this step size", lr, h, 2 / lambdaMax))
        }
    }

    /// H∞, the input Gram, the empirical Gram and its counts, the eigen-solver's copy and a
    /// difference on the host; the net on the device.
    static func analysesSpectrum(_ cfg: NTKTrainConfig, n: Int) -> Bool { cfg.spectrum == true || n <= NTKTrainConfig.spectrumLimit }

    static func preflight(_ cfg: NTKTrainConfig, width: Int, inputs: TrainInputs, on info: BackendInfo) throws {
        // The eigenvectors and the solver's copy add two.
        try MemoryPreflight.requireSquare(analysesSpectrum(cfg, n: inputs.n) ? 8 : 6, n: inputs.n, for: "train")
        try netPreflight(cfg, width: width, samples: inputs.n, inputs: inputs, on: info) { _ in 0 }
    }

    /// The net's device memory at `samples` input rows, in the run's precision, for this rank's share of
    /// the blocks; `extra(bytesPerValue)` is what the run keeps beside the net per neuron.
    static func netPreflight(_ cfg: NTKTrainConfig, width: Int, samples n: Int, inputs: TrainInputs, on info: BackendInfo,
                             extra: (Int) -> Double) throws {
        func check<T: Scalar>(_: T.Type) throws {
            let given = inputs.initW != nil || inputs.initA != nil, d = inputs.d
            let p = WidthPartition.forProblem(width: width, bytesPerUnit: NTKTwoLayerNet<T>.blockBytesPerNeuron(n: n, d: d), requested: cfg.blockWidth)
            // In a job of ranks, the device holds this rank's blocks only.
            try NTKTwoLayerNet<T>.preflight(width: width, share: Job.share(of: p), n: n, d: d, storesInitialWeights: given, on: info,
                                            extraBytesPerNeuron: extra(MemoryLayout<T>.stride))
        }
        cfg.precision == .f32 ? try check(Float.self) : try check(Double.self)
    }
}

/// One training run in precision T: the state is the net, its outputs u and the kernel
/// prediction's residual (I − ηH∞)^k (u(0) − y).
final class TrainRun<T: Scalar>: SteppedRun {
    let setup: TrainSetup
    let control: RunControl
    let net: NTKTwoLayerNet<T>
    let logEvery: Int
    var u: [Double]
    var kernelResidual: [Double]
    let r0Sq: Double
    var history = History()
    var boundViolations = 0, firstViolation: Int? = nil
    /// The step at which the loss reached --target-loss.
    var reachedTarget: Int? = nil
    /// The teacher's span (--dataset teacher) and the weights' alignment with it at the start.
    let teacherBasis: [[Double]]?
    var initialAlignment: Double? = nil
    var maxDeviation = 0.0

    var command: String { "train" }
    var steps: Int { setup.cfg.steps }
    var backendInfo: BackendInfo? { setup.backend.info }
    var notes: [String] { setup.notes }
    var kernelBuildSeconds: Double? { setup.backend.info.kind == "opencl" ? setup.backend.buildSeconds : nil }

    init(_ setup: TrainSetup, _ control: RunControl) throws {
        self.setup = setup; self.control = control
        let cfg = setup.cfg, inputs = setup.inputs
        logEvery = cfg.logEvery ?? max(1, cfg.steps / 200)
        net = try NTKTwoLayerNet<T>(backend: setup.backend, x: inputs.x.map { T($0) }, n: inputs.n, d: inputs.d, width: setup.width,
                                    initialisation: NTKTwoLayerNet<T>.initialisation(cfg, inputs, width: setup.width), trainOutput: cfg.trainOutput,
                                    blockWidth: cfg.blockWidth, outputScale: cfg.meanField ? 1 / Double(setup.width) : nil,
                                    exchange: Job.exchange)
        teacherBasis = inputs.teacher.map { TeacherAlignment.basis($0, d: inputs.d) }
        u = try net.forward()
        try net.recordInitialMasks()
        if let teacherBasis { initialAlignment = try net.alignment(basis: teacherBasis) }
        kernelResidual = zip(u, inputs.y).map { $0 - $1 }
        r0Sq = kernelResidual.map { $0 * $0 }.reduce(0, +)
    }

    func config() -> JSONObject {
        let s = setup
        return s.cfg.json(resolved: [
            ("backend", .string(s.backend.info.kind)), ("device", .string(s.backend.info.deviceName)),
            ("driver", .string(s.backend.info.driver)), ("n", .int(s.inputs.n)), ("d", .int(s.inputs.d)), ("width", .int(s.width)),
            ("blocks", .int(net.partition.count)), ("block_width", .int(net.partition.blockWidth)),
            ("lr", .number(s.lr)), ("lambda0", .number(s.lambda0)), ("lambda_max", .number(s.lambdaMax)),
            ("log_every", .int(logEvery)), ("precision", .string(T.precision.rawValue)),
            ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null),
            ("notes", .array(s.notes.map { .string($0) })),
        ])
    }

    /// X (rows as used: unit norm) and y (after any label noise); spectrum.npy, n×3: the kernel's
    /// eigenvalues λ_i ascending, (v_iᵀ(y − u(0)))² and (v_iᵀy)²; with --save-init w(0) and a(0).
    func writeInputs(in run: RunDirectory) throws {
        let (n, d) = (setup.inputs.n, setup.inputs.d)
        if let spectrum = setup.spectrum {
            let residual = spectrum.projections(kernelResidual), labels = spectrum.projections(setup.inputs.y)
            try run.writeArray((0..<n).flatMap { [spectrum.values[$0], residual[$0], labels[$0]] }, shape: [n, 3], to: "spectrum.npy")
        }
        if n * d <= RunHarness.keptInputValues {
            try run.writeArray(setup.inputs.x, shape: [n, d], to: "x.npy")
            try run.writeArray(setup.inputs.y, shape: [n], to: "y.npy")
        }
        if let teacher = setup.inputs.teacher { try run.writeArray(teacher, shape: [teacher.count / d, d], to: "teacher_w.npy") }
        if setup.cfg.saveInit {
            let (w, a) = try net.weights()
            try run.writeArray(w, shape: [setup.width, d], to: "w0.npy")
            try run.writeArray(a, shape: [setup.width], to: "a0.npy")
        }
    }

    func restore(_ cp: Checkpoint, in run: URL, rows: [JSONObject]) throws {
        let (n, d, width) = (setup.inputs.n, setup.inputs.d, setup.width)
        // Each rank's checkpoint holds its own neurons (all of them in a process alone).
        let own = net.ownUnits.count
        let w = try cp.array("w", in: run), a = try cp.array("a", in: run), kernel = try cp.array("kernel_residual", in: run)
        guard w.shape == [own, d], a.shape == [own], kernel.shape == [n] else {
            throw WideNetIOError("the checkpoint in \(run.path) does not match the run's shapes "
                + "(width \(width)\(own == width ? "" : ", \(own) neurons on this rank"))")
        }
        try net.setOwnWeights(w: w.values.map { T($0) }, a: a.values.map { T($0) })
        u = try net.forward()
        kernelResidual = kernel.values
        boundViolations = cp.integers["bound_violations"] ?? 0
        firstViolation = cp.integers["first_bound_violation"]
        maxDeviation = cp.number("max_kernel_deviation") ?? 0
        history = History(rows: rows)
    }

    func checkpointArrays(_ cp: inout Checkpoint) throws -> [(name: String, npy: Data)] {
        cp.integers["bound_violations"] = boundViolations
        if let firstViolation { cp.integers["first_bound_violation"] = firstViolation }
        cp.set("max_kernel_deviation", maxDeviation)
        let (w, a) = try net.ownWeights(), own = net.ownUnits.count
        return [Checkpoint.array("w", w, shape: [own, setup.inputs.d]), Checkpoint.array("a", a, shape: [own]),
                Checkpoint.array("kernel_residual", kernelResidual, shape: [setup.inputs.n])]
    }

    /// The kernel prediction's step, then one GD step of the net.
    func advance(from k: Int) throws {
        kernelResidual = setup.kernel.predictionStep(kernelResidual, learningRate: setup.lr)
        // Mean field: the weights step η·m, so the function moves at the same O(η) as under the NTK scaling.
        try net.update(residual: zip(u, setup.inputs.y).map { $0 - $1 }, learningRate: setup.cfg.meanField ? setup.lr * Double(setup.width) : setup.lr)
        u = try net.forward()
    }

    func observe(_ k: Int) throws -> Observation {
        let (n, lr, lambda0) = (setup.inputs.n, setup.lr, setup.lambda0)
        let e = zip(u, setup.inputs.y).map { $0 - $1 }
        let eSq = e.map { $0 * $0 }.reduce(0, +)
        let loss = 0.5 * eSq
        guard loss.isFinite else { return Observation(loss: loss, row: nil) }
        let bound = Foundation.pow(1 - lr * lambda0 / 2, Double(k)) * r0Sq
        let lazy = !setup.cfg.meanField   // the bound and the kernel prediction are the NTK scaling's
        // Rounding of a converged loss may sit a hair above a bound that decays to 0.
        if lazy, eSq > bound * (1 + 1e-9) + 1e-12 * r0Sq {
            boundViolations += 1
            if firstViolation == nil { firstViolation = k }
        }
        let deviation = zip(e, kernelResidual).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() / max(r0Sq.squareRoot(), 1e-300)
        if lazy { maxDeviation = max(maxDeviation, deviation) }
        if reachedTarget == nil, let target = setup.cfg.targetLoss, loss <= target { reachedTarget = k }
        // A --gram-every step is logged too, whatever --log-every says: H(k) is only computed on logged rows.
        let gramStep = k == 0 || k == steps || (setup.cfg.gramEvery > 0 && k % setup.cfg.gramEvery == 0)
        guard k % logEvery == 0 || k == steps || reachedTarget == k || gramStep else { return Observation(loss: loss, row: nil) }
        let dg = try net.diagnostics()
        let kernelLoss = 0.5 * kernelResidual.map { $0 * $0 }.reduce(0, +)
        var row = JSONObject()
        row.set("step", k); row.set("loss", loss)
        if lazy { row.set("bound", 0.5 * bound); row.set("kernel_loss", kernelLoss); row.set("kernel_deviation", deviation) }
        row.set("max_move", dg.maxMove); row.set("flip_fraction", dg.flipFraction)
        if gramStep {
            let h = try net.empiricalGram(inputGram: setup.kernel.inputGram)
            let lmin = try SymmetricEigen.eigenvalues(h, n: n).first ?? .nan
            let diff = zip(h, setup.kernel.hidden).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            row.set("lambda_min_h", lmin); row.set("gram_deviation", diff)
            history.gramSteps.append(Double(k)); history.lambdaMin.append(lmin); history.gramDeviation.append(diff)
        }
        history.record(k, loss: loss, bound: lazy ? 0.5 * bound : .nan, kernel: lazy ? kernelLoss : .nan,
                       deviation: lazy ? deviation : .nan, move: dg.maxMove,
                       flips: dg.flipFraction)
        return Observation(loss: loss, row: row)
    }

    /// w, a and the kernel residual, in the run's precision (the residual in f64).
    var checkpointSize: (bytes: Double, grows: (name: String, value: Int)?) {
        let (m, d, n) = (Double(setup.width), Double(setup.inputs.d), Double(setup.inputs.n))
        return ((m * d + m) * Double(MemoryLayout<T>.stride) + 8 * n, ("width", setup.width))
    }

    func initialFailure() -> String {
        let g = setup.cfg.initExponent.map { String(format: ", γ = %g: standard deviation %.4g", $0, setup.cfg.initialScale(width: setup.width)) } ?? ""
        return setup.inputs.initW != nil ? "the initial weights of --init-w or the data overflow" : "the initial weights (κ = \(setup.cfg.kappa)\(g)) or the data overflow"
    }

    func divergenceHint() -> String {
        let limit = 2 / setup.lambdaMax, h = setup.kernel.name
        return setup.lr >= limit
            ? String(format: "η = %.4g is above the largest stable step 2/λ_max(%@) = %.4g", setup.lr, h, limit)
            : String(format: "the kernel theory allows η < 2/λ_max(%@) = %.4g; try a smaller --lr", h, limit)
    }

    func synchronize() throws { try setup.backend.synchronize() }

    func reachedEnd(at k: Int) -> Bool { reachedTarget != nil }

    func finish(in run: RunDirectory) throws -> JSONObject {
        let (n, d, width) = (setup.inputs.n, setup.inputs.d, setup.width)
        let lazy = !setup.cfg.meanField
        if setup.cfg.saveWeights {
            let (w, a) = try net.weights()
            try run.writeArray(w, shape: [width, d], to: "w.npy")
            try run.writeArray(a, shape: [width], to: "a.npy")
        }
        try run.writeArray(u, shape: [n], to: "u.npy")
        return try ConfigCoding.object(TrainSummary(
            precision: T.precision.rawValue, n: n, d: d, width: width, steps: steps, lr: setup.lr, lambda0: setup.lambda0,
            lambdaMax: setup.lambdaMax, initialLoss: 0.5 * r0Sq, finalLoss: history.loss.last,
            boundHolds: lazy ? boundViolations == 0 : nil, boundViolations: lazy ? boundViolations : nil, firstBoundViolation: firstViolation,
            maxKernelDeviation: lazy ? maxDeviation : nil,
            finalMaxMove: history.move.last, finalFlipFraction: history.flips.last, lambdaMinHInitial: history.lambdaMin.first,
            lambdaMinHFinal: history.lambdaMin.last, lambdaMinHLeast: history.lambdaMin.min(), precisionFloor: T.precision == .f32 ? history.roundingFloor() : nil,
            complexity: setup.spectrum?.complexity(setup.inputs.y), targetLoss: setup.cfg.targetLoss, targetReachedAt: reachedTarget,
            teacherAlignmentInitial: initialAlignment, teacherAlignment: try teacherBasis.map { try net.alignment(basis: $0) }))
    }
}

extension NTKTwoLayerNet {
    /// The initial weights of a train run: Philox's (w ~ N(0, κ²m^(−γ)), a = ±1), or the arrays given, a
    /// missing one drawn from the same Philox streams the device would use.
    static func initialisation(_ cfg: NTKTrainConfig, _ inputs: TrainInputs, width: Int) -> Initialisation {
        let kappa = cfg.initialScale(width: width)
        guard inputs.initW != nil || inputs.initA != nil else { return .random(seed: cfg.seed, kappa: kappa) }
        let g = PhiloxGenerator(seed: cfg.seed)
        let w: [T] = inputs.initW.map { $0.map { T($0) } }
            ?? g.array(count: width * inputs.d, stream: RandomStream.hiddenWeights.rawValue, step: 0, distribution: .normal, scale: T(kappa))
        let a: [T] = inputs.initA.map { $0.map { T($0) } }
            ?? g.array(count: width, stream: RandomStream.outputWeights.rawValue, step: 0, distribution: .rademacher, scale: T(1))
        return .arrays(w: w, a: a)
    }
}

/// The logged series of a train run, as its report draws them.
public struct History {
    public init() {}

    /// The series of an earlier run, from its metrics.jsonl rows.
    public init(rows: [JSONObject]) {
        func number(_ row: JSONObject, _ key: String) -> Double? { row[key]?.doubleValue }
        for row in rows {
            guard let k = number(row, "step"), let loss = number(row, "loss") else { continue }
            record(Int(k), loss: loss, bound: number(row, "bound") ?? .nan, kernel: number(row, "kernel_loss") ?? .nan,
                   deviation: number(row, "kernel_deviation") ?? .nan, move: number(row, "max_move") ?? .nan,
                   flips: number(row, "flip_fraction") ?? .nan)
            if let lmin = number(row, "lambda_min_h") {
                gramSteps.append(k); lambdaMin.append(lmin); gramDeviation.append(number(row, "gram_deviation") ?? .nan)
            }
        }
    }

    public var steps: [Double] = [], loss: [Double] = [], bound: [Double] = [], kernel: [Double] = []
    public var deviation: [Double] = [], move: [Double] = [], flips: [Double] = []
    public var gramSteps: [Double] = [], lambdaMin: [Double] = [], gramDeviation: [Double] = []

    /// The loss level where the run stopped following the kernel prediction (TrainSummary.precisionFloor).
    func roundingFloor() -> Double? {
        let q = loss.count * 3 / 4
        guard loss.count >= 8, let last = loss.last, let kernelLast = kernel.last, loss[q] > 0, kernel[q] > 0 else { return nil }
        let kernelFall = kernelLast / kernel[q], lossFall = last / loss[q]
        return kernelFall < 1e-2 && lossFall > 10 * kernelFall && last > 100 * kernelLast ? last : nil
    }

    mutating func record(_ k: Int, loss l: Double, bound b: Double, kernel kl: Double, deviation dv: Double,
                         move mv: Double, flips fl: Double) {
        steps.append(Double(k)); loss.append(l); bound.append(b); kernel.append(kl)
        deviation.append(dv); move.append(mv); flips.append(fl)
    }
}
