import Foundation

/// `widenet mfld`: noisy gradient descent of a mean-field particle system (ARCHITECTURE.md §1.2), with
/// the loss, the regulariser, an entropy estimate and the entropy-regularised objective logged.
public enum MFLDExperiment {
    public struct Result {
        public let directory: URL
        public let summary: JSONObject
        public let notes: [String]
    }

    public static func run(_ cfg: MFLDConfig, control: RunControl = RunControl()) throws -> Result {
        try cfg.validate()
        try control.validate()
        let data = try makeData(cfg)
        if let b = cfg.batch, b > data.n {
            throw BackendError("--batch \(b) exceeds the \(data.n) training samples")
        }
        let choice = try BackendSelection.make(kind: cfg.backend, device: cfg.device, precision: cfg.precision)
        var notes: [String] = []
        if let note = choice.note { notes.append(note) }
        return try Interruption.catching {
            switch cfg.precision {
            case .f32: return try MFLDRunner<Float>(cfg: cfg, data: data, backend: choice.backend, notes: notes, control: control).run()
            case .f64: return try MFLDRunner<Double>(cfg: cfg, data: data, backend: choice.backend, notes: notes, control: control).run()
            }
        }
    }

    static func makeData(_ cfg: MFLDConfig) throws -> MFLDData {
        let seed = cfg.dataSeed ?? cfg.seed
        switch cfg.task {
        case .parity: return .parity(n: cfg.n, nTest: cfg.resolvedTest, d: cfg.d, k: cfg.parityK, seed: seed)
        case .teacher: return .teacher(n: cfg.n, nTest: cfg.resolvedTest, d: cfg.d, width: cfg.teacherWidth, seed: seed)
        case .file:
            guard let xp = cfg.xPath, let yp = cfg.yPath else { throw BackendError("--task file needs --x X.npy and --y y.npy") }
            return try .files(x: xp, y: yp, testFraction: 0.2)
        }
    }
}

/// The figures logged at one step.
struct MFLDRow {
    var step: Int, loss: Double, regulariser: Double, entropy: Double?, objective: Double?, lambda: Double
    var testLoss: Double, trainAccuracy: Double?, testAccuracy: Double?, secondMoment: Double
}

struct MFLDRunner<T: Scalar> {
    let cfg: MFLDConfig
    var data: MFLDData
    let backend: any Backend
    var notes: [String]
    let control: RunControl

    init(cfg: MFLDConfig, data: MFLDData, backend: any Backend, notes: [String], control: RunControl = RunControl()) {
        self.cfg = cfg; self.data = data; self.backend = backend; self.notes = notes; self.control = control
        if cfg.task != .file { self.data.d = cfg.d }
    }

    func accuracy(_ f: [Double], _ y: [Double]) -> Double {
        Double(zip(f, y).filter { ($0 >= 0 ? 1.0 : -1.0) == $1 }.count) / Double(max(y.count, 1))
    }

    func measure(_ net: MeanFieldNet<T>, step k: Int) throws -> MFLDRow {
        let loss = cfg.resolvedLoss
        let f = try net.predict(data.x), ft = try net.predict(data.xTest)
        let trainLoss = zip(f, data.y).reduce(0.0) { $0 + loss.value($1.0, $1.1) } / Double(data.n)
        let testLoss = zip(ft, data.yTest).reduce(0.0) { $0 + loss.value($1.0, $1.1) } / Double(data.nTest)
        let m2 = try net.meanSquaredNorm()
        let lambda = cfg.lambda(at: k)
        var entropy: Double? = nil
        let sampleSize = min(cfg.entropySample, net.particles)
        if sampleSize > 6, trainLoss.isFinite, m2.isFinite {
            entropy = try EntropyEstimator.kozachenkoLeonenko(try net.sample(sampleSize), count: sampleSize,
                                                               dimension: net.coordinates)
        }
        let reg = cfg.lambdaL2 * m2
        return MFLDRow(step: k, loss: trainLoss, regulariser: reg, entropy: entropy,
                       objective: entropy.map { trainLoss + reg - lambda * $0 }, lambda: lambda, testLoss: testLoss,
                       trainAccuracy: data.classification ? accuracy(f, data.y) : nil,
                       testAccuracy: data.classification ? accuracy(ft, data.yTest) : nil, secondMoment: m2)
    }

