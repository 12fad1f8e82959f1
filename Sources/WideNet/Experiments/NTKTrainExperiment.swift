import Foundation
import Logging

/// `widenet train`: gradient descent on the two-layer ReLU net in the NTK regime (ARCHITECTURE.md §1.1),
/// logging the loss against the linear-convergence bound and the kernel prediction, and the
/// quantities the theory says stay put as m grows.
public enum NTKTrainExperiment {
    public struct Result {
        public let directory: URL
        public let summary: JSONObject
        public let notes: [String]
    }

    /// Checks the inputs, picks the backend, then trains; nothing is written before the inputs pass.
    public static func run(_ cfg: NTKTrainConfig, control: RunControl = RunControl(),
                           logger: Logger = Log.logger("train")) throws -> Result {
        try control.validate()
        guard cfg.steps >= 0 else { throw BackendError("--steps must be ≥ 0 (got \(cfg.steps))") }
        if let lr = cfg.learningRate, !(lr > 0 && lr.isFinite) { throw BackendError("--lr must be a positive number (got \(lr))") }
        if let k = cfg.logEvery, k < 1 { throw BackendError("--log-every must be ≥ 1 (got \(k))") }
        guard cfg.gramEvery >= 0 else { throw BackendError("--gram-every must be ≥ 0 (got \(cfg.gramEvery))") }
        guard cfg.kappa > 0, cfg.kappa.isFinite else { throw BackendError("--kappa must be positive (got \(cfg.kappa))") }
        let inputs = try TrainInputs.load(cfg)
        let choice = try BackendSelection.make(kind: cfg.backend, device: cfg.device, precision: cfg.precision)
        var notes = inputs.notes
        if let note = choice.note { notes.insert(note, at: 0) }
        return try Interruption.catching {
            switch cfg.precision {
            case .f32: return try Trainer<Float>(cfg, inputs, choice.backend, notes, logger, control).run()
            case .f64: return try Trainer<Double>(cfg, inputs, choice.backend, notes, logger, control).run()
            }
        }
    }
}

/// One training run in precision T.
struct Trainer<T: Scalar> {
    let cfg: NTKTrainConfig
    let inputs: TrainInputs
    let backend: any Backend
    let notes: [String]
    let logger: Logger
    let control: RunControl

    init(_ cfg: NTKTrainConfig, _ inputs: TrainInputs, _ backend: any Backend, _ notes: [String], _ logger: Logger,
         _ control: RunControl) {
        self.cfg = cfg; self.inputs = inputs; self.backend = backend; self.notes = notes; self.logger = logger
        self.control = control
    }

    func preflight(width: Int) throws {
        // H∞, the input Gram, the empirical Gram and its counts, the eigen-solver's copy and a difference.
        try MemoryPreflight.requireSquare(6, n: inputs.n, for: "train")
        try NTKTwoLayerNet<T>.preflight(width: width, n: inputs.n, d: inputs.d,
                                        storesInitialWeights: inputs.initW != nil || inputs.initA != nil, on: backend.info)
    }

