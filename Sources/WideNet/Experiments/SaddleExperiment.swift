import CBLAS
import Foundation

/// `widenet saddle`: plateaus and saddle-to-saddle dynamics of a small-initialisation two-layer net
/// (ARCHITECTURE.md §1.3: Jacot et al.; Amari; Arata): the loss in stages, the rank of the learned map rising by
/// one at each drop, and Amari's singular regions (dead and near-duplicate units).
public enum SaddleExperiment {
    public struct Config: Sendable, Codable {
        public var n = 1000, d = 10, k = 5, hidden = 20
        public var initScale = 1e-6
        public var teacherRank = 5
        public var singularValues: [Double] = [10, 8, 6, 4, 2]
        /// Standard deviation of Gaussian noise added to the teacher's outputs (nil: none), so that the
        /// last minimum has a positive loss: the Eckart–Young residual of the rank the net can reach.
        public var labelNoise: Double? = nil
        public var activation: Activation = .linear
        public var optimizer: Optimizer = .gd
        public var steps = 3000
        public var learningRate = 0.02
        /// The seed as config.json keeps it: the 64 bits as a signed integer (JSON readers stop at 2^63).
        var seedBits: Int64 = 0
        public var seed: UInt64 { get { UInt64(bitPattern: seedBits) } set { seedBits = Int64(bitPattern: newValue) } }
        public var xPath: String? = nil, yPath: String? = nil
        public var initW1Path: String? = nil, initW2Path: String? = nil
        public var logEvery = 10
        public var plateauThreshold = 1e-3
        public var plateauMinSteps = 30
        public var skipPlateaus = false
        /// The shape options given on the command line: each must agree with the files that also set it.
        public var given: Set<String> = []
        public var initialization: SaddleInitialization = .gaussian
        /// Teacher inputs whitened (XᵀX/n = I, the setting of the linear theory, where the modes
        /// decouple) or plain Gaussian (anisotropic by sampling).
        public var whitenInputs = true
        /// The loss at which a run counts as finished (steps and seconds to it are reported);
        /// nil: 10⁻⁴ of the initial loss.
        public var targetLoss: Double? = nil
        public var backend: BackendKind = .auto
        public var device: String? = nil
        public var out: String? = nil
        public var quiet = false
        public init() {}

        /// config.json's field names, for the check that a command line beside --resume repeats the run's options.
        public static var recordedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

        /// config.json's names; `given` and `quiet` say how the command line was written, not what runs.
        enum CodingKeys: String, CodingKey, CaseIterable {
            case n, d, k, hidden, initScale = "init_scale", teacherRank = "teacher_rank", singularValues = "singular_values"
            case labelNoise = "label_noise"
            case activation, optimizer, steps, learningRate = "lr", seedBits = "seed", xPath = "x", yPath = "y"
            case initW1Path = "init_w1", initW2Path = "init_w2", logEvery = "log_every", plateauThreshold = "plateau_threshold"
            case plateauMinSteps = "plateau_min_steps", skipPlateaus = "skip_plateaus", initialization
            case whitenInputs = "whiten_inputs", targetLoss = "target_loss", backend, device, out
        }
    }

    /// `teacherSingularValues`: what the learned map's singular values (UnitDiagnostics.mapSingularValues)
    /// approach, on the scale they are measured on, so that the rank threshold (half the smallest) and the
    /// map compare like with like (`teacherSingularValuesOf` says which). `originRate`: the unstable rate of
    /// GD at the origin, σ₁(YᵀX/n), for the nets whose linearisation there is the linear net's (nil for relu).
    struct Data {
        var x: [Double], y: [Double], n: Int, d: Int, k: Int, teacherSingularValues: [Double]
        var teacherSingularValuesOf: String
        var originRate: Double?
    }

    static let givenTeacher = "the teacher map U diag(s) Vᵀ (whitened inputs)"
    static let leastSquaresMap = "the least-squares map (XᵀX)⁺XᵀY, which W2·W1 converges to"
    static let centredTargets = "the centred targets (Y − mean Y)/√n, which the centred outputs approach"

