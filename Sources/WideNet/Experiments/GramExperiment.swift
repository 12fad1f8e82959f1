import Foundation

/// `widenet gram`: the infinite-width kernel H∞ of some inputs, its spectrum and λ0, and with a
/// width the empirical H(0) of a random net and its distance to H∞.
public enum GramExperiment {
    public struct Config: Sendable, Codable {
        public var xPath: String? = nil
        public var n: Int? = nil, d: Int? = nil
        public var width: Int? = nil
        /// The seed as config.json keeps it: the 64 bits as a signed integer (JSON readers stop at 2^63).
        var seedBits: Int64 = 0
        public var seed: UInt64 { get { UInt64(bitPattern: seedBits) } set { seedBits = Int64(bitPattern: newValue) } }
        public var kappa = 1.0
        public var backend: BackendKind = .auto
        public var device: String? = nil
        public var precision: Precision = .f32
        public var out: String? = nil
        /// full (LAPACK, every eigenvalue), lanczos (the few smallest, certified) or auto (full up to n = 4096).
        public var eigensolver: GramEigensolver = .auto
        /// Where H∞ lives for Lanczos: stored n×n, free (tiles recomputed in each product) or auto (stored if it fits).
        public var matrix: GramMatrixMode = .auto
        /// Lanczos: how many of the smallest eigenvalues (default 6), the relative residual to stop at
        /// (default 1e-10) and the largest Krylov dimension (default 1024).
        public var eigenvalues: Int? = nil, tolerance: Double? = nil, maxDimension: Int? = nil
        /// Lanczos: vectors per block (default 8 stored, 16 matrix-free, where each pass over the tiles serves the whole block).
        public var block: Int? = nil
        /// Hidden weights (m×d .npy) whose net's empirical kernel replaces a random net's H(0); sets the width.
        public var weightsPath: String? = nil
        /// --quiet: no progress lines (not recorded: it does not change the numbers).
        public var quiet = false
        public init() {}

        enum CodingKeys: String, CodingKey {
            case xPath = "x", n, d, width, seedBits = "seed", kappa, backend, device, precision, out, weightsPath = "weights"
            case eigensolver, matrix, eigenvalues, tolerance, maxDimension = "max_dimension", block
        }
    }

    /// summary.json of `widenet gram` (its own fields; RunSummary adds the common ones).
    public struct Summary: Codable, Sendable {
        public var n: Int, d: Int
        public var lambda0: Double?, lambdaMax: Double?, conditionNumber: Double?
        /// With --width: the empirical H(0) of one random net against H∞.
        public var width: Int?, gramDeviationFrobenius: Double?, gramDeviationSpectral: Double?, lambdaMinH0: Double?
        /// λ_i ≈ C·i^(−α) in rank order, with its standard error.
        public var spectrumDecay: SpectrumDecay?
        /// The Lanczos eigensolver (absent after a full decomposition): λ0's certified error and interval
        /// ("interval": no eigenvalue below lambda0_lower; "nearest": only an eigenvalue within the error),
        /// the few smallest eigenvalues with their residuals, the work done and its time (the harness adds peak_resident_bytes).
        public var eigensolver: String? = nil, matrix: String? = nil, method: String? = nil
        public var lambda0Error: Double? = nil, lambda0Lower: Double? = nil, lambda0Upper: Double? = nil, certificate: String? = nil
        public var smallestEigenvalues: [Double]? = nil, residuals: [Double]? = nil
        public var krylovDimension: Int? = nil, blockProducts: Int? = nil, vectorProducts: Int? = nil, factorisations: Int? = nil
        public var converged: Bool? = nil, seconds: Double? = nil, lambdaMinH0Error: Double? = nil

        enum CodingKeys: String, CodingKey {
            case n, d, lambda0, lambdaMax = "lambda_max", conditionNumber = "condition_number", width
            case gramDeviationFrobenius = "gram_deviation_frobenius", gramDeviationSpectral = "gram_deviation_spectral"
            case lambdaMinH0 = "lambda_min_h0", spectrumDecay = "spectrum_decay"
            case eigensolver, matrix, method, lambda0Error = "lambda0_error", lambda0Lower = "lambda0_lower", lambda0Upper = "lambda0_upper"
            case certificate, smallestEigenvalues = "smallest_eigenvalues", residuals, krylovDimension = "krylov_dimension"
            case blockProducts = "block_products", vectorProducts = "vector_products", factorisations, converged, seconds
            case lambdaMinH0Error = "lambda_min_h0_error"
        }
    }

