import Foundation

/// What an SGD run of `widenet train` fixes before its directory exists: where its batches come
/// from, the test set, the step size and the memory check (ARCHITECTURE.md §1.1, averaged SGD).
struct SGDSetup {
    let cfg: NTKTrainConfig
    let inputs: TrainInputs
    let backend: any Backend
    var notes: [String]
    let width: Int, batch: Int, lr: Double
    /// Updates before averaging begins; nil without --average.
    let averageFrom: Int?
    let source: SGDSamples.Source
    /// The harmonic target's test set (noise-free values); nil on data without a target function.
    let test: (x: [Double], y: [Double], count: Int)?
    /// The ridge λ (0: none).
    let ridge: Double
    /// Rows of the net's input buffer: a batch, or a chunk of the test set or data set.
    let capacity: Int
    var stream: Bool { cfg.stream == true }

    /// η = 1 = 1/(2·H∞(x, x)) on unit inputs: each sample's kernel step is stable below 4.
    static let defaultLearningRate = 1.0
    static let chunk = 512

    init(_ cfg: NTKTrainConfig, _ inputs: TrainInputs, _ backend: any Backend, _ notes: [String]) throws {
        self.cfg = cfg; self.inputs = inputs; self.backend = backend; self.notes = notes
        width = inputs.width ?? NTKTrainConfig.defaultWidth(for: backend.info)
        batch = cfg.batch ?? 1
        lr = cfg.learningRate ?? SGDSetup.defaultLearningRate
        averageFrom = cfg.average == true ? cfg.averageFrom ?? 0 : nil
        if cfg.stream == true {
            guard let target = inputs.harmonic else { throw BackendError("--stream draws fresh samples of a target function; it needs --dataset harmonic", .usage) }
            source = .stream(target, noise: cfg.noise ?? NTKTrainConfig.defaultNoise)
        } else {
            guard batch <= inputs.n else { throw BackendError("--batch \(batch) is larger than the data set's \(inputs.n) samples", .usage) }
            source = .epochs(x: inputs.x, y: inputs.y, n: inputs.n)
        }
        if let target = inputs.harmonic {
            let count = cfg.testSize ?? NTKTrainConfig.defaultTestSize
            let t = SGDSamples.testSet(target, count: count, seed: cfg.dataSeed ?? cfg.seed)
            test = (t.x, t.y, count)
        } else { test = nil }
        if cfg.ridgeAuto == true {
            guard let target = inputs.harmonic else { throw BackendError("--ridge auto takes β and r from the target; it needs --dataset harmonic", .usage) }
            let (beta, r) = (target.capacity, target.source)
            ridge = Foundation.pow(Double(max(cfg.steps * batch, 1)), -beta / (2 * r * beta + 1))
            self.notes.append(String(format: "ridge λ = T^(−β/(2rβ+1)) = %.4g for T = %d samples (Nitanda–Suzuki)", ridge, cfg.steps * batch))
        } else { ridge = cfg.ridge ?? 0 }
        capacity = max(batch, min(SGDSetup.chunk, max(test?.count ?? 0, cfg.stream == true ? 0 : inputs.n)))
        try SGDSetup.preflight(cfg, width: width, capacity: capacity, inputs: inputs, on: backend.info)
        let seen = cfg.steps.multipliedReportingOverflow(by: batch)
        if cfg.learningRate == nil { self.notes.append("η = 1 = 1/(2·H∞(x, x)) on unit inputs (a constant step, as averaged SGD's theory takes)") }
        if let target = inputs.harmonic {
            self.notes.append(String(format: "harmonic target on S^%d: degrees 1…%d with μ_ℓ > 0, source r = %.4g, β = d/(d − 1) = %.4g, ‖f*‖² = %.4g",
                                     inputs.d - 1, target.degrees.last ?? 0, target.source, target.capacity, target.normSquared))
        }
        if cfg.stream == true { self.notes.append("one pass over a stream: update k sees \(batch) fresh sample\(batch == 1 ? "" : "s"), \(seen.overflow ? "?" : String(seen.partialValue)) in all") }
    }