    /// Singular values of the minimum-norm least-squares map β = (XᵀX)⁺XᵀY (d×k; LAPACK's dgelsd with numpy's
    /// default cut-off eps·max(n, d)): GD from a small start converges to W2·W1 = βᵀ (its updates of W1 stay in
    /// X's row space), whatever the scale of X. For whitened X (XᵀX/n = I) β = XᵀY/n, whose singular values are
    /// Y's over √n when Y lies in X's column span. Values under 1e-9·s₁ (directions β does not have) are left out.
    static func leastSquaresSingularValues(x: [Double], y: [Double], n: Int, d: Int, k: Int) throws -> [Double] {
        var a = x
        let rows = max(n, d)
        var b = [Double](repeating: 0, count: rows * k)
        for i in 0..<n { for j in 0..<k { b[i * k + j] = y[i * k + j] } }
        var s = [Double](repeating: 0, count: min(n, d))
        var rank: Int32 = 0
        let info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, Int32(n), Int32(d), Int32(k), &a, Int32(d), &b, Int32(k), &s,
                                  Double.ulpOfOne * Double(max(n, d)), &rank)
        guard info == 0 else { throw BackendError("LAPACKE_dgelsd failed (info \(info)) on the least-squares map of X and Y") }
        let beta = Array(b.prefix(d * k))
        let values = try SingularValues.of(beta, rows: d, cols: k)
        return values.filter { $0 > 1e-9 * (values.first ?? 0) }
    }

    /// σ₁(YᵀX/n): at the origin E = −Y, so GD moves W1 by η W2ᵀ(YᵀX/n) and W2 by η (YᵀX/n)W1ᵀ, and the top
    /// mode grows by 1 + ησ₁ a step. Exact for linear and tanh nets (tanh(0) = 0, tanh′(0) = 1); for whitened
    /// inputs and a noise-free linear teacher it is the teacher's s₁.
    static func originRate(x: [Double], y: [Double], n: Int, d: Int, k: Int) throws -> Double {
        var m = [Double](repeating: 0, count: k * d)
        for i in 0..<n {
            for a in 0..<k {
                let ya = y[i * k + a]
                for b in 0..<d { m[a * d + b] += ya * x[i * d + b] }
            }
        }
        return try SingularValues.of(m.map { $0 / Double(n) }, rows: k, cols: d).first ?? 0
    }

    /// The targets' spectrum as the student's is measured, and the rate at the origin.
    static func targets(x: [Double], y: [Double], n: Int, d: Int, k: Int, _ c: Config) throws
        -> (values: [Double], of: String, rate: Double?) {
        let rate = c.activation == .relu ? nil : try originRate(x: x, y: y, n: n, d: d, k: k)
        if c.activation == .linear { return (try leastSquaresSingularValues(x: x, y: y, n: n, d: d, k: k), leastSquaresMap, rate) }
        let s = try SingularValues.ofCentred(y, rows: n, cols: k)
        return (s.filter { $0 > 1e-9 * (s.first ?? 0) }, centredTargets, rate)
    }

    /// Host memory of a run: the data (X, Y, their whitened copies), the n×m pre-activations,
    /// activations and their gradient, the optimiser's copies of the weights and, with plateau
    /// skipping, the Krylov basis and Ritz vectors of the jump (two sets of up to 160 weight vectors)
    /// and the Hessian–vector product's n×m temporaries.
    static func preflight(n: Int, d: Int, k: Int, m: Int, _ c: Config) throws {
        let (n, d, k, m) = (Double(n), Double(d), Double(k), Double(m))
        let perSample = 2 * d + 4 * k + 4 * m + (c.skipPlateaus ? 6 * m + 2 * k : 0)
        let fixed = 6 * (m * d + k * m) + (c.skipPlateaus ? 2 * Double(LinearisedGD.krylovLimit) * (m * d + k * m) : 0)
        try MemoryPreflight.require(8 * (n * perSample + fixed), for: "saddle at n = \(Int(n)), hidden = \(Int(m))") { have in
            let nFits = (have / 8 - fixed) / perSample
            return nFits >= 1 ? "the largest n that fits at this width is \(Int(nFits))" : "the net alone does not fit; use a smaller --hidden"
        }
    }

    static func data(_ c: Config) throws -> Data {
        if c.xPath != nil || c.yPath != nil {
            guard let xp = c.xPath, let yp = c.yPath else { throw BackendError("--x and --y go together (n×d and n×k)") }
            let xa = try NPY.read(URL(fileURLWithPath: xp)), ya = try NPY.read(URL(fileURLWithPath: yp))
            guard xa.shape.count == 2, xa.shape[0] >= 1, xa.shape[1] >= 1 else { throw BackendError("\(xp): X must be n×d, got \(xa.shape)") }
            let n = xa.shape[0]
            let k: Int
            if ya.shape.count == 2 && ya.shape[0] == n { k = ya.shape[1] }
            else if ya.shape == [n] { k = 1 }
            else { throw BackendError("\(yp): Y must be n×k with n = \(n) rows to match X, got \(ya.shape)") }
            if let i = xa.values.firstIndex(where: { !$0.isFinite }) { throw BackendError("\(xp): non-finite value at index \(i)") }
            if let i = ya.values.firstIndex(where: { !$0.isFinite }) { throw BackendError("\(yp): non-finite value at index \(i)") }
            for (flag, value, fromFile) in [("--n", c.n, n), ("--d", c.d, xa.shape[1]), ("--k", c.k, k)] where c.given.contains(flag) && value != fromFile {
                throw BackendError("\(flag) \(value) disagrees with the data files (\(fromFile) from \(flag == "--k" ? yp : xp))")
            }
            // The targets' spectrum as the student's is measured: of the least-squares map for a linear net (W2·W1 is
            // measured, and reaches β, not Y/√n, unless XᵀX/n = I), of the centred Y otherwise.
            let t = try targets(x: xa.values, y: ya.values, n: n, d: xa.shape[1], k: k, c)
            return Data(x: xa.values, y: ya.values, n: n, d: xa.shape[1], k: k, teacherSingularValues: t.values,
                        teacherSingularValuesOf: t.of, originRate: t.rate)
        }
        guard c.n >= 1, c.d >= 1, c.k >= 1 else { throw BackendError("--n, --d and --k must be at least 1") }
        // A linear teacher is the map U diag(s) Vᵀ; a nonlinear one is the net of the same kind,
        // Σ_r s_r u_r σ(v_r·x), with orthonormal v_r (so its rank may exceed k but not d).
        let maxRank = c.activation == .linear ? min(c.d, c.k) : c.d
        guard c.teacherRank >= 1, c.teacherRank <= maxRank else {
            throw BackendError("--teacher-rank must be between 1 and \(c.activation == .linear ? "min(d, k)" : "d") = \(maxRank) (got \(c.teacherRank))")
        }
        // Singular values: the given ones, continued downwards if the rank asks for more.
        var s = Array(c.singularValues.prefix(c.teacherRank))
        while s.count < c.teacherRank { s.append(max((s.last ?? 1) * 0.75, 1e-3)) }
        let g = PhiloxGenerator(seed: c.seed)
        let r = c.teacherRank
        let rawU: [Double] = g.array(count: c.k * r, stream: RandomStream.teacher.rawValue, step: 0, distribution: .normal, scale: 1.0)
        var u: [Double]
        if r <= c.k { u = SingularValues.orthonormalColumns(rawU, rows: c.k, count: r) } else {
            u = rawU
            for j in 0..<r {
                let norm = (0..<c.k).reduce(0.0) { $0 + rawU[$1 * r + j] * rawU[$1 * r + j] }.squareRoot()
                for a in 0..<c.k { u[a * r + j] /= max(norm, 1e-300) }
            }
        }
        let v = SingularValues.orthonormalColumns(g.array(count: c.d * r, stream: RandomStream.teacher.rawValue,
                                                          step: 1, distribution: .normal, scale: 1.0), rows: c.d, count: r)
        var x: [Double] = g.array(count: c.n * c.d, stream: RandomStream.data.rawValue, step: 0, distribution: .normal, scale: 1.0)
        if c.whitenInputs {
            guard c.n >= c.d else { throw BackendError("whitened inputs need n ≥ d (got n = \(c.n), d = \(c.d)); use --inputs gaussian") }
            let root = Double(c.n).squareRoot()
            x = SingularValues.orthonormalColumns(x, rows: c.n, count: c.d).map { $0 * root }
        }
        var y = [Double](repeating: 0, count: c.n * c.k)
        for i in 0..<c.n {
            for j in 0..<r {
                var pre = 0.0
                for b in 0..<c.d { pre += v[b * r + j] * x[i * c.d + b] }
                let hidden = s[j] * c.activation.value(pre)
                for a in 0..<c.k { y[i * c.k + a] += u[a * r + j] * hidden }
            }
        }
        if let sigma = c.labelNoise, sigma > 0 {
            let noise: [Double] = g.array(count: c.n * c.k, stream: RandomStream.labels.rawValue, step: 0, distribution: .normal, scale: sigma)
            for q in y.indices { y[q] += noise[q] }
        }
        // On whitened inputs without label noise the least-squares map is the teacher's own U diag(s) Vᵀ: s as given.
        // Otherwise (Gaussian inputs, label noise, a nonlinear teacher) the singular values the student's staircase
        // climbs are those of the least-squares map (linear) or of the teacher's centred outputs.
        let noiseFree = (c.labelNoise ?? 0) == 0
        let t = try targets(x: x, y: y, n: c.n, d: c.d, k: c.k, c)
        if c.activation == .linear && c.whitenInputs && noiseFree {
            return Data(x: x, y: y, n: c.n, d: c.d, k: c.k, teacherSingularValues: s, teacherSingularValuesOf: givenTeacher, originRate: t.rate)
        }
        return Data(x: x, y: y, n: c.n, d: c.d, k: c.k, teacherSingularValues: t.values, teacherSingularValuesOf: t.of, originRate: t.rate)
    }

    public static func run(_ c: Config, control: RunControl = RunControl()) throws -> RunOutcome {
        // The nets are small: every product is cheaper than waking OpenBLAS's threads.
        try BLAS.singleThreaded { try runSingleThreaded(c, control: control) }
    }

    /// Everything a saddle run fixes before its directory exists.
    struct Setup {
        var config: Config, data: Data, products: MatrixProducts, notes: [String]
        var w1: [Double], w2: [Double], m: Int
    }

    static func runSingleThreaded(_ c: Config, control: RunControl) throws -> RunOutcome {
        let setup = try prepare(c)
        return try RunHarness.run(command: "saddle", out: c.out, control: control, quiet: c.quiet) { _, _ in try SaddleRun(setup, control) }
    }

    static func prepare(_ c: Config) throws -> Setup {
        guard c.steps >= 0 else { throw BackendError("--steps must be ≥ 0") }
        guard c.learningRate > 0, c.learningRate.isFinite else { throw BackendError("--lr must be positive") }
        guard c.initScale > 0, c.initScale.isFinite else { throw BackendError("--init-scale must be positive") }
        guard c.logEvery >= 1 else { throw BackendError("--log-every must be ≥ 1") }
        if let sigma = c.labelNoise { guard sigma >= 0, sigma.isFinite else { throw BackendError("--label-noise must be ≥ 0 (got \(sigma))") } }
        if let t = c.targetLoss { guard t > 0, t.isFinite else { throw BackendError("--target-loss must be positive") } }
        // A relative change per step: 0 or less finds no plateau, 1 or more takes every falling step for one.
        guard c.plateauThreshold > 0, c.plateauThreshold < 1 else {
            throw BackendError("--plateau-threshold must be between 0 and 1 (a relative change per step; got \(c.plateauThreshold))")
        }
        guard c.plateauMinSteps >= 1 else { throw BackendError("--plateau-min-steps must be at least 1 (got \(c.plateauMinSteps))") }
        // The help and the continuation of a short list downwards both read them largest first.
        if c.xPath == nil, c.yPath == nil, let i = c.singularValues.indices.dropFirst().first(where: { c.singularValues[$0] > c.singularValues[$0 - 1] }) {
            throw BackendError("--singular-values lists the largest first (got \(String(format: "%g", c.singularValues[i - 1])) before \(String(format: "%g", c.singularValues[i])))")
        }
        // The jump sums τ steps of the linearised GD map; momentum and Adam carry state that map does not.
        if c.skipPlateaus && c.optimizer != .gd {
            throw BackendError("--skip-plateaus extrapolates plain gradient descent; it cannot be combined with --optimizer \(c.optimizer.rawValue)")
        }
        var notes: [String] = []
        let products: MatrixProducts
        switch c.backend {
        case .cpu, .auto:
            products = MatrixProducts(backend: nil)
            if c.backend == .auto { notes.append("saddle's nets are small, so auto runs it on the CPU (OpenBLAS); --backend opencl runs its matrix products on the device") }
        case .opencl:
            products = MatrixProducts(backend: try BackendSelection.make(kind: .opencl, device: c.device, precision: .f64).backend)
        }
        // A relu or tanh teacher may have more units than outputs; the rank the staircase counts is the outputs'.
        if c.xPath == nil, c.yPath == nil, c.activation != .linear, c.teacherRank > c.k {
            notes.append("the \(c.activation.rawValue) teacher has \(c.teacherRank) units (--teacher-rank) but \(c.k) output\(c.k == 1 ? "" : "s") (--k): "
                         + "the rank of the fitted outputs, which the staircase counts, stops at \(c.k); the plateaus and drops show every unit")
        }
        if c.xPath == nil { try SaddleExperiment.preflight(n: c.n, d: c.d, k: c.k, m: c.initW1Path == nil ? c.hidden : 1, c) }
        let data = try data(c)
        var w1: [Double], w2: [Double], m: Int
        if let p = c.initW1Path {
            let a = try NPY.read(URL(fileURLWithPath: p))
            guard a.shape.count == 2, a.shape[1] == data.d, a.shape[0] >= 1 else { throw BackendError("\(p): W1 must be m×\(data.d), got \(a.shape)") }
            w1 = a.values; m = a.shape[0]
            if c.given.contains("--hidden") && c.hidden != m {
                throw BackendError("--hidden \(c.hidden) disagrees with \(p), which has \(m) rows (hidden units)")
            }
        } else {
            guard c.hidden >= 1 else { throw BackendError("--hidden must be at least 1") }
            m = c.hidden
            w1 = c.initialization.hiddenWeights(m: m, d: data.d, scale: c.initScale, seed: c.seed)
        }
        try SaddleExperiment.preflight(n: data.n, d: data.d, k: data.k, m: m, c)
        if let p = c.initW2Path {
            let a = try NPY.read(URL(fileURLWithPath: p))
            guard a.shape == [data.k, m] else { throw BackendError("\(p): W2 must be \(data.k)×\(m) (k×m), got \(a.shape)") }
            w2 = a.values
        } else {
            w2 = c.initialization.outputWeights(k: data.k, m: m, scale: c.initScale, seed: c.seed)
        }
        if let i = (w1 + w2).firstIndex(where: { !$0.isFinite }) { throw BackendError("initial weights have a non-finite value at \(i)") }
        return Setup(config: c, data: data, products: products, notes: notes, w1: w1, w2: w2, m: m)
    }
}