    func run() throws -> NTKTrainExperiment.Result {
        let (n, d) = (inputs.n, inputs.d)
        var notes = self.notes
        let width = inputs.width ?? NTKTrainConfig.defaultWidth(for: backend.info)
        try preflight(width: width)

        // The kernel at infinite width, its spectrum, and the step size the theory allows.
        let xx = SyntheticData.inputGram(inputs.x, n: n, d: d)
        let hInf = xx.map(ArcCosine.kernel)
        let eig = try SymmetricEigen.eigenvalues(hInf, n: n)
        let lambda0 = eig.first ?? 0, lambdaMax = eig.last ?? 0
        guard lambda0 > 1e-10 * max(lambdaMax, 1) else {
            throw BackendError(String(format: "λ0 = λ_min(H∞) = %.3g: some inputs are parallel or repeated, so the NTK theory does not apply", lambda0))
        }
        let lr = cfg.learningRate ?? 1 / lambdaMax
        if cfg.learningRate == nil { notes.append(String(format: "η = 1/λ_max(H∞) = %.4g (λ0 = %.4g, λ_max = %.4g)", lr, lambda0, lambdaMax)) }
        if lr >= 2 / lambdaMax {
            notes.append(String(format: "η = %.4g ≥ 2/λ_max(H∞) = %.4g: the kernel dynamics diverge at this step size", lr, 2 / lambdaMax))
        }

        let steps = cfg.steps
        let logEvery = cfg.logEvery ?? max(1, steps / 200)
        let resumeFrom = try control.checkpointToResume(in: cfg.out)
        let run = try resumeFrom.map { try RunDirectory(resuming: URL(fileURLWithPath: cfg.out ?? "."), metricsBytes: $0.metricsBytes) }
            ?? RunDirectory(path: cfg.out, command: "train")
        let initialisation = try makeInitialisation(width: width)
        let started = Date()
        let net = try NTKTwoLayerNet<T>(backend: backend, x: inputs.x.map { T($0) }, n: n, d: d, width: width,
                                        initialisation: initialisation, trainOutput: cfg.trainOutput,
                                        blockWidth: cfg.blockWidth)
        var resolved: [(String, JSONValue)] = [
            ("backend", .string(backend.info.kind)), ("device", .string(backend.info.deviceName)),
            ("driver", .string(backend.info.driver)), ("n", .int(n)), ("d", .int(d)), ("width", .int(width)),
            ("blocks", .int(net.blocks.count)), ("block_width", .int(net.blocks.first?.shape.width ?? 0)),
            ("lr", .number(lr)), ("lambda0", .number(lambda0)), ("lambda_max", .number(lambdaMax)),
            ("log_every", .int(logEvery)), ("precision", .string(T.precision.rawValue)),
            ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null),
        ]
        resolved.append(("notes", .array(notes.map { .string($0) })))
        if resumeFrom == nil { try run.writeJSON(cfg.json(resolved: resolved), to: "config.json") }

        let y = inputs.y
        var u = try net.forward()
        try net.recordInitialMasks()
        let r0 = zip(u, y).map { $0 - $1 }
        let r0Sq = r0.map { $0 * $0 }.reduce(0, +)
        var rPred = r0                     // kernel prediction (I − ηH∞)^k (u(0) − y)
        var history = History()
        var boundViolations = 0, firstViolation: Int? = nil
        var maxDeviation = 0.0
        var firstStep = 0
        if let cp = resumeFrom {
            let w = try cp.array("w", in: run.url), a = try cp.array("a", in: run.url)
            let kernel = try cp.array("kernel_residual", in: run.url)
            guard w.shape == [width, d], a.shape == [width], kernel.shape == [n] else {
                throw WideNetIOError("the checkpoint in \(run.url.path) does not match the run's shapes")
            }
            try net.setWeights(w: w.values.map { T($0) }, a: a.values.map { T($0) })
            u = try net.forward()
            rPred = kernel.values
            boundViolations = cp.integers["bound_violations"] ?? 0
            firstViolation = cp.integers["first_bound_violation"]
            maxDeviation = cp.number("max_kernel_deviation") ?? 0
            history = try History(rows: RunDirectory.metricsRows(in: run.url))
            firstStep = cp.step + 1
            logger.info("resuming \(run.url.path) after step \(cp.step)")
        }
        var lastCheckpoint = resumeFrom?.step
        let progress = ProgressBar(total: steps, label: "train", quiet: cfg.quiet, firstStep: max(firstStep - 1, 0))
        let loopStart = Date()
        var stepSeconds = 0.0          // update + forward only, without the logging diagnostics