    func run() throws -> MFLDExperiment.Result {
        var notes = self.notes
        let D = data.d + 2
        // Memory preflight: the particles plus one batch.
        let need = Double(cfg.particles) * Double(D * MemoryLayout<T>.stride)
        let budget = Double(backend.info.globalMemBytes) * (backend.info.isGPU ? 0.9 : 0.7)
        guard need <= budget else {
            throw BackendError(String(format: "%d particles of dimension %d need %.2f GiB but %@ offers %.2f GiB; the largest count that fits is %d",
                                      cfg.particles, D, need / 1_073_741_824, backend.info.deviceName, budget / 1_073_741_824,
                                      Int(budget / Double(D * MemoryLayout<T>.stride))))
        }
        let logEvery = cfg.logEvery ?? max(1, cfg.steps / 100)
        let resumeFrom = try control.checkpointToResume(in: cfg.out)
        let run = try resumeFrom.map { try RunDirectory(resuming: URL(fileURLWithPath: cfg.out ?? "."), metricsBytes: $0.metricsBytes) }
            ?? RunDirectory(path: cfg.out, command: "mfld")
        let started = Date()
        var restored: [T]? = nil
        if let cp = resumeFrom {
            let p = try cp.array("particles", in: run.url)
            guard p.shape == [cfg.particles, D] else { throw WideNetIOError("the checkpoint in \(run.url.path) does not match the run's particles") }
            restored = p.values.map { T($0) }
        }
        let net = try MeanFieldNet<T>(backend: backend, d: data.d, particles: cfg.particles, unit: cfg.unit,
                                      unitScale: cfg.unitScale, seed: cfg.seed, initScale: cfg.initScale, initial: restored)
        if !cfg.dataTerm { notes.append("data term off: the particles follow a discretised Ornstein–Uhlenbeck process") }
        let resolved: [(String, JSONValue)] = [
            ("backend", .string(backend.info.kind)), ("device", .string(backend.info.deviceName)),
            ("n", .int(data.n)), ("n_test", .int(data.nTest)), ("d", .int(data.d)), ("coordinates", .int(D)),
            ("loss", .string(cfg.resolvedLoss.rawValue)), ("blocks", .int(net.blocks.count)), ("log_every", .int(logEvery)),
            ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null),
            ("notes", .array(notes.map { .string($0) })),
        ]
        if resumeFrom == nil { try run.writeJSON(cfg.json(resolved: resolved), to: "config.json") }