    static func validate(_ cfg: NTKTrainConfig) throws {
        if let b = cfg.batch, b < 1 { throw BackendError("--batch must be at least 1 (got \(b))") }
        if let k = cfg.averageFrom {
            guard cfg.average == true else { throw BackendError("--average-from \(k) sets when averaging starts; it needs --average", .usage) }
            guard k >= 0, k < max(cfg.steps, 1) else { throw BackendError("--average-from must be in 0…\(max(cfg.steps - 1, 0)) (the run has \(cfg.steps) steps; got \(k))") }
        }
        if cfg.saveSamples == true {
            let values = Double(cfg.steps) * Double(cfg.batch ?? 1) * Double((cfg.d ?? NTKTrainConfig.defaultHarmonicD) + 1)
            guard values <= Double(RunHarness.keptInputValues) else {
                throw BackendError(String(format: "--save-samples would write %.3g values for %d steps; at most %d are kept", values, cfg.steps, RunHarness.keptInputValues), .usage)
            }
        }
        if let l = cfg.ridge, !(l >= 0 && l.isFinite) { throw BackendError("--ridge must be a non-negative number or auto (got \(l))") }
        if let t = cfg.testSize, t < SGDRates.folds { throw BackendError("--test-size must be at least \(SGDRates.folds) (one sample per fold; got \(t))") }
        guard cfg.steps < Int(UInt32.max) else { throw BackendError("--steps must be below 2^32 − 1 for SGD (each step has its own Philox step)") }
        if cfg.stream == true {
            if cfg.n != nil { throw BackendError("--n sets a data set's size; --stream draws fresh samples instead", .usage) }
            if cfg.xPath != nil || cfg.yPath != nil { throw BackendError("--x/--y give a data set; --stream draws fresh samples of the harmonic target instead", .usage) }
        }
        for (given, name) in [(cfg.gramEvery > 0, "--gram-every"), (cfg.spectrum == true, "--spectrum"),
                              (cfg.labelNoise != nil || cfg.randomLabels == true, "--label-noise/--random-labels")] where given {
            throw BackendError("\(name) belongs to the GD analysis; SGD runs do not compute it", .usage)
        }
    }

    /// GD's options that mean nothing there: refused rather than ignored.
    static func validateGD(_ cfg: NTKTrainConfig) throws {
        for (given, name) in [(cfg.batch != nil, "--batch"), (cfg.average != nil, "--average"), (cfg.averageFrom != nil, "--average-from"),
                              (cfg.stream != nil, "--stream"), (cfg.testSize != nil, "--test-size"),
                              (cfg.saveSamples != nil, "--save-samples"),
                              (cfg.ridge != nil || cfg.ridgeAuto != nil, "--ridge")] where given {
            throw BackendError("\(name) applies to SGD; add --optimizer sgd", .usage)
        }
    }

    /// Whether the run keeps w(0) for a ridge (a copy on the device unless the weights were given).
    static func ridges(_ cfg: NTKTrainConfig) -> Bool { cfg.ridgeAuto == true || (cfg.ridge ?? 0) > 0 }

    static func preflight(_ cfg: NTKTrainConfig, width: Int, capacity: Int, inputs: TrainInputs, on info: BackendInfo) throws {
        let given = inputs.initW != nil || inputs.initA != nil, d = inputs.d
        // The average's d (+ 1) values per neuron, and w(0) for a ridge unless the weights were given (and so stored).
        try TrainSetup.netPreflight(cfg, width: width, samples: capacity, inputs: inputs, on: info) { bytes in
            Double(((cfg.average == true ? d + (cfg.trainOutput ? 1 : 0) : 0) + (ridges(cfg) && !given ? d : 0)) * bytes)
        }
    }
}

/// One SGD run in precision T: the net on batches, the average of its iterates, and their test errors
/// against samples seen.
final class SGDTrainRun<T: Scalar>: SteppedRun {
    let setup: SGDSetup
    let control: RunControl
    let net: NTKTwoLayerNet<T>
    let average: IterateAverage<T>?
    var samples: SGDSamples
    /// Logged steps: about 20 a decade, so that rates read off a log-log plot have points at every scale.
    let logged: Set<Int>
    var history = SGDHistory()
    var reachedTarget: Int? = nil