        Interruption.loopStarted()
        for k in firstStep..<(steps + 1) {
            if k > 0 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try net.update(residual: zip(u, y).map { $0 - $1 }, learningRate: lr)
                u = try net.forward()
                stepSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            }
            let e = zip(u, y).map { $0 - $1 }
            let eSq = e.map { $0 * $0 }.reduce(0, +)
            let loss = 0.5 * eSq
            if !loss.isFinite && k == 0 {
                run.discard()
                throw BackendError("the initial loss is \(loss): the initial weights (κ = \(cfg.kappa)) or the data overflow")
            }
            guard loss.isFinite else {
                try run.close()
                let kept = RunControl.kept(checkpoint: lastCheckpoint, in: run)
                let hint = lr >= 2 / lambdaMax
                    ? String(format: "η = %.4g is above the largest stable step 2/λ_max(H∞) = %.4g", lr, 2 / lambdaMax)
                    : String(format: "the kernel theory allows η < 2/λ_max(H∞) = %.4g; try a smaller --lr", 2 / lambdaMax)
                throw BackendError("training diverged at step \(k) (loss \(loss)); \(kept); \(hint)")
            }
            let bound = Foundation.pow(1 - lr * lambda0 / 2, Double(k)) * r0Sq
            // Rounding of a converged loss may sit a hair above a bound that decays to 0.
            if eSq > bound * (1 + 1e-9) + 1e-12 * r0Sq {
                boundViolations += 1
                if firstViolation == nil { firstViolation = k }
            }
            let deviation = zip(e, rPred).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() / max(r0Sq.squareRoot(), 1e-300)
            maxDeviation = max(maxDeviation, deviation)
            if k % logEvery == 0 || k == steps {
                let dg = try net.diagnostics()
                let kernelLoss = 0.5 * rPred.map { $0 * $0 }.reduce(0, +)
                var row = JSONObject()
                row.set("step", k)
                row.set("loss", loss)
                row.set("bound", 0.5 * bound)
                row.set("kernel_loss", kernelLoss)
                row.set("kernel_deviation", deviation)
                row.set("max_move", dg.maxMove)
                row.set("flip_fraction", dg.flipFraction)
                let gramStep = k == 0 || k == steps || (cfg.gramEvery > 0 && k % cfg.gramEvery == 0)
                if gramStep {
                    let h = try net.empiricalGram(inputGram: xx)
                    let lmin = try SymmetricEigen.eigenvalues(h, n: n).first ?? .nan
                    let diff = zip(h, hInf).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
                    row.set("lambda_min_h", lmin)
                    row.set("gram_deviation", diff)
                    history.gramSteps.append(Double(k)); history.lambdaMin.append(lmin); history.gramDeviation.append(diff)
                }
                try run.appendMetrics(row)
                history.record(k, loss: loss, bound: 0.5 * bound, kernel: kernelLoss,
                               deviation: deviation, move: dg.maxMove, flips: dg.flipFraction)
            }
            progress.update(step: k, loss: loss)
            if k < steps {
                // r ← (I − ηH∞) r
                var next = rPred
                for i in 0..<n {
                    var s = 0.0
                    for j in 0..<n { s += hInf[i * n + j] * rPred[j] }
                    next[i] = rPred[i] - lr * s
                }
                rPred = next
                if control.checkpointDue(after: k) {
                    var cp = Checkpoint(step: k, configHash: try Checkpoint.configHash(of: run.url), metricsBytes: try run.metricsBytes())
                    cp.integers["bound_violations"] = boundViolations
                    if let firstViolation { cp.integers["first_bound_violation"] = firstViolation }
                    cp.set("max_kernel_deviation", maxDeviation)
                    let (w, a) = try net.weights()
                    try cp.write(arrays: [Checkpoint.array("w", w, shape: [width, d]), Checkpoint.array("a", a, shape: [width]),
                                          Checkpoint.array("kernel_residual", rPred, shape: [n])], to: run.url)
                    lastCheckpoint = k
                    try control.stopIfInterrupted(at: k, run: run, progress: progress, command: "train")
                }
                try control.stopUncheckpointed(at: k, run: run, progress: progress, command: "train")
            }
        }
        progress.finish()
        try backend.synchronize()
        let trainSeconds = Date().timeIntervalSince(loopStart)
        try run.close()

        if cfg.saveWeights {
            let (w, a) = try net.weights()
            try run.writeArray(w, shape: [width, d], to: "w.npy")
            try run.writeArray(a, shape: [width], to: "a.npy")
        }
        try run.writeArray(u, shape: [n], to: "u.npy")

        var summary = JSONObject()
        summary.set("command", "train")
        summary.set("backend", backend.info.kind)
        summary.set("device", backend.info.deviceName)
        summary.set("precision", T.precision.rawValue)
        summary.set("n", n); summary.set("d", d); summary.set("width", width); summary.set("steps", steps)
        summary.set("lr", lr); summary.set("lambda0", lambda0); summary.set("lambda_max", lambdaMax)
        summary.set("initial_loss", 0.5 * r0Sq)
        summary.set("final_loss", history.loss.last)
        summary.set("bound_holds", boundViolations == 0)
        summary.set("bound_violations", boundViolations)
        summary.set("first_bound_violation", firstViolation)
        summary.set("max_kernel_deviation", maxDeviation)
        summary.set("final_max_move", history.move.last)
        summary.set("final_flip_fraction", history.flips.last)
        summary.set("lambda_min_h_initial", history.lambdaMin.first)
        summary.set("lambda_min_h_final", history.lambdaMin.last)
        summary.set("wall_seconds", Date().timeIntervalSince(started))
        summary.set("train_seconds", trainSeconds)
        // The rate of the updates this process made (a resumed run made only those after its checkpoint).
        let updatesRun = steps - max(firstStep - 1, 0)
        summary.set("steps_per_second", trainSeconds > 0 ? Double(updatesRun) / trainSeconds : nil)
        summary.set("seconds_per_step", steps > 0 ? stepSeconds / Double(steps) : nil)
        if let ocl = backend as? OpenCLBackend { summary.set("kernel_build_seconds", ocl.buildSeconds) }
        summary.set("notes", notes.joined(separator: "; "))
        try run.writeJSON(summary, to: "summary.json")
        try run.writeText(TrainReport.html(summary: summary, history: history, lambda0: lambda0, notes: notes), to: "report.html")
        return NTKTrainExperiment.Result(directory: run.url, summary: summary, notes: notes)
    }

    func makeInitialisation(width: Int) throws -> NTKTwoLayerNet<T>.Initialisation {
        guard inputs.initW != nil || inputs.initA != nil else { return .random(seed: cfg.seed, kappa: cfg.kappa) }
        // A missing array is drawn from the same Philox streams the device would use.
        let g = PhiloxGenerator(seed: cfg.seed)
        let w: [T] = inputs.initW.map { $0.map { T($0) } }
            ?? g.array(count: width * inputs.d, stream: RandomStream.hiddenWeights.rawValue, step: 0,
                       distribution: .normal, scale: T(cfg.kappa))
        let a: [T] = inputs.initA.map { $0.map { T($0) } }
            ?? g.array(count: width, stream: RandomStream.outputWeights.rawValue, step: 0, distribution: .rademacher, scale: T(1))
        return .arrays(w: w, a: a)
    }
}

/// The logged series a report draws.
struct History {
    init() {}

    /// The series of an earlier run, from its metrics.jsonl rows.
    init(rows: [JSONObject]) {
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

    var steps: [Double] = [], loss: [Double] = [], bound: [Double] = [], kernel: [Double] = []
    var deviation: [Double] = [], move: [Double] = [], flips: [Double] = []
    var gramSteps: [Double] = [], lambdaMin: [Double] = [], gramDeviation: [Double] = []

    mutating func record(_ k: Int, loss l: Double, bound b: Double, kernel kl: Double, deviation dv: Double,
                         move mv: Double, flips fl: Double) {
        steps.append(Double(k)); loss.append(l); bound.append(b); kernel.append(kl)
        deviation.append(dv); move.append(mv); flips.append(fl)
    }
}
