import Foundation

/// `widenet mfld`: noisy gradient descent of a mean-field particle system (ARCHITECTURE.md §1.2), with
/// the loss, the regulariser, an entropy estimate and the entropy-regularised objective logged.
public enum MFLDExperiment {
    public static func run(_ cfg: MFLDConfig, control: RunControl = RunControl()) throws -> RunOutcome {
        try cfg.validate()
        try control.validate()
        let data = try makeData(cfg)
        if let b = cfg.batch, b > data.n {
            throw BackendError("--batch \(b) exceeds the \(data.n) training samples")
        }
        // The logistic loss log(1 + e^(−yf)) is a classifier's: its labels are ±1.
        if cfg.dataTerm && cfg.resolvedLoss == .logistic && !data.classification {
            switch cfg.task {
            case .file:
                let all = data.y + data.yTest
                let i = all.firstIndex { $0 != 1 && $0 != -1 } ?? 0
                throw BackendError("--loss logistic needs labels ±1, but \(cfg.yPath ?? "--y") holds \(all[i]) at index \(i); use --loss squared")
            default:
                throw BackendError("--loss logistic needs labels ±1, but --task \(cfg.task.rawValue) has real-valued labels (the teacher network's outputs); use --loss squared or --task parity", .usage)
            }
        }
        let choice = try BackendSelection.make(kind: cfg.backend, device: cfg.device, precision: cfg.precision)
        var notes: [String] = []
        if let note = choice.note { notes.append(note) }
        let D = (cfg.task == .file ? data.d : cfg.d) + 2
        try preflight(cfg, coordinates: D, on: choice.backend.info)
        let given = try cfg.initParticlesPath.map { try initialParticles($0, count: cfg.particles, coordinates: D) }
        return try RunHarness.run(command: "mfld", out: cfg.out, control: control, quiet: cfg.quiet) { url, resuming in
            switch cfg.precision {
            case .f32: return try MFLDRun<Float>(cfg, data, choice.backend, notes, control, checkpoint: resuming, in: url, given: given)
            case .f64: return try MFLDRun<Double>(cfg, data, choice.backend, notes, control, checkpoint: resuming, in: url, given: given)
            }
        }
    }

    /// Given initial particles: N×D with finite values.
    static func initialParticles(_ path: String, count: Int, coordinates D: Int) throws -> [Double] {
        let a = try NPY.read(URL(fileURLWithPath: path))
        guard a.shape == [count, D] else {
            throw BackendError("\(path): initial particles must be \(count)×\(D) (--particles × (d + 2): w, b, a), got \(a.shape)")
        }
        if let i = a.values.firstIndex(where: { !$0.isFinite }) { throw BackendError("\(path): non-finite value in particle \(i / D)") }
        return a.values
    }

