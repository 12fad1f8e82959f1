import Foundation

/// `--algorithm`: noisy gradient descent, or particle dual averaging (Nitanda–Wu–Suzuki).
public enum MFLDAlgorithm: String, Sendable, CaseIterable, Codable { case langevin, pda }

/// Everything `widenet mfld` was asked for (ARCHITECTURE.md §1.2, §3).
public struct MFLDConfig: Sendable, Codable {
    public var particles = 4096
    public var n = 1000
    public var nTest: Int? = nil                // default n/4
    public var d = 10
    public var steps = 1000
    public var learningRate = 0.1
    public var lambdaEntropy = 1e-3             // λ
    public var lambdaL2 = 1e-3                  // λ'
    public var unit: ParticleUnit = .tanh
    public var unitScale = 1.0                  // R of the bounded unit
    public var loss: MFLDLoss? = nil            // default: logistic for parity, squared otherwise
    public var task: MFLDTaskKind = .teacher
    public var parityK = 3
    public var teacherWidth = 4
    public var xPath: String? = nil, yPath: String? = nil
    public var annealEvery = 0                  // 0: no annealing
    public var annealFactor = 0.5
    public var batch: Int? = nil                // nil: full batch
    public var algorithm: MFLDAlgorithm = .langevin
    public var innerSteps = 10                  // PDA: Langevin steps per outer iteration
    public var svrgEvery = 0                    // SVRG snapshot period (0: plain minibatch gradients)
    /// Seeds as config.json keeps them: the 64 bits as a signed integer (JSON readers stop at 2^63).
    var seedBits: Int64 = 0, dataSeedBits: Int64? = nil
    public var seed: UInt64 { get { UInt64(bitPattern: seedBits) } set { seedBits = Int64(bitPattern: newValue) } }
    /// nil: the seed; the chaos sweep keeps it fixed across seeds.
    public var dataSeed: UInt64? {
        get { dataSeedBits.map { UInt64(bitPattern: $0) } }
        set { dataSeedBits = newValue.map { Int64(bitPattern: $0) } }
    }
    public var initScale = 1.0
    /// Initial particles, N×(d+2) .npy (instead of drawing them with --init-scale).
    public var initParticlesPath: String? = nil
    public var dataTerm = true                  // false: pure Ornstein–Uhlenbeck (the Gaussian check)
    public var logEvery: Int? = nil
    public var entropySample = 1000
    public var scatter = (0, 1)                 // particle coordinates of the 2-D scatter
    public var backend: BackendKind = .auto
    public var device: String? = nil
    public var precision: Precision = .f32
    public var out: String? = nil
    public var saveParticles = false
    public var quiet = false
    /// Particles per block (the hidden --block-width, a multiple of 32); nil: the problem's default
    /// partition. A resumed run takes it from config.json's resolved block_particles.
    public var blockParticles: Int? = nil
    public init() {}