    /// The eigensolver at n×d inputs, after the memory preflight of the path it takes.
    static func eigensolver(_ cfg: Config, n: Int, d: Int) throws -> GramEigensolver {
        if let w = cfg.width, w < 1 { throw BackendError("--width must be at least 1 (got \(w))") }
        let eigensolver: GramEigensolver = cfg.eigensolver == .auto
            ? (n <= GramScale.fullLimit && cfg.matrix != .free ? .full : .lanczos) : cfg.eigensolver
        if eigensolver == .full && cfg.matrix == .free {
            throw BackendError("--matrix free conflicts with --eigensolver full: a full decomposition needs the stored matrix")
        }
        if eigensolver == .lanczos {
            _ = try GramScale.resolveMode(try GramScale.askedMode(cfg), n: n, d: d, maxDimension: cfg.maxDimension ?? 1024,
                                          workers: ProcessInfo.processInfo.activeProcessorCount)
        } else {
            // The input Gram, H∞ and the eigen-solver's copy; with --width also H(0), its counts and H(0) − H∞.
            try MemoryPreflight.requireSquare(cfg.width == nil ? 3 : 7, n: n, for: "gram")
        }
        return eigensolver
    }

    public static func run(_ cfg: Config) throws -> RunOutcome {
        var train = NTKTrainConfig()
        train.xPath = cfg.xPath
        train.n = cfg.n; train.d = cfg.d; train.seed = cfg.seed
        var inputs: TrainInputs
        if let xp = cfg.xPath {
            // Only X matters here; labels are not needed.
            let xa = try NPY.read(URL(fileURLWithPath: xp))
            guard xa.shape.count == 2, xa.shape[0] >= 1, xa.shape[1] >= 1 else {
                throw BackendError("\(xp): X must be a non-empty 2-D array (n×d), got shape \(xa.shape)")
            }
            let tmpY = [Double](repeating: 0, count: xa.shape[0])
            inputs = try TrainInputs.checked(x: xa.values, y: tmpY, n: xa.shape[0], d: xa.shape[1], name: xp)
            if let n = cfg.n, n != inputs.n { throw BackendError("--n \(n) disagrees with \(xp), which has \(inputs.n) rows") }
            if let d = cfg.d, d != inputs.d { throw BackendError("--d \(d) disagrees with \(xp), which has \(inputs.d) columns") }
        } else {
            // The size is known before the points are drawn: a size that does not fit is refused first.
            _ = try eigensolver(cfg, n: cfg.n ?? NTKTrainConfig.defaultN, d: cfg.d ?? NTKTrainConfig.defaultD)
            train.dataset = .sphere
            inputs = try TrainInputs.load(train)
        }
        let (n, d) = (inputs.n, inputs.d)
        var notes = inputs.notes
        var cfg = cfg
        let net = try EmpiricalNet.of(&cfg, d: d)
        if let path = cfg.weightsPath {
            notes.append("the empirical kernel is that of the net with the hidden weights of \(path) (m = \(net.width)): its masks 1[w_rᵀx_i ≥ 0], "
                + "H(t) of a trained net; the summary's *_h0 fields and gram_0.npy hold it")
        }
        if try eigensolver(cfg, n: n, d: d) == .lanczos { return try GramScale.run(cfg, inputs: inputs, net: net, notes: notes) }
        let kernel = try InfiniteWidthKernel(x: inputs.x, n: n, d: d)
        let (xx, hInf, eig) = (kernel.inputGram, kernel.matrix, kernel.eigenvalues)

        var backendInfo: BackendInfo? = nil
        var h0: [Double]? = nil
        if let m = cfg.width {
            let choice = try BackendSelection.make(kind: cfg.backend, device: cfg.device, precision: cfg.precision)
            if let note = choice.note { notes.insert(note, at: 0) }
            backendInfo = choice.backend.info
            h0 = try empiricalGram(choice.backend, inputs: inputs, net: net, cfg: cfg, xx: xx)
        }
        let decay = try SpectrumDecay.estimate(eigenvalues: eig, x: inputs.x, n: n, d: d, seed: cfg.seed) { sub, m in
            try InfiniteWidthKernel(x: sub, n: m, d: d).eigenvalues
        }
        if let decay, decay.movesWithN == true, let half = decay.subsampleMean {
            notes.append(String(format: "the decay exponent still moves with n: α = %.4g at n = %d, %.4g on average at n/2; its interval is the "
                + "sampling spread at this n, not the limit (on the sphere d/(d−1) = %.4g)", decay.exponent, n, half, Double(d) / Double(max(d - 1, 1))))
        }
        if let l0 = eig.first, let top = eig.last, l0 <= Double(n) * .ulpOfOne * top {
            notes.append(String(format: "λ0 = %.3g is zero to rounding (at most n·ε·λ_max = %.3g): some inputs are parallel or repeated, "
                + "where the NTK theory does not apply (`widenet train` refuses them)", l0, Double(n) * .ulpOfOne * top))
        }
        if cfg.width == nil && (cfg.backend == .opencl || cfg.device != nil) {
            notes.append("H∞ and its eigenvalues are computed on the host in f64: --backend and --device apply to H(0) (--width, --weights) "
                + "and to matrix-free Lanczos products")
        }
        let result = GramResult(cfg: cfg, n: n, d: d, hInf: hInf, eig: eig, h0: h0, decay: decay, backendInfo: backendInfo, notes: notes)
        result.x = inputs.x
        // One observation and no steps: the harness still claims the directory, writes config.json,
        // the summary and the report.
        return try RunHarness.run(command: "gram", out: cfg.out, control: RunControl(checkpoints: false), quiet: true) { _, _ in result }
    }