    var command: String { "train" }
    var steps: Int { setup.cfg.steps }
    var backendInfo: BackendInfo? { setup.backend.info }
    var notes: [String] { setup.notes }
    var kernelBuildSeconds: Double? { setup.backend.info.kind == "opencl" ? setup.backend.buildSeconds : nil }

    init(_ setup: SGDSetup, _ control: RunControl) throws {
        self.setup = setup; self.control = control
        let cfg = setup.cfg, inputs = setup.inputs
        let firstRows = Array(inputs.x.prefix(min(setup.capacity, inputs.n) * inputs.d))
        net = try NTKTwoLayerNet<T>(backend: setup.backend, x: (firstRows + [Double](repeating: 0, count: setup.capacity * inputs.d - firstRows.count)).map { T($0) },
                                    n: setup.capacity, d: inputs.d, width: setup.width,
                                    initialisation: NTKTwoLayerNet<T>.initialisation(cfg, inputs, width: setup.width), trainOutput: cfg.trainOutput,
                                    blockWidth: cfg.blockWidth, outputScale: cfg.meanField ? 1 / Double(setup.width) : nil,
                                    exchange: Job.exchange)
        average = setup.averageFrom == nil ? nil : try IterateAverage(net)
        // The stream and the epochs' order follow the run's seed; the target and its test set the data seed,
        // so that runs of several seeds (sweep --seeds) see one target through different samples.
        samples = SGDSamples(setup.source, d: inputs.d, batch: setup.batch, seed: cfg.seed)
        logged = cfg.logEvery.map { every in Set(stride(from: 0, through: cfg.steps, by: every)) } ?? SGDTrainRun.logSpaced(cfg.steps)
    }

    static func logSpaced(_ steps: Int) -> Set<Int> {
        var out: Set<Int> = [0, steps]
        var j = 0
        while true {
            let k = Int(Foundation.pow(10, Double(j) / 20).rounded())
            if k > steps { break }
            out.insert(k); j += 1
        }
        return out
    }