        var rows: [MFLDRow] = []
        let progress = ProgressBar(total: cfg.steps, label: "mfld", quiet: cfg.quiet, firstStep: resumeFrom?.step ?? 0)
        let batch = min(cfg.batch ?? data.n, data.n)
        var fullBatchLoaded = false
        var stepSeconds = 0.0
        // PDA: the running weighted average c̄ of the loss derivatives, weights w_t = t + 1; the
        // averaged first variation (1/n) Σ_j c̄_j h(θ, x_j) + λ'‖θ‖² is linear in c̄, so its Gibbs
        // measure is sampled by the same fused Langevin kernel with c̄ as coefficients.
        var averaged = [Double](repeating: 0, count: data.n), totalWeight = 0.0
        var snapshot: MeanFieldNet<T>.Snapshot? = nil
        var firstStep = 0, lastCheckpoint = resumeFrom?.step
        if let cp = resumeFrom {
            rows = try RunDirectory.metricsRows(in: run.url).compactMap(MFLDRunner.row)
            if cfg.algorithm == .pda {
                averaged = try cp.array("pda_average", in: run.url).values
                totalWeight = cp.number("pda_total_weight") ?? 0
            }
            firstStep = cp.step
        }
        Interruption.loopStarted()
        for k in firstStep...cfg.steps {
            // A checkpoint holds the particles after k updates, taken before row k is logged; with SVRG
            // only where the snapshot is refreshed, so that the continuation recomputes it.
            if k > firstStep, k < cfg.steps, control.checkpointDue(after: k), cfg.svrgEvery == 0 || k % cfg.svrgEvery == 0 {
                var cp = Checkpoint(step: k, configHash: try Checkpoint.configHash(of: run.url), metricsBytes: try run.metricsBytes())
                var arrays = [Checkpoint.array("particles", try net.allParticles(), shape: [net.particles, D])]
                if cfg.algorithm == .pda {
                    arrays.append(Checkpoint.array("pda_average", averaged, shape: [averaged.count]))
                    cp.set("pda_total_weight", totalWeight)
                }
                try cp.write(arrays: arrays, to: run.url)
                lastCheckpoint = k
                try control.stopIfInterrupted(at: k, run: run, progress: progress, command: "mfld")
            }
            try control.stopUncheckpointed(at: k, run: run, progress: progress, command: "mfld")
            if k % logEvery == 0 || k == cfg.steps {
                let row = try measure(net, step: k)
                if !(row.loss.isFinite && row.secondMoment.isFinite) && k == 0 {
                    run.discard()
                    throw BackendError("the initial loss is \(row.loss): the initial particles (--init-scale \(cfg.initScale)) or the data overflow")
                }
                guard row.loss.isFinite, row.secondMoment.isFinite else {
                    try run.close()
                    let kept = RunControl.kept(checkpoint: lastCheckpoint, in: run)
                    let decay = cfg.lambdaL2 > 0 ? String(format: "; the weight decay alone needs η < 1/λ' = %.4g", 1 / cfg.lambdaL2) : ""
                    throw BackendError("the particles diverged at step \(k) (loss \(row.loss)); \(kept); try a smaller --lr\(decay)")
                }
                rows.append(row)
                try run.appendMetrics(MFLDRunner.json(row))
                fullBatchLoaded = false   // predict() replaced the batch buffer
                progress.update(step: k, loss: row.loss)
            }
            guard k < cfg.steps else { break }
            let t0 = DispatchTime.now().uptimeNanoseconds
            if cfg.svrgEvery > 0 && k % cfg.svrgEvery == 0 {
                let f = try net.predict(data.x)
                snapshot = try net.snapshot(x: data.x, f: f, derivatives: zip(f, data.y).map { cfg.resolvedLoss.derivative($0, $1) },
                                            reusing: snapshot)
                fullBatchLoaded = false
            }
            // The batch: all samples, or B drawn with replacement from Philox stream `shuffle` at step k.
            var xb: [Double], yb: [Double], idx: [Int] = []
            if batch < data.n {
                let u: [Double] = PhiloxGenerator(seed: cfg.seed).array(count: batch, stream: RandomStream.shuffle.rawValue,
                                                                       step: UInt32(truncatingIfNeeded: k),
                                                                       distribution: .uniform, scale: 1.0)
                idx = u.map { min(Int($0 * Double(data.n)), data.n - 1) }
                xb = idx.flatMap { data.x[($0 * data.d)..<(($0 + 1) * data.d)] }
                yb = idx.map { data.y[$0] }
                _ = try net.setBatch(xb)
            } else {
                xb = []; yb = data.y
                if !fullBatchLoaded { _ = try net.setBatch(data.x); fullBatchLoaded = true }
            }
            var derivatives = [Double](repeating: 0, count: yb.count)
            if cfg.dataTerm {
                let f = try net.forward(batch: yb.count)
                derivatives = zip(f, yb).map { cfg.resolvedLoss.derivative($0, $1) }
            }
            switch cfg.algorithm {
            case .langevin:
                // SVRG: ∇ at θ on the batch − ∇ at the snapshot θ̃ on the batch + ∇ at θ̃ on all data.
                let extra = try snapshot.map { snap in
                    try net.correction(snap, snapshotDerivatives: idx.map { cfg.resolvedLoss.derivative(snap.f[$0], data.y[$0]) })
                }
                try net.step(lossDerivatives: derivatives, learningRate: cfg.learningRate, lambdaEntropy: cfg.lambda(at: k),
                             lambdaL2: cfg.lambdaL2, seed: cfg.seed, step: k + 1, dataTerm: cfg.dataTerm, extra: extra)
            case .pda:
                let w = Double(k + 1)
                totalWeight += w
                for j in 0..<averaged.count { averaged[j] += (w / totalWeight) * (derivatives[j] - averaged[j]) }
                for s in 0..<cfg.innerSteps {
                    try net.step(lossDerivatives: averaged, learningRate: cfg.learningRate, lambdaEntropy: cfg.lambda(at: k),
                                 lambdaL2: cfg.lambdaL2, seed: cfg.seed, step: k * cfg.innerSteps + s + 1,
                                 dataTerm: cfg.dataTerm)
                }
            }
            stepSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
        progress.finish()
        try backend.synchronize()
        try run.close()

        let sample = try net.sample(min(net.particles, 20_000))
        if cfg.saveParticles {
            try run.writeArray(try net.allParticles(), shape: [net.particles, D], to: "particles.npy")
        }
        var summary = JSONObject()
        summary.set("command", "mfld")
        summary.set("backend", backend.info.kind); summary.set("device", backend.info.deviceName)
        summary.set("precision", T.precision.rawValue)
        summary.set("particles", cfg.particles); summary.set("n", data.n); summary.set("d", data.d); summary.set("steps", cfg.steps)
        let last = rows.last
        summary.set("final_loss", last?.loss); summary.set("final_test_loss", last?.testLoss)
        summary.set("final_regulariser", last?.regulariser); summary.set("final_entropy", last?.entropy)
        summary.set("final_objective", last?.objective)
        summary.set("final_train_accuracy", last?.trainAccuracy); summary.set("final_test_accuracy", last?.testAccuracy)
        summary.set("final_lambda", last?.lambda)
        // Mean of the last quarter of logged rows: the stationary level, less noisy than one row.
        let tail = rows.suffix(max(1, rows.count / 4))
        summary.set("tail_loss", tail.map(\.loss).reduce(0, +) / Double(tail.count))
        summary.set("tail_loss_plus_regulariser", tail.map { $0.loss + $0.regulariser }.reduce(0, +) / Double(tail.count))
        if !cfg.dataTerm { summary.set("gaussian_check", gaussianCheck(sample, count: sample.count / D, D: D)) }
        summary.set("wall_seconds", Date().timeIntervalSince(started))
        summary.set("seconds_per_step", cfg.steps > 0 ? stepSeconds / Double(cfg.steps) : nil)
        if let ocl = backend as? OpenCLBackend { summary.set("kernel_build_seconds", ocl.buildSeconds) }
        summary.set("notes", notes.joined(separator: "; "))
        try run.writeJSON(summary, to: "summary.json")
        try run.writeText(MFLDReport.html(summary: summary, rows: rows, sample: sample, D: D, d: data.d,
                                           scatter: cfg.scatter, notes: notes), to: "report.html")
        return MFLDExperiment.Result(directory: run.url, summary: summary, notes: notes)
    }