    /// x.npy: the rows H∞ was computed from (unit norm), up to RunHarness.keptInputValues values, so
    /// that the kernel can be recomputed from the run directory alone.
    static func keepInputs(_ x: [Double], n: Int, d: Int, in run: RunDirectory) throws {
        guard !x.isEmpty, n * d <= RunHarness.keptInputValues else { return }
        try run.writeArray(x, shape: [n, d], to: "x.npy")
    }

    static func empiricalGram(_ backend: any Backend, inputs: TrainInputs, net given: EmpiricalNet, cfg: Config, xx: [Double]) throws -> [Double] {
        func build<T: Scalar>(_: T.Type) throws -> [Double] {
            try given.make(T.self, on: backend, inputs: inputs, cfg: cfg).empiricalGram(inputGram: xx)
        }
        return cfg.precision == .f32 ? try build(Float.self) : try build(Double.self)
    }
}

/// The kernels of `widenet gram`, computed before the directory exists, as a run of no steps.
final class GramResult: SteppedRun {
    let cfg: GramExperiment.Config
    let n: Int, d: Int
    let hInf: [Double], eig: [Double], h0: [Double]?
    let decay: SpectrumDecay?
    let backendInfo: BackendInfo?
    let notes: [String]
    var deviation: (fro: Double, spectral: Double, lambdaMin: Double)?

    var command: String { "gram" }
    var steps: Int { 0 }
    /// The rows as used (unit norm), kept as x.npy.
    var x: [Double] = []

    func writeInputs(in run: RunDirectory) throws { try GramExperiment.keepInputs(x, n: n, d: d, in: run) }

    init(cfg: GramExperiment.Config, n: Int, d: Int, hInf: [Double], eig: [Double], h0: [Double]?, decay: SpectrumDecay?,
         backendInfo: BackendInfo?, notes: [String]) {
        self.cfg = cfg; self.n = n; self.d = d; self.hInf = hInf; self.eig = eig; self.h0 = h0; self.decay = decay
        self.backendInfo = backendInfo; self.notes = notes
    }

    func config() -> JSONObject {
        RecordedConfig.json(command: "gram", options: cfg, resolved: [
            ("n", .int(n)), ("d", .int(d)), ("backend", backendInfo.map { .string($0.kind) } ?? .null),
            ("device", backendInfo.map { .string($0.deviceName) } ?? .null), ("notes", .array(notes.map { .string($0) })),
        ])
    }