    /// The particles must fit the device's memory.
    static func preflight(_ cfg: MFLDConfig, coordinates D: Int, on info: BackendInfo) throws {
        let bytes = cfg.precision == .f32 ? MemoryLayout<Float>.stride : MemoryLayout<Double>.stride
        // In a job of ranks the device holds this rank's blocks of particles only.
        let partition = WidthPartition.forProblem(width: cfg.particles, bytesPerUnit: D * bytes, requested: cfg.blockParticles)
        let need = Double(Job.share(of: partition) ?? cfg.particles) * Double(D * bytes)
        let budget = Double(info.globalMemBytes) * (info.isGPU ? 0.9 : 0.7)
        // On the host: the entropy sample (points, centred copy, norms and distances, one 32 MiB
        // block of its Gram matrix) and the report's sample of up to 20 000 particles.
        let sample = Double(min(cfg.entropySample, cfg.particles)), shown = Double(min(20_000, cfg.particles))
        try MemoryPreflight.require(8 * (sample * Double(2 * D + 4) + shown * Double(D)) + 33_554_432,
                                    for: "the entropy sample of \(Int(sample)) particles") { have in
            let largest = Int((have / 8 - shown * Double(D) - 4_194_304) / Double(2 * D + 4))
            return largest > 0 ? "the largest --entropy-sample that fits is \(largest)"
                : "not even the sample's fixed 32 MiB block and the report's \(Int(shown)) particles fit"
        }
        // The CPU backend keeps the particles in host memory: the host's limit applies too.
        if info.kind == "cpu" {
            try MemoryPreflight.require(need, for: "\(cfg.particles) particles of dimension \(D)") { have in
                "the largest count that fits is \(Int(max(have, 0) / Double(D * bytes)))"
            }
        }
        guard need <= budget else {
            let fits = Int(budget / Double(D * bytes))
            let what = Job.ranks > 1 ? "this rank's \(Job.share(of: partition) ?? cfg.particles) of \(cfg.particles) particles" : "\(cfg.particles) particles"
            throw BackendError.resources(String(format: "%@ of dimension %d need %.2f GiB but %@ offers %.2f GiB; %@ %d",
                                      what, D, need / 1_073_741_824, info.deviceName, budget / 1_073_741_824,
                                      Job.ranks > 1 ? "a rank fits at most" : "the largest count that fits is", fits)
                + MemoryPreflight.splitAdvice(units: cfg.particles, perDevice: fits))
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

/// The figures logged at one step. With the data term off the loss and test loss are not
/// evaluated (nil) and the objective is λ'E‖θ‖² − λH; an entropy of −∞ (a point mass) is logged as null.
public struct MFLDRow {
    public var step: Int, loss: Double?, regulariser: Double, entropy: Double?, objective: Double?, lambda: Double
    public var testLoss: Double?, trainAccuracy: Double?, testAccuracy: Double?, secondMoment: Double
    /// The part of the objective without the entropy: loss + λ'E‖θ‖² (λ'E‖θ‖² alone without data).
    public var lossPlusRegulariser: Double { (loss ?? 0) + regulariser }
}

/// One mean-field run in precision T: the particles, and for PDA the running average of the loss
/// derivatives, for SVRG the snapshot.
final class MFLDRun<T: Scalar>: SteppedRun {
    let cfg: MFLDConfig
    var data: MFLDData
    let backend: any Backend
    let notes: [String]
    let control: RunControl
    let net: MeanFieldNet<T>
    let logEvery: Int, batch: Int
    var rows: [MFLDRow] = []
    var fullBatchLoaded = false
    // PDA: the running weighted average c̄ of the loss derivatives, weights w_t = t + 1; the
    // averaged first variation (1/n) Σ_j c̄_j h(θ, x_j) + λ'‖θ‖² is linear in c̄, so its Gibbs
    // measure is sampled by the same fused Langevin kernel with c̄ as coefficients.
    var averaged: [Double], totalWeight = 0.0
    var snapshot: MeanFieldNet<T>.Snapshot? = nil
    /// SVRG runs only where a batch is a sample of the data: with --batch equal to the training
    /// rows every batch is all of them and the correction g_B(θ̃) − G(θ̃) is zero.
    let svrg: Bool
    /// Per-coordinate mean and variance (m − 1 in the denominator) of the first particles the
    /// Gaussian check samples, at the start: nil for drawn particles, N(0, --init-scale²).
    let initialMoments: (means: [Double], variances: [Double])?

    var command: String { "mfld" }
    var steps: Int { cfg.steps }
    var backendInfo: BackendInfo? { backend.info }
    var kernelBuildSeconds: Double? { backend.info.kind == "opencl" ? backend.buildSeconds : nil }
    var D: Int { data.d + 2 }

    /// With a checkpoint the particles come from it, else from `given` (--init-particles), else
    /// they are drawn.
    init(_ cfg: MFLDConfig, _ data: MFLDData, _ backend: any Backend, _ notes: [String], _ control: RunControl,
         checkpoint: Checkpoint?, in run: URL, given: [Double]?) throws {
        self.cfg = cfg; self.data = data; self.backend = backend; self.control = control
        if cfg.task != .file { self.data.d = cfg.d }
        var notes = notes
        if !cfg.dataTerm {
            notes.append("data term off: the particles follow a discretised Ornstein–Uhlenbeck process; the data loss is not evaluated and the objective is λ'E‖θ‖² − λH")
        }
        logEvery = cfg.logEvery ?? max(1, cfg.steps / 100)
        batch = min(cfg.batch ?? data.n, data.n)
        svrg = cfg.svrgEvery > 0 && batch < data.n
        if cfg.svrgEvery > 0 && !svrg {
            notes.append("--svrg-every with --batch \(batch), all the training rows: every batch is the full data, so the SVRG correction is zero and the run is full-batch gradient descent")
        }
        let D = self.data.d + 2
        if let given {
            // The Gaussian check's sample is the first min(N, 20 000) particles.
            let m = min(cfg.particles, 20_000)
            var means = [Double](repeating: 0, count: D), variances = means
            for q in 0..<D {
                let col = (0..<m).map { given[$0 * D + q] }
                let mean = col.reduce(0, +) / Double(m)
                means[q] = mean
                variances[q] = m > 1 ? col.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(m - 1) : 0
            }
            initialMoments = (means, variances)
            let sampled = min(cfg.entropySample, cfg.particles)
            if checkpoint == nil, sampled > 6, EntropyEstimator.allCoincide(given, count: sampled, dimension: D) {
                notes.append("the initial particles are one point (a point mass): their entropy is −∞ and the objective +∞"
                    + " (both logged as null) while they coincide" + (cfg.lambdaEntropy > 0 ? "; the noise spreads them from the first step" : ""))
            }
        } else {
            initialMoments = nil
        }
        self.notes = notes
        averaged = [Double](repeating: 0, count: data.n)
        var restored: [T]? = given.map { $0.map { T($0) } }
        if let checkpoint {
            // Each rank's checkpoint holds its own particles (all of them in a process alone).
            let own = MeanFieldNet<T>.partition(particles: cfg.particles, coordinates: self.data.d + 2, blockParticles: cfg.blockParticles)
                .units(rank: Job.exchange.rank, of: Job.ranks)
            let p = try checkpoint.array("particles", in: run)
            guard p.shape == [own.count, self.data.d + 2] else {
                throw WideNetIOError("the checkpoint in \(run.path) does not match the run's particles")
            }
            restored = p.values.map { T($0) }
        }
        net = try MeanFieldNet<T>(backend: backend, d: self.data.d, particles: cfg.particles, unit: cfg.unit,
                                  unitScale: cfg.unitScale, seed: cfg.seed, initScale: cfg.initScale, initial: restored,
                                  blockParticles: cfg.blockParticles, exchange: Job.exchange)
    }

    func config() -> JSONObject {
        cfg.json(resolved: [
            ("backend", .string(backend.info.kind)), ("device", .string(backend.info.deviceName)),
            ("n", .int(data.n)), ("n_test", .int(data.nTest)), ("d", .int(data.d)), ("coordinates", .int(D)),
            ("loss", .string(cfg.resolvedLoss.rawValue)), ("blocks", .int(net.partition.count)),
            ("block_particles", .int(net.partition.blockWidth)), ("log_every", .int(logEvery)),
            ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null),
            ("notes", .array(notes.map { .string($0) })),
        ])
    }

    /// The training and test sets as used (the split of a file task included).
    func writeInputs(in run: RunDirectory) throws {
        guard (data.n + data.nTest) * data.d <= RunHarness.keptInputValues else { return }
        try run.writeArray(data.x, shape: [data.n, data.d], to: "x.npy")
        try run.writeArray(data.y, shape: [data.n], to: "y.npy")
        try run.writeArray(data.xTest, shape: [data.nTest, data.d], to: "x_test.npy")
        try run.writeArray(data.yTest, shape: [data.nTest], to: "y_test.npy")
    }

    func restore(_ cp: Checkpoint, in run: URL, rows: [JSONObject]) throws {
        self.rows = rows.compactMap(MFLDRow.init(row:))
        if cfg.algorithm == .pda {
            averaged = try cp.array("pda_average", in: run).values
            totalWeight = cp.number("pda_total_weight") ?? 0
        }
    }

    /// With SVRG only where the snapshot is refreshed, so that the continuation recomputes it.
    func canCheckpoint(at k: Int) -> Bool { !svrg || k % cfg.svrgEvery == 0 }

    func checkpointArrays(_ cp: inout Checkpoint) throws -> [(name: String, npy: Data)] {
        var arrays = [Checkpoint.array("particles", try net.ownParticles(), shape: [net.ownUnits.count, D])]
        if cfg.algorithm == .pda {
            arrays.append(Checkpoint.array("pda_average", averaged, shape: [averaged.count]))
            cp.set("pda_total_weight", totalWeight)
        }
        return arrays
    }

    func accuracy(_ f: [Double], _ y: [Double]) -> Double {
        Double(zip(f, y).filter { ($0 >= 0 ? 1.0 : -1.0) == $1 }.count) / Double(max(y.count, 1))
    }

    func observe(_ k: Int) throws -> Observation {
        guard k % logEvery == 0 || k == cfg.steps else { return Observation(loss: nil, row: nil) }
        let row = try measure(step: k)
        if cfg.dataTerm { fullBatchLoaded = false }   // predict() replaced the batch buffer
        // Without data there is no loss: the second moment alone says whether the particles blew up.
        let loss = row.loss ?? 0
        guard loss.isFinite, row.secondMoment.isFinite else { return Observation(loss: loss.isFinite ? .infinity : loss, row: nil) }
        // Growing without bound: the particles' second moment 10¹² times the most a stable chain reaches
        // by step k (MFLDConfig.divergenceScale: the start's plus what the noise and decay alone give).
        let start = rows.first?.secondMoment ?? row.secondMoment
        if row.secondMoment > 1e12 * cfg.divergenceScale(start: start, step: k, coordinates: D) {
            return Observation(loss: .infinity, row: nil)
        }
        rows.append(row)
        return Observation(loss: row.loss, row: row.json)
    }

    func measure(step k: Int) throws -> MFLDRow {
        let loss = cfg.resolvedLoss
        // With the data term off the problem has no loss: nothing is predicted.
        var f: [Double] = [], ft: [Double] = [], trainLoss: Double? = nil, testLoss: Double? = nil
        if cfg.dataTerm {
            f = try net.predict(data.x); ft = try net.predict(data.xTest)
            trainLoss = zip(f, data.y).reduce(0.0) { $0 + loss.value($1.0, $1.1) } / Double(data.n)
            testLoss = zip(ft, data.yTest).reduce(0.0) { $0 + loss.value($1.0, $1.1) } / Double(data.nTest)
        }
        let m2 = try net.meanSquaredNorm()
        let lambda = cfg.lambda(at: k)
        var entropy: Double? = nil
        let sampleSize = min(cfg.entropySample, net.particles)
        if sampleSize > 6, trainLoss?.isFinite ?? true, m2.isFinite {
            let points = try net.sample(sampleSize)
            // A point mass has entropy −∞, a true value the k-NN estimator cannot compute.
            entropy = EntropyEstimator.allCoincide(points, count: sampleSize, dimension: net.coordinates) ? -.infinity
                : try EntropyEstimator.kozachenkoLeonenko(points, count: sampleSize, dimension: net.coordinates)
        }
        let reg = cfg.lambdaL2 * m2, base = (trainLoss ?? 0) + reg
        // F = loss + λ'E‖θ‖² − λH: +∞ for a point mass at λ > 0, and without the entropy term at λ = 0.
        return MFLDRow(step: k, loss: trainLoss, regulariser: reg, entropy: entropy,
                       objective: entropy.map { lambda == 0 ? base : base - lambda * $0 }, lambda: lambda, testLoss: testLoss,
                       trainAccuracy: cfg.dataTerm && data.classification ? accuracy(f, data.y) : nil,
                       testAccuracy: cfg.dataTerm && data.classification ? accuracy(ft, data.yTest) : nil, secondMoment: m2)
    }

    func advance(from k: Int) throws {
        if svrg && k % cfg.svrgEvery == 0 {
            let f = try net.predict(data.x)
            snapshot = try net.snapshot(x: data.x, f: f, derivatives: zip(f, data.y).map { cfg.resolvedLoss.derivative($0, $1) },
                                        reusing: snapshot)
            fullBatchLoaded = false
        }
        // The batch: all samples, or B drawn with replacement from Philox stream `shuffle` at step k.
        var yb: [Double], idx: [Int] = []
        if batch < data.n {
            let u: [Double] = PhiloxGenerator(seed: cfg.seed).array(count: batch, stream: RandomStream.shuffle.rawValue,
                                                                   step: UInt32(truncatingIfNeeded: k),
                                                                   distribution: .uniform, scale: 1.0)
            idx = u.map { min(Int($0 * Double(data.n)), data.n - 1) }
            let xb = idx.flatMap { data.x[($0 * data.d)..<(($0 + 1) * data.d)] }
            yb = idx.map { data.y[$0] }
            _ = try net.setBatch(xb)
        } else {
            yb = data.y
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
                             lambdaL2: cfg.lambdaL2, seed: cfg.seed, step: k * cfg.innerSteps + s + 1, dataTerm: cfg.dataTerm)
            }
        }
    }