    func config() -> JSONObject {
        let s = setup
        return s.cfg.json(resolved: [
            ("backend", .string(s.backend.info.kind)), ("device", .string(s.backend.info.deviceName)),
            ("driver", .string(s.backend.info.driver)), ("n", s.stream ? .null : .int(s.inputs.n)), ("d", .int(s.inputs.d)),
            ("width", .int(s.width)), ("blocks", .int(net.partition.count)), ("block_width", .int(net.partition.blockWidth)),
            ("optimizer", .string("sgd")), ("batch", .int(s.batch)), ("lr", .number(s.lr)),
            ("average_from", s.averageFrom.map { .int($0) } ?? .null), ("ridge", .number(s.ridge)), ("test_size", s.test.map { .int($0.count) } ?? .null),
            ("source", s.inputs.harmonic.map { .number($0.source) } ?? .null), ("noise", s.inputs.harmonic == nil ? .null : .number(s.cfg.noise ?? NTKTrainConfig.defaultNoise)),
            ("precision", .string(T.precision.rawValue)), ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null),
            ("notes", .array(s.notes.map { .string($0) })),
        ])
    }

    /// The target (harmonic.npy: ℓ, μ_ℓ, c_ℓ per degree; harmonic_direction.npy: ζ), the data set of
    /// an epoch run, the test set, and with --save-init w(0) and a(0).
    func writeInputs(in run: RunDirectory) throws {
        let d = setup.inputs.d
        if let target = setup.inputs.harmonic {
            try run.writeArray(target.degrees.indices.flatMap { [Double(target.degrees[$0]), target.eigenvalues[$0], target.coefficients[$0]] },
                               shape: [target.degrees.count, 3], to: "harmonic.npy")
            try run.writeArray(target.direction, shape: [d], to: "harmonic_direction.npy")
        }
        if !setup.stream, setup.inputs.n * d <= RunHarness.keptInputValues {
            try run.writeArray(setup.inputs.x, shape: [setup.inputs.n, d], to: "x.npy")
            try run.writeArray(setup.inputs.y, shape: [setup.inputs.n], to: "y.npy")
        }
        if let test = setup.test, test.count * d <= RunHarness.keptInputValues {
            try run.writeArray(test.x, shape: [test.count, d], to: "test_x.npy")
            try run.writeArray(test.y, shape: [test.count], to: "test_y.npy")
        }
        if setup.cfg.saveInit {
            let (w, a) = try net.weights()
            try run.writeArray(w, shape: [setup.width, d], to: "w0.npy")
            try run.writeArray(a, shape: [setup.width], to: "a0.npy")
        }
    }

    /// The SGD step on batch k: e = (u − y)/B, so that the step follows the mean of the batch's gradients;
    /// then the average takes the new iterate once past --average-from.
    func advance(from k: Int) throws {
        let b = samples.batch(k)
        try net.setSamples(b.x.map { T($0) }, count: setup.batch)
        let u = try net.forward()
        let scale = 1 / Double(setup.batch), step = setup.cfg.meanField ? setup.lr * Double(setup.width) : setup.lr
        if setup.ridge > 0 { try net.pullTowardInitial(step * setup.ridge) }
        try net.update(residual: zip(u, b.y).map { ($0 - $1) * scale }, learningRate: step)
        if let average, let from = setup.averageFrom, k + 1 > from { try average.add() }
    }

    /// f on rows x (count×d) in chunks of the input buffer; `averaged`: with the averaged weights.
    func outputs(_ x: [Double], count: Int, averaged: Bool) throws -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(count)
        let d = setup.inputs.d
        for start in stride(from: 0, to: count, by: setup.capacity) {
            let rows = min(setup.capacity, count - start)
            try net.setSamples(x[(start * d)..<((start + rows) * d)].map { T($0) }, count: rows)
            out += averaged ? try average!.forward() : try net.forward()
        }
        return out
    }

    /// Mean squared error against y on each of SGDRates.folds folds (test point i in fold i mod folds).
    static func foldErrors(_ f: [Double], _ y: [Double]) -> [Double] {
        let k = SGDRates.folds
        var sums = [Double](repeating: 0, count: k), counts = sums
        for i in f.indices { sums[i % k] += (f[i] - y[i]) * (f[i] - y[i]); counts[i % k] += 1 }
        return zip(sums, counts).map { $0 / $1 }
    }

    func observe(_ k: Int) throws -> Observation {
        let isRow = logged.contains(k) || k == steps
        // A stream's loss is the last iterate's test error, so it is measured at every logged step only;
        // an epoch run's loss is ½‖u − y‖² over its data set, as in GD.
        guard isRow || (setup.cfg.targetLoss != nil && !setup.stream) else { return Observation(loss: nil, row: nil) }
        var row = JSONObject()
        row.set("step", k); row.set("samples", k * setup.batch)
        var loss: Double
        var testLast: [Double]? = nil, testAverage: [Double]? = nil
        if let test = setup.test {
            testLast = SGDTrainRun.foldErrors(try outputs(test.x, count: test.count, averaged: false), test.y)
            if let average, average.terms > 0 { testAverage = SGDTrainRun.foldErrors(try outputs(test.x, count: test.count, averaged: true), test.y) }
        }
        if setup.stream {
            loss = testLast!.reduce(0, +) / Double(SGDRates.folds)
        } else {
            let u = try outputs(setup.inputs.x, count: setup.inputs.n, averaged: false)
            loss = 0.5 * zip(u, setup.inputs.y).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            if let average, average.terms > 0 {
                let ua = try outputs(setup.inputs.x, count: setup.inputs.n, averaged: true)
                row.set("loss_average", 0.5 * zip(ua, setup.inputs.y).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) })
            }
        }
        guard loss.isFinite else { return Observation(loss: loss, row: nil) }
        if reachedTarget == nil, let target = setup.cfg.targetLoss, loss <= target { reachedTarget = k }
        guard isRow || reachedTarget == k else { return Observation(loss: loss, row: nil) }
        row.set("loss", loss)
        if let testLast {
            row.set("test_error", testLast.reduce(0, +) / Double(SGDRates.folds))
            row["test_error_folds"] = .array(testLast.map { .number($0) })
        }
        if let testAverage {
            row.set("test_error_average", testAverage.reduce(0, +) / Double(SGDRates.folds))
            row["test_error_average_folds"] = .array(testAverage.map { .number($0) })
        }
        let move = try net.diagnostics().maxMove
        row.set("max_move", move)
        history.record(row)
        return Observation(loss: loss, row: row)
    }

    func reachedEnd(at k: Int) -> Bool { reachedTarget != nil }

    func restore(_ cp: Checkpoint, in run: URL, rows: [JSONObject]) throws {
        let d = setup.inputs.d, own = net.ownUnits.count
        let w = try cp.array("w", in: run), a = try cp.array("a", in: run)
        guard w.shape == [own, d], a.shape == [own] else {
            throw WideNetIOError("the checkpoint in \(run.path) does not match the run's shapes (width \(setup.width))")
        }
        try net.setOwnWeights(w: w.values.map { T($0) }, a: a.values.map { T($0) })
        if let average {
            let wa = try cp.array("w_average", in: run), aa = try cp.array("a_average", in: run)
            guard wa.shape == [own, d], aa.shape == [own], let terms = cp.integers["average_terms"] else {
                throw WideNetIOError("the checkpoint in \(run.path) lacks the averaged iterate the run needs")
            }
            try average.restore(w: wa.values.map { T($0) }, a: aa.values.map { T($0) }, terms: terms)
        }
        history = SGDHistory()
        for row in rows { history.record(row) }
    }

    func checkpointArrays(_ cp: inout Checkpoint) throws -> [(name: String, npy: Data)] {
        let (w, a) = try net.ownWeights(), own = net.ownUnits.count, d = setup.inputs.d
        var out = [Checkpoint.array("w", w, shape: [own, d]), Checkpoint.array("a", a, shape: [own])]
        if let average {
            let (wa, aa) = try average.ownValues()
            cp.integers["average_terms"] = average.terms
            out += [Checkpoint.array("w_average", wa, shape: [own, d]), Checkpoint.array("a_average", aa, shape: [own])]
        }
        return out
    }

    var checkpointSize: (bytes: Double, grows: (name: String, value: Int)?) {
        let (m, d) = (Double(setup.width), Double(setup.inputs.d))
        return ((m * d + m) * Double(MemoryLayout<T>.stride) * (average == nil ? 1 : 2), ("width", setup.width))
    }

    func initialFailure() -> String { "the initial weights (κ = \(setup.cfg.kappa)) or the data overflow" }
    func divergenceHint() -> String { String(format: "η = %.4g; each sample's kernel step is stable for η < 4 (2/H∞(x, x)); try a smaller --lr", setup.lr) }
    func synchronize() throws { try setup.backend.synchronize() }

    func finish(in run: RunDirectory) throws -> JSONObject {
        let (d, width) = (setup.inputs.d, setup.width)
        if setup.cfg.saveWeights {
            let (w, a) = try net.weights()
            try run.writeArray(w, shape: [width, d], to: "w.npy")
            try run.writeArray(a, shape: [width], to: "a.npy")
            if let average {
                let (wa, aa) = try average.values()
                try run.writeArray(wa, shape: [width, d], to: "w_average.npy")
                try run.writeArray(aa, shape: [width], to: "a_average.npy")
            }
        }
        if setup.cfg.saveSamples == true {
            // Regenerated from their counters: the same samples whether or not the run was resumed.
            var again = SGDSamples(setup.source, d: d, batch: setup.batch, seed: samples.seed)
            var xs: [Double] = [], ys: [Double] = []
            for k in 0..<steps { let b = again.batch(k); xs += b.x; ys += b.y }
            try run.writeArray(xs, shape: [steps * setup.batch, d], to: "samples_x.npy")
            try run.writeArray(ys, shape: [steps * setup.batch], to: "samples_y.npy")
        }
        let target = setup.inputs.harmonic, noise = setup.cfg.noise ?? NTKTrainConfig.defaultNoise
        let total = steps * setup.batch
        let window = [Int((Double(total) / Foundation.pow(10, SGDRates.windowDecades)).rounded(.up)), total]
        // The averaged iterate starts after --average-from updates: its fit starts there too; the last iterate's does not.
        let fromSamples = (setup.averageFrom ?? 0) * setup.batch
        let averageWindow = [max(window[0], fromSamples + 1), total]
        let rate = { (folds: [[Double]], t: [Double], from: Int) -> FittedValue? in
            let kept = t.indices.filter { t[$0] >= Double(max(from, 1)) }
            guard !folds.isEmpty, !kept.isEmpty else { return nil }
            return SGDRates.fit(t: kept.map { t[$0] }, folds: (0..<SGDRates.folds).map { f in kept.map { folds[$0][f] } }, seed: self.setup.cfg.seed)
        }
        let h = history
        return try ConfigCoding.object(SGDSummary(
            precision: T.precision.rawValue, n: setup.stream ? nil : setup.inputs.n, d: d, width: width, steps: steps, batch: setup.batch,
            samplesSeen: total, lr: setup.lr, averageFrom: setup.averageFrom, ridge: setup.ridge, finalLoss: h.loss.last,
            finalTestError: h.testError.last, finalTestErrorAverage: h.testErrorAverage.last?.value,
            rateLast: h.testFolds.isEmpty ? nil : rate(h.testFolds, h.samples, window[0]),
            rateAverage: h.testFoldsAverage.isEmpty ? nil : rate(h.testFoldsAverage.map(\.folds), h.testErrorAverage.map(\.samples), averageWindow[0]),
            rateWindow: setup.test == nil ? nil : window,
            rateWindowAverage: setup.test == nil || setup.averageFrom == nil ? nil : averageWindow,
            capacity: target?.capacity, source: target?.source, noise: target == nil ? nil : noise,
            rateTheoryAverage: target.map { SGDRates.averaged(capacity: $0.capacity, source: $0.source, noisy: noise > 0) },
            rateOptimal: target.map { SGDRates.optimal(capacity: $0.capacity, source: $0.source) },
            rateTheoryLast: target != nil && noise > 0 ? 0 : nil,
            finalMaxMove: h.move.last, targetLoss: setup.cfg.targetLoss, targetReachedAt: reachedTarget,
            curveSamples: h.testError.isEmpty ? nil : h.samples, curveLast: h.testError.isEmpty ? nil : h.testError,
            curveAverage: h.testError.isEmpty ? nil : h.samples.map { t in h.testErrorAverage.first { $0.samples == t }?.value }))
    }
}