    /// Per-coordinate mean and variance of the sample against the exact law of the discrete
    /// chain with the data term off (MFLDConfig.gaussianVariance), with z-scores.
    func gaussianCheck(_ sample: [Double], count m: Int, D: Int) -> JSONObject {
        let (v, vInf) = cfg.gaussianVariance(afterSteps: cfg.steps)
        var means: [Double] = [], vars: [Double] = [], zMean: [Double] = [], zVar: [Double] = []
        for q in 0..<D {
            let col = (0..<m).map { sample[$0 * D + q] }
            let mean = col.reduce(0, +) / Double(m)
            let variance = col.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(m - 1)
            means.append(mean); vars.append(variance)
            zMean.append(mean / (v / Double(m)).squareRoot())
            zVar.append((variance - v) / (v * (2 / Double(m - 1)).squareRoot()))   // sd of a Gaussian sample variance
        }
        var o = JSONObject()
        o.set("sample", m)
        o.set("predicted_variance", v); o.set("stationary_variance", vInf)
        o.set("continuous_time_variance", cfg.lambdaEntropy / (2 * cfg.lambdaL2))
        o.set("means", means); o.set("variances", vars)
        o.set("max_abs_z_mean", zMean.map(abs).max()); o.set("max_abs_z_variance", zVar.map(abs).max())
        return o
    }

    /// A logged row read back from metrics.jsonl (to continue a run's report).
    static func row(_ o: JSONObject) -> MFLDRow? {
        func number(_ key: String) -> Double? { o[key]?.doubleValue }
        guard let step = number("step"), let loss = number("loss") else { return nil }
        return MFLDRow(step: Int(step), loss: loss, regulariser: number("regulariser") ?? .nan, entropy: number("entropy"),
                       objective: number("objective"), lambda: number("lambda") ?? .nan, testLoss: number("test_loss") ?? .nan,
                       trainAccuracy: number("train_accuracy"), testAccuracy: number("test_accuracy"),
                       secondMoment: number("second_moment") ?? .nan)
    }

    static func json(_ r: MFLDRow) -> JSONObject {
        var o = JSONObject()
        o.set("step", r.step); o.set("loss", r.loss); o.set("regulariser", r.regulariser)
        o.set("entropy", r.entropy); o.set("objective", r.objective); o.set("lambda", r.lambda)
        o.set("second_moment", r.secondMoment); o.set("test_loss", r.testLoss)
        if let a = r.trainAccuracy { o.set("train_accuracy", a) }
        if let a = r.testAccuracy { o.set("test_accuracy", a) }
        return o
    }
}