    /// The particles (and PDA's average of the loss derivatives).
    var checkpointSize: (bytes: Double, grows: (name: String, value: Int)?) {
        (Double(cfg.particles * D * MemoryLayout<T>.stride) + 8 * Double(averaged.count), ("particle count", cfg.particles))
    }

    func initialFailure() -> String { "the initial particles (--init-scale \(cfg.initScale)) or the data overflow" }

    func divergenceHint() -> String {
        "the particles' loss or second moment grew without bound; try a smaller --lr" + (cfg.lambdaL2 > 0 ? String(format: "; the weight decay alone needs η < 1/λ' = %.4g", 1 / cfg.lambdaL2) : "")
    }

    func synchronize() throws { try backend.synchronize() }

    func finish(in run: RunDirectory) throws -> JSONObject {
        let sample = try net.sample(min(net.particles, 20_000))
        if cfg.saveParticles {
            try run.writeArray(try net.allParticles(), shape: [net.particles, D], to: "particles.npy")
        }
        // The report's particle cloud, in f32: the figures need no more.
        try run.writeArray(sample.map { Float($0) }, shape: [sample.count / D, D], to: "sample.npy")
        let last = rows.last
        let entropySize = min(cfg.entropySample, net.particles)
        // sample(k) is the first k particles, so the report's sample already holds the entropy sample when it is the smaller.
        let entropyPoints = entropySize * D <= sample.count ? Array(sample.prefix(entropySize * D)) : try net.sample(entropySize)
        let bias = entropySize > 6 && last?.entropy?.isFinite == true
            ? try EntropyBias.measure(entropyPoints, count: entropySize, dimension: D, seed: cfg.seed) : nil
        // Means of the last quarter of logged rows: the stationary level, less noisy than one row.
        let tail = rows.suffix(max(1, rows.count / 4))
        let tailLosses = tail.compactMap(\.loss)
        return try ConfigCoding.object(MFLDSummary(
            precision: T.precision.rawValue, particles: cfg.particles, n: data.n, d: data.d, steps: cfg.steps, coordinates: D,
            scatter: [cfg.scatter.0, cfg.scatter.1], finalLoss: last?.loss, finalTestLoss: last?.testLoss,
            finalRegulariser: last?.regulariser, finalEntropy: last?.entropy, finalObjective: last?.objective,
            finalTrainAccuracy: last?.trainAccuracy, finalTestAccuracy: last?.testAccuracy, finalLambda: last?.lambda,
            tailLoss: tailLosses.isEmpty ? nil : tailLosses.reduce(0, +) / Double(tailLosses.count),
            tailLossPlusRegulariser: tail.isEmpty ? nil : tail.map(\.lossPlusRegulariser).reduce(0, +) / Double(tail.count),
            entropyBias: bias, finalEntropyCorrected: bias.flatMap { b in last?.entropy.map { $0 - b.bias } },
            gaussianCheck: cfg.dataTerm ? nil : gaussianCheck(sample, count: sample.count / D, D: D)))
    }