/// The logged series of an SGD run, as its summary fits and its report draws them.
public struct SGDHistory {
    public var steps: [Double] = [], samples: [Double] = [], loss: [Double] = [], move: [Double] = []
    public var testError: [Double] = [], testFolds: [[Double]] = []
    /// The averaged iterate's, from the first row after averaging began.
    public var testErrorAverage: [(samples: Double, value: Double)] = [], testFoldsAverage: [(samples: Double, folds: [Double])] = []
    public init() {}
    public init(rows: [JSONObject]) { for row in rows { record(row) } }

    public mutating func record(_ row: JSONObject) {
        guard let k = row["step"]?.numeric, let loss = row["loss"]?.numeric else { return }
        let t = row["samples"]?.numeric ?? k
        steps.append(k); samples.append(t); self.loss.append(loss); move.append(row["max_move"]?.numeric ?? .nan)
        if let e = row["test_error"]?.numeric { testError.append(e) }
        if case .array(let f)? = row["test_error_folds"] { testFolds.append(f.map { $0.numeric ?? .nan }) }
        if let e = row["test_error_average"]?.numeric { testErrorAverage.append((t, e)) }
        if case .array(let f)? = row["test_error_average_folds"] { testFoldsAverage.append((t, f.map { $0.numeric ?? .nan })) }
    }
}
