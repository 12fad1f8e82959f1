import Foundation

/// The data and initial weights of a `widenet train` run, loaded and checked before anything is
/// written: every problem is a one-line error naming the file or option.
struct TrainInputs {
    var x: [Double]                // n×d, unit rows
    var y: [Double]                // n
    var n: Int, d: Int
    var initW: [Double]? = nil     // m×d
    var initA: [Double]? = nil     // m
    var width: Int?                // from the arrays or --width
    var teacher: [Double]? = nil   // the teacher's hidden weights (k×d), for --dataset teacher
    var harmonic: HarmonicTarget? = nil   // the target function of --dataset harmonic
    var notes: [String] = []

    static func load(_ cfg: NTKTrainConfig) throws -> TrainInputs {
        let usesFiles = cfg.xPath != nil || cfg.yPath != nil
        let kind = cfg.dataset ?? (usesFiles ? .file : .sphere)
        var inputs: TrainInputs
        switch kind {
        case .file:
            guard let xp = cfg.xPath, let yp = cfg.yPath else {
                throw BackendError("--dataset file needs both --x X.npy (n×d) and --y y.npy (n)")
            }
            inputs = try fromFiles(x: xp, y: yp)
            if let n = cfg.n, n != inputs.n { throw BackendError("--n \(n) disagrees with \(xp), which has \(inputs.n) rows") }
            if let d = cfg.d, d != inputs.d { throw BackendError("--d \(d) disagrees with \(xp), which has \(inputs.d) columns") }
        case .sphere, .teacher, .harmonic:
            if usesFiles { throw BackendError("--x/--y give file data; they cannot be used with --dataset \(kind.rawValue)") }
            let n = cfg.n ?? NTKTrainConfig.defaultN
            let d = cfg.d ?? (kind == .harmonic ? NTKTrainConfig.defaultHarmonicD : NTKTrainConfig.defaultD)
            guard n >= 1 else { throw BackendError("--n must be at least 1 (got \(n))") }
            guard d >= 1 else { throw BackendError("--d must be at least 1 (got \(d))") }
            guard n.multipliedReportingOverflow(by: d).overflow == false, n * d <= 1 << 28 else {
                throw BackendError("--n \(n) × --d \(d) is too large for the data matrix")
            }
            let seed = cfg.dataSeed ?? cfg.seed
            switch kind {
            case .harmonic:
                if let sigma = cfg.noise, !(sigma >= 0 && sigma.isFinite) { throw BackendError("--noise must be a non-negative number (got \(sigma))") }
                let target = try HarmonicTarget(d: d, source: cfg.source ?? 1 / Double(2 * d),
                                                maxDegree: cfg.degrees ?? HarmonicTarget.defaultMaxDegree, seed: seed)
                let x = SyntheticData.sphere(n: n, d: d, seed: seed).x
                inputs = TrainInputs(x: x, y: target.labels(x, n: n, noise: cfg.noise ?? NTKTrainConfig.defaultNoise, seed: seed, step: 0),
                                     n: n, d: d, width: nil)
                inputs.harmonic = target
            default:
                let data = kind == .sphere ? SyntheticData.sphere(n: n, d: d, seed: seed) : SyntheticData.teacher(n: n, d: d, seed: seed)
                inputs = TrainInputs(x: data.x, y: data.y, n: n, d: d, width: nil)
                if kind == .teacher {
                    let teacher = SyntheticData.teacherWeights(d: d, seed: seed)
                    inputs.teacher = teacher
                    if teacher.count / d >= d {
                        inputs.notes.append("the teacher's \(teacher.count / d) units span all of R^\(d): teacher_alignment is 1 for any weights "
                            + "(it measures alignment only for d above the teacher's width)")
                    }
                }
            }
        }
        if kind != .harmonic {
            for (given, name) in [(cfg.source != nil, "--source"), (cfg.degrees != nil, "--degrees"), (cfg.noise != nil, "--noise")] where given {
                throw BackendError("\(name) shapes the harmonic target; it needs --dataset harmonic (the data set is \(kind.rawValue))", .usage)
            }
        }
        try inputs.corruptLabels(cfg)
        try inputs.loadInitialWeights(cfg)
        if let w = cfg.width {
            guard w >= 1 else { throw BackendError("--width must be at least 1 (got \(w))") }
            if let m = inputs.width, m != w {
                throw BackendError("--width \(w) disagrees with the initial weights, which have \(m) rows")
            }
            inputs.width = w
        }
        return inputs
    }