    /// config.json's names; `scatter` (a figure of the report) and `quiet` do not change the numbers.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case particles, n, nTest = "n_test", d, steps, learningRate = "lr", lambdaEntropy = "lambda_ent", lambdaL2 = "lambda_l2"
        case unit, unitScale = "unit_scale", loss, task, parityK = "parity_k", teacherWidth = "teacher_width", xPath = "x"
        case yPath = "y", annealEvery = "anneal_every", annealFactor = "anneal_factor", batch, algorithm
        case innerSteps = "inner_steps", svrgEvery = "svrg_every", seedBits = "seed", dataSeedBits = "data_seed"
        case initScale = "init_scale", initParticlesPath = "init_particles", dataTerm = "data_term", logEvery = "log_every", entropySample = "entropy_sample"
        case backend, device, precision, out, saveParticles = "save_particles"
    }

    public var resolvedLoss: MFLDLoss { loss ?? (task == .parity ? .logistic : .squared) }
    public var resolvedTest: Int { nTest ?? max(1, n / 4) }

    /// λ at step k: λ0 · γ^⌊k/K⌋.
    public func lambda(at k: Int) -> Double {
        annealEvery > 0 ? lambdaEntropy * Foundation.pow(annealFactor, Double(k / annealEvery)) : lambdaEntropy
    }

    /// The law of every coordinate after the whole run with the data term off. Each Langevin step
    /// is θ ← ρθ + √(2λ_kη)ξ with ρ = 1 − 2ηλ' and λ_k the temperature of outer step k (annealed;
    /// PDA takes --inner-steps Langevin steps per outer step at that λ_k), so a coordinate of mean
    /// m and variance v goes to m ← ρm, v ← ρ²v + 2λ_kη. Over the run: m_K = meanFactor·m_0 and
    /// v_K = varianceFactor·v_0 + noiseVariance (meanFactor = ρ^K, varianceFactor = ρ^2K, K the
    /// Langevin steps), the transient of any initial law included.
    public func noDataLaw() -> (meanFactor: Double, varianceFactor: Double, noiseVariance: Double) {
        let a = learningRate * lambdaL2, rho = 1 - 2 * a
        // log ρ² without the cancellation of log(1 − 4a(1 − a)) for small a; −∞ at ρ = 0.
        let logRho2 = a < 0.5 ? 2 * Foundation.log1p(-2 * a) : 2 * Foundation.log(abs(rho))
        let oneMinusRho2 = 4 * a * (1 - a)
        let perOuter = algorithm == .pda ? innerSteps : 1
        var meanFactor = 1.0, varianceFactor = 1.0, noise = 0.0, k = 0
        while k < steps {
            // A stretch of constant λ: to the next annealing step or the end.
            let end = annealEvery > 0 ? min(steps, (k / annealEvery + 1) * annealEvery) : steps
            let L = Double((end - k) * perOuter)
            let decay = Foundation.exp(L * logRho2)                          // ρ^2L
            // Σ_{j<L} ρ^2j = (1 − ρ^2L)/(1 − ρ²), or L at ρ² = 1 (no weight decay).
            let sum = oneMinusRho2 == 0 ? L : -Foundation.expm1(L * logRho2) / oneMinusRho2
            noise = decay * noise + 2 * lambda(at: k) * learningRate * sum
            meanFactor *= Foundation.pow(rho, L); varianceFactor *= decay
            k = end
        }
        return (meanFactor, varianceFactor, noise)
    }

    /// E‖θ‖² of the noise-and-decay chain θ ← ρθ + √(2λη)ξ from the origin after `step` (outer) steps,
    /// at the largest temperature λ0 (annealing only lowers it): D·2λ0η·Σ_{j<K} ρ^2j with K the
    /// Langevin steps (PDA: --inner-steps each), at most D·λ0/(2λ'(1 − ηλ')), the stationary level.
    public func noiseSecondMoment(step: Int, coordinates D: Int) -> Double {
        let K = Double(max(step, 0) * (algorithm == .pda ? innerSteps : 1))
        guard K > 0, lambdaEntropy > 0 else { return 0 }
        let a = learningRate * lambdaL2, oneMinusRho2 = 4 * a * (1 - a)
        let logRho2 = a < 0.5 ? 2 * Foundation.log1p(-2 * a) : 2 * Foundation.log(abs(1 - 2 * a))
        // Σ_{j<K} ρ^2j = (1 − ρ^2K)/(1 − ρ²), or K at ρ² = 1 (no weight decay); 1 at ρ = 0.
        let sum = oneMinusRho2 == 0 ? K : (logRho2 == -.infinity ? 1 : -Foundation.expm1(K * logRho2) / oneMinusRho2)
        return Double(D) * 2 * lambdaEntropy * learningRate * sum
    }

    /// The second moment divergence is measured against at step k: the start's E‖θ‖² (which the decay
    /// only shrinks, |ρ| ≤ 1) plus the noise's (noiseSecondMoment), and at least D (unit variance per
    /// coordinate, the drawn particles' at the default --init-scale), so that a start at or near the
    /// origin without noise, which the data term may move to its own O(1) scale, is not taken for a
    /// blow-up. Without data a stable chain's E‖θ‖² never exceeds it (up to sampling); the run is
    /// stopped as diverged beyond 10¹² times it.
    public func divergenceScale(start: Double, step k: Int, coordinates D: Int) -> Double {
        max(start + noiseSecondMoment(step: k, coordinates: D), Double(D))
    }

    /// λ of the last step (the first with no steps).
    public var finalLambda: Double { lambda(at: max(steps - 1, 0)) }

    /// The discrete chain's stationary variance at the final temperature, λ/(2λ'(1 − ηλ')) (the
    /// continuous-time limit is λ/(2λ')); +∞ without weight decay.
    public var stationaryVariance: Double { finalLambda / (2 * lambdaL2 * (1 - learningRate * lambdaL2)) }

    /// The values' own checks (ranges, and options that need one another), before anything is allocated.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw BackendError(message) } }
        try check(particles >= 1, "--particles must be at least 1 (got \(particles))")
        try check(particles <= Int(Int32.max) * 16, "--particles \(particles) is beyond what the kernels index")
        try check(n >= 1 || task == .file, "--n must be at least 1 (got \(n))")
        try check(d >= 1, "--d must be at least 1 (got \(d))")
        try check(steps >= 0, "--steps must be ≥ 0 (got \(steps))")
        try check(learningRate > 0 && learningRate.isFinite, "--lr must be a positive number (got \(learningRate))")
        try check(lambdaEntropy >= 0 && lambdaEntropy.isFinite, "--lambda-ent must be ≥ 0 (got \(lambdaEntropy))")
        try check(lambdaL2 >= 0 && lambdaL2.isFinite, "--lambda-l2 must be ≥ 0 (got \(lambdaL2))")
        try check(annealEvery >= 0, "--anneal-every must be ≥ 0 (got \(annealEvery))")
        try check(annealFactor > 0 && annealFactor <= 1, "--anneal-factor must be in (0, 1] (got \(annealFactor))")
        if let t = nTest {
            try check(t >= 1, "--n-test must be at least 1 (got \(t))")
            try check(task != .file, "--n-test does not apply to --task file (the last 20 % of the rows are held out)")
        }
        try check(task != .teacher || teacherWidth >= 1, "--teacher-width must be at least 1 (got \(teacherWidth))")
        if let b = batch {
            try check(b >= 1, "--batch must be at least 1 (got \(b))")
            try check(task == .file || b <= n, "--batch \(b) exceeds the \(n) training samples (--n)")
        }
        try check(innerSteps >= 1, "--inner-steps must be at least 1 (got \(innerSteps))")
        try check(svrgEvery >= 0, "--svrg-every must be ≥ 0 (got \(svrgEvery))")
        try check(svrgEvery == 0 || (batch != nil && algorithm == .langevin && dataTerm),
                  "--svrg-every reduces the variance of minibatch gradients: it needs --batch, the data term and --algorithm langevin")
        try check(algorithm == .langevin || batch == nil, "--algorithm pda averages full-batch potentials; drop --batch")
        try check(task != .parity || (parityK >= 1 && parityK <= d), "--parity-k must be between 1 and d = \(d) (got \(parityK))")
        try check(initScale > 0, "--init-scale must be positive (got \(initScale))")
        // θ ← (1 − 2ηλ')θ − η g + noise: the weight decay alone contracts only while |1 − 2ηλ'| < 1.
        let multiplier = 1 - 2 * learningRate * lambdaL2
        try check(learningRate * lambdaL2 < 1,
                  String(format: "--lr %.4g with --lambda-l2 %.4g: ηλ' = %.4g ≥ 1, so the weight decay alone multiplies the particles by 1 − 2ηλ' = %.4g every step, %@; take η < 1/λ' = %.4g",
                         learningRate, lambdaL2, learningRate * lambdaL2, multiplier,
                         multiplier == -1 ? "which is not contracting (it flips their sign and keeps their size)" : "which expands them",
                         1 / lambdaL2))
        try check(entropySample >= 0, "--entropy-sample must be ≥ 0")
        try check(unitScale > 0, "--unit-scale must be positive (got \(unitScale))")
        if let k = logEvery { try check(k >= 1, "--log-every must be ≥ 1 (got \(k))") }
        let D = d + 2
        try check(scatter.0 >= 0 && scatter.0 < D && scatter.1 >= 0 && scatter.1 < D,
                  "--scatter coordinates must lie in 0..<\(D) (d + 2)")
    }

    /// config.json: the command, the version, every option (CodingKeys) and what the defaults resolved to.
    func json(resolved: [(String, JSONValue)]) -> JSONObject {
        RecordedConfig.json(command: "mfld", options: self, resolved: resolved)
    }
}