    /// Per-coordinate mean and variance of the sample against the exact law of the discrete chain
    /// with the data term off (MFLDConfig.noDataLaw: annealing, PDA's inner steps and the
    /// transient from the start included), with z-scores. The start is N(0, s0²) for drawn
    /// particles, or the given particles' own per-coordinate means and variances (over the same
    /// first particles the sample holds), which the chain then carries deterministically.
    func gaussianCheck(_ sample: [Double], count m: Int, D: Int) -> GaussianCheck {
        let law = cfg.noDataLaw()
        let m0 = initialMoments?.means ?? [Double](repeating: 0, count: D)
        let v0 = initialMoments?.variances ?? [Double](repeating: cfg.initScale * cfg.initScale, count: D)
        let predictedMeans = m0.map { law.meanFactor * $0 }
        let predictedVariances = v0.map { law.varianceFactor * $0 + law.noiseVariance }
        var means: [Double] = [], vars: [Double] = [], zMean: [Double] = [], zVar: [Double] = []
        func z(_ difference: Double, _ sd: Double) -> Double { sd > 0 ? difference / sd : (difference == 0 ? 0 : .infinity) }
        for q in 0..<D {
            let col = (0..<m).map { sample[$0 * D + q] }
            let mean = col.reduce(0, +) / Double(m)
            let variance = m > 1 ? col.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(m - 1) : 0
            let v = predictedVariances[q]
            means.append(mean); vars.append(variance)
            // Sampling sd of a Gaussian sample's mean and variance (for given particles an upper
            // bound: their own part is not random).
            zMean.append(z(mean - predictedMeans[q], (v / Double(m)).squareRoot()))
            zVar.append(z(variance - v, v * (2 / Double(max(m - 1, 1))).squareRoot()))
        }
        let common = predictedVariances.allSatisfy { $0 == predictedVariances[0] } ? predictedVariances.first : nil
        return GaussianCheck(sample: m, predictedVariance: common, stationaryVariance: cfg.stationaryVariance,
                             continuousTimeVariance: cfg.finalLambda / (2 * cfg.lambdaL2), means: means, variances: vars,
                             maxAbsZMean: zMean.map(abs).max(), maxAbsZVariance: zVar.map(abs).max(),
                             predictedMeans: predictedMeans, predictedVariances: predictedVariances,
                             initial: initialMoments == nil ? String(format: "drawn N(0, %.6g²)", cfg.initScale) : "given (--init-particles)",
                             finalLambda: cfg.finalLambda)
    }

}

extension MFLDRow {
    /// A logged row read back from metrics.jsonl.
    public init?(row o: JSONObject) {
        func number(_ key: String) -> Double? { o[key]?.doubleValue }
        guard let step = number("step") else { return nil }
        self.init(step: Int(step), loss: number("loss"), regulariser: number("regulariser") ?? .nan, entropy: number("entropy"),
                  objective: number("objective"), lambda: number("lambda") ?? .nan, testLoss: number("test_loss"),
                  trainAccuracy: number("train_accuracy"), testAccuracy: number("test_accuracy"),
                  secondMoment: number("second_moment") ?? .nan)
    }

    var json: JSONObject {
        let r = self
        var o = JSONObject()
        o.set("step", r.step); o.set("loss", r.loss); o.set("regulariser", r.regulariser)
        o.set("entropy", r.entropy); o.set("objective", r.objective); o.set("lambda", r.lambda)
        o.set("second_moment", r.secondMoment); o.set("test_loss", r.testLoss)
        if let a = r.trainAccuracy { o.set("train_accuracy", a) }
        if let a = r.testAccuracy { o.set("test_accuracy", a) }
        return o
    }
}