    func observe(_ k: Int) throws -> Observation {
        var row = JSONObject()
        row.set("step", 0)
        row["loss"] = .null
        row.set("lambda0", eig.first ?? .nan)
        if let h0, let m = cfg.width {
            let diff = zip(h0, hInf).map { $0 - $1 }
            let fro = diff.map { $0 * $0 }.reduce(0, +).squareRoot()
            let spectral = try SymmetricEigen.eigenvalues(diff, n: n).map(abs).max() ?? .nan
            let l0 = try SymmetricEigen.eigenvalues(h0, n: n).first ?? .nan
            deviation = (fro, spectral, l0)
            row.set("width", m); row.set("gram_deviation_frobenius", fro); row.set("lambda_min_h0", l0)
        }
        return Observation(loss: nil, row: row)
    }

    func advance(from k: Int) throws {}

    func finish(in run: RunDirectory) throws -> JSONObject {
        try run.writeArray(hInf, shape: [n, n], to: "gram_inf.npy")
        try run.writeArray(eig, shape: [n], to: "gram_inf_eigenvalues.npy")
        if let h0, cfg.width != nil { try run.writeArray(h0, shape: [n, n], to: "gram_0.npy") }
        return try ConfigCoding.object(GramExperiment.Summary(
            n: n, d: d, lambda0: eig.first, lambdaMax: eig.last, conditionNumber: (eig.last ?? .nan) / (eig.first ?? .nan),
            width: deviation == nil ? nil : cfg.width, gramDeviationFrobenius: deviation?.fro,
            gramDeviationSpectral: deviation?.spectral, lambdaMinH0: deviation?.lambdaMin, spectrumDecay: decay,
            eigensolver: "full", matrix: "stored", method: "LAPACK dsyevd (every eigenvalue)"))
    }
}

/// The net whose empirical kernel gram computes: a random one (--width, --seed, --kappa) or the one
/// of given hidden weights (--weights, which sets the width). Only the masks 1[w_rᵀx_i ≥ 0] matter,
/// so the output weights of a given net are set to 1.
struct EmpiricalNet {
    let width: Int
    let weights: [Double]?

    /// Reads --weights (if any) for inputs of d columns and sets cfg.width from it.
    static func of(_ cfg: inout GramExperiment.Config, d: Int) throws -> EmpiricalNet {
        guard let path = cfg.weightsPath else { return EmpiricalNet(width: cfg.width ?? 0, weights: nil) }
        let w = try NPY.read(URL(fileURLWithPath: path))
        guard w.shape.count == 2, w.shape[0] >= 1 else { throw BackendError("\(path): W must be a non-empty 2-D array (m×d), got shape \(w.shape)") }
        guard w.shape[1] == d else { throw BackendError("\(path): W has \(w.shape[1]) columns but the inputs have d = \(d)") }
        guard w.values.allSatisfy(\.isFinite) else { throw BackendError("\(path): W has NaN or infinite entries") }
        if let m = cfg.width, m != w.shape[0] { throw BackendError("--width \(m) disagrees with \(path), which has \(w.shape[0]) rows") }
        cfg.width = w.shape[0]
        return EmpiricalNet(width: w.shape[0], weights: w.values)
    }

    /// The net on `backend` after one forward pass (its masks set), past the memory preflight; in a job
    /// of ranks each holds its share of the blocks.
    func make<T: Scalar>(_: T.Type, on backend: any Backend, inputs: TrainInputs, cfg: GramExperiment.Config) throws -> NTKTwoLayerNet<T> {
        let share = Job.share(of: NTKTwoLayerNet<T>.partition(width: width, n: inputs.n, d: inputs.d))
        // Given arrays are kept as the net's initial weights too.
        try NTKTwoLayerNet<T>.preflight(width: width, share: share, n: inputs.n, d: inputs.d, storesInitialWeights: weights != nil, on: backend.info)
        let initialisation: NTKTwoLayerNet<T>.Initialisation = weights.map { .arrays(w: $0.map { T($0) }, a: [T](repeating: 1, count: width)) }
            ?? .random(seed: cfg.seed, kappa: cfg.kappa)
        let net = try NTKTwoLayerNet<T>(backend: backend, x: inputs.x.map { T($0) }, n: inputs.n, d: inputs.d, width: width,
                                        initialisation: initialisation, exchange: Job.exchange)
        _ = try net.forward()
        return net
    }
}