    static func fromFiles(x xp: String, y yp: String) throws -> TrainInputs {
        let xa = try NPY.read(URL(fileURLWithPath: xp)), ya = try NPY.read(URL(fileURLWithPath: yp))
        guard xa.shape.count == 2 else { throw BackendError("\(xp): X must be 2-D (n×d), got shape \(xa.shape)") }
        let (n, d) = (xa.shape[0], xa.shape[1])
        guard n >= 1, d >= 1 else { throw BackendError("\(xp): X is empty (shape \(xa.shape))") }
        guard ya.shape == [n] || ya.shape == [n, 1] else {
            throw BackendError("\(yp): y must have shape (\(n),) to match the \(n) rows of X, got \(ya.shape)")
        }
        if let i = ya.values.firstIndex(where: { !$0.isFinite }) {
            throw BackendError("\(yp): y has a non-finite value (\(ya.values[i])) at index \(i)")
        }
        return try checked(x: xa.values, y: ya.values, n: n, d: d, name: xp)
    }

    /// Rejects non-finite or zero rows and scales the rows of X to unit norm, saying so.
    static func checked(x: [Double], y: [Double], n: Int, d: Int, name: String) throws -> TrainInputs {
        if let i = x.firstIndex(where: { !$0.isFinite }) {
            throw BackendError("\(name): X has a non-finite value (\(x[i])) at row \(i / d), column \(i % d)")
        }
        var inputs = TrainInputs(x: x, y: y, n: n, d: d, width: nil)
        var rescaled = 0
        for i in 0..<n {
            let (scale, norm) = SyntheticData.scaledNorm(x, row: i, d: d)
            guard norm > 0 else { throw BackendError("\(name): row \(i) of X is zero; inputs must be nonzero (they are scaled to unit norm)") }
            if abs(scale * norm - 1) > 1e-6 { rescaled += 1 }
        }
        if rescaled > 0 {
            inputs.x = SyntheticData.unitRows(x, n: n, d: d)
            inputs.notes.append("scaled \(rescaled) of \(n) rows of X to unit norm (the theory assumes ‖x_i‖ = 1)")
        }
        return inputs
    }

    /// --label-noise p / --random-labels (LabelNoise), from the data seed, saying what changed.
    mutating func corruptLabels(_ cfg: NTKTrainConfig) throws {
        if cfg.randomLabels == true, let p = cfg.labelNoise, p != 1 {
            throw BackendError("--random-labels replaces every label (--label-noise 1); it contradicts --label-noise \(p)", .usage)
        }
        let p = cfg.randomLabels == true ? 1 : cfg.labelNoise ?? 0
        guard p >= 0 && p <= 1 else { throw BackendError("--label-noise must be a probability in [0, 1] (got \(p))") }
        guard p > 0 else { return }
        let r = LabelNoise.corrupt(y, probability: p, seed: cfg.dataSeed ?? cfg.seed)
        y = r.labels
        let kind = r.classes.map { "classes \($0.map { String(format: "%g", $0) }.joined(separator: ", "))" }
            ?? "labels of other samples: the targets are not a classification"
        notes.append("label noise \(String(format: "%g", p)): \(r.drawn) of \(n) labels drawn at random (\(kind)), \(r.changed) of them changed")
    }

    mutating func loadInitialWeights(_ cfg: NTKTrainConfig) throws {
        if let wp = cfg.initWPath {
            let wa = try NPY.read(URL(fileURLWithPath: wp))
            guard wa.shape.count == 2, wa.shape[1] == d else {
                throw BackendError("\(wp): initial W must be m×\(d) (d from the data), got shape \(wa.shape)")
            }
            guard wa.shape[0] >= 1 else { throw BackendError("\(wp): initial W has no rows (width 0)") }
            if let i = wa.values.firstIndex(where: { !$0.isFinite }) {
                throw BackendError("\(wp): W has a non-finite value at row \(i / d)")
            }
            initW = wa.values
            width = wa.shape[0]
        }
        if let ap = cfg.initAPath {
            let aa = try NPY.read(URL(fileURLWithPath: ap))
            guard aa.shape.count == 1 || (aa.shape.count == 2 && aa.shape[1] == 1), aa.count >= 1 else {
                throw BackendError("\(ap): initial a must be a vector of length m, got shape \(aa.shape)")
            }
            if let m = width, m != aa.count {
                throw BackendError("\(ap): a has \(aa.count) entries but W has \(m) rows")
            }
            if let i = aa.values.firstIndex(where: { !$0.isFinite }) {
                throw BackendError("\(ap): a has a non-finite value at index \(i)")
            }
            initA = aa.values
            width = aa.count
        }
    }
}
