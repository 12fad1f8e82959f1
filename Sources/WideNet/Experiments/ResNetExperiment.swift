import Foundation

/// `widenet resnet --experiment depth-limit`: a ResNet whose blocks sample a fixed smooth θ(t)
/// (ResidualFlow) is a discretisation of an ODE; as the depth L grows with h = T/L each scheme's end
/// points x_L converge to that ODE's solution at the scheme's order (ResidualSchemes). For every
/// scheme and depth: the RMS over points (and paths) of ‖x_L − x_ref(T)‖, and the fitted order.
/// References: classical RK4 of the scheme's limit at max(1024, 4·L_max) steps; for euler-maruyama the
/// same scheme at 16·L_max steps on the same Brownian path (the coarse increments are sums of the
/// fine ones), per path.
public enum ResNetExperiment {
    public enum Kind: String, CaseIterable, Codable, Sendable { case depthLimit = "depth-limit", train, boost, nonLipschitz = "non-lipschitz" }

    public struct Config: Sendable, Codable {
        public var experiment: Kind = .depthLimit
        public var depths: [Int] = (3...10).map { 1 << $0 }
        public var width = 16
        public var dim = 2
        public var points = 64
        public var horizon = 1.0
        public var schemes: [ResidualScheme] = ResidualScheme.allCases
        public var settings = ResidualSchemeSettings()
        /// euler-maruyama: Brownian paths averaged over.
        public var paths = 32
        var seedBits: Int64 = 0
        public var seed: UInt64 { get { UInt64(bitPattern: seedBits) } set { seedBits = Int64(bitPattern: newValue) } }
        public var out: String? = nil
        public init() {}

        enum CodingKeys: String, CodingKey {
            case experiment, depths, width, dim, points, horizon, schemes, settings, paths, seedBits = "seed", out
        }

        /// The library's checks (the CLI says them in its own words first).
        public func validate() throws {
            guard !depths.isEmpty else { throw BackendError("resnet needs at least one depth") }
            if let bad = depths.first(where: { $0 < 1 }) { throw BackendError("every depth must be at least 1 (got \(bad))") }
            guard Set(depths).count == depths.count else { throw BackendError("the depths \(depths) repeat one") }
            guard width >= 1 else { throw BackendError("--width must be at least 1 (got \(width))") }
            guard dim >= 1 else { throw BackendError("--dim must be at least 1 (got \(dim))") }
            guard points >= 1 else { throw BackendError("--points must be at least 1 (got \(points))") }
            guard horizon > 0 && horizon.isFinite else { throw BackendError("--horizon must be a positive number (got \(horizon))") }
            guard !schemes.isEmpty else { throw BackendError("resnet needs at least one scheme") }
            if schemes.contains(.lm), !(settings.lmK > -1 && settings.lmK <= 1) {
                throw BackendError("--lm-k must lie in (−1, 1] (got \(settings.lmK)); the LM-ResNet two-step is unstable outside")
            }
            if schemes.contains(.revnet), dim % 2 != 0 {
                throw BackendError("revnet splits x into two halves: --dim must be even (got \(dim))")
            }
            if schemes.contains(.backwardEuler) {
                guard settings.tolerance > 0 && settings.tolerance.isFinite else {
                    throw BackendError("--tolerance must be a positive number (got \(settings.tolerance))")
                }
                guard settings.maxIterations >= 1 else { throw BackendError("--max-iterations must be at least 1 (got \(settings.maxIterations))") }
            }
            if schemes.contains(.eulerMaruyama) {
                guard settings.noise >= 0 && settings.noise.isFinite else { throw BackendError("--noise must be a non-negative number (got \(settings.noise))") }
                guard paths >= 1 else { throw BackendError("--paths must be at least 1 (got \(paths))") }
                let fine = fineDepth
                if let bad = depths.first(where: { fine % $0 != 0 }) {
                    throw BackendError("euler-maruyama compares each depth with a path of \(fine) blocks (16 × the largest depth) "
                        + "on the same Brownian increments; depth \(bad) does not divide it (use depths that double)")
                }
            }
            if experiment == .nonLipschitz {
                // Six starts and δ in one dimension: Euler's trajectory of every depth is kept for the tangents.
                try MemoryPreflight.require(Self.nonLipschitzBytes(maxDepth), for: "resnet --experiment non-lipschitz at depth \(maxDepth)") { have in
                    "the largest depth that fits is about \(max(0, Int(min((have - 8 * 1024) / 112 - 2, Double(1 << 27)))))"
                }
                guard maxDepth <= 1 << 27 else {
                    throw BackendError("resnet --experiment non-lipschitz at depth \(maxDepth): more than 2^27 blocks is too many for the host")
                }
                return
            }
            try preflight()
            let values = Double(points) * Double(dim) * Double(max(referenceSteps, schemes.contains(.eulerMaruyama) ? fineDepth : 0))
            guard values * Double(width) <= 1e12 else { throw BackendError("\(depths.max() ?? 0) blocks of \(points) points are too many for the host reference") }
        }

        /// Bytes of the non-lipschitz run at depth L: Euler's trajectory of the 7 starts, and its copy.
        static func nonLipschitzBytes(_ L: Int) -> Double { 8 * 7 * 2 * (Double(L) + 2) + 8 * 1024 }

        /// Whether the deepest trajectories are kept ((L + 1)·P·d values per scheme at most), and the cap.
        static let trajectoryCap = 4e6
        var keepsTrajectories: Bool { (Double(maxDepth) + 1) * Double(points) * Double(dim) <= Self.trajectoryCap }

        /// Bytes of a depth-limit run (host, f64) with `points`, `width` and `paths` as given: the points,
        /// every scheme's references and end points per depth (per path for euler-maruyama), the kept
        /// trajectories, euler-maruyama's fine Brownian path and its coarse sums, RK4's and the passes'
        /// temporaries, the field, and the copy of the largest array that writing it makes.
        func bytes(points P: Double, width m: Double, paths: Double, dim d: Double? = nil) -> Double {
            let d = d ?? Double(dim), n = P * d, S = Double(schemes.count), Dn = Double(depths.count), L = Double(maxDepth)
            let stochastic = schemes.contains(.eulerMaruyama), deterministic = S - (stochastic ? 1 : 0)
            let keep = (L + 1) * n <= Self.trajectoryCap
            var values = (3 + S) * n + 12 * n + 5 * m * d + 4 * m
            values += deterministic * Dn * n + (stochastic ? Dn * paths * n + paths * n + (16 * L + L) * n : 0)
            values += keep ? S * (L + 1) * n : 0
            values += max(Dn * (stochastic ? paths : 1) * n, keep ? (L + 1) * n : 0)
            return 8 * values
        }

        /// Refuses a run whose arrays do not fit in host memory, before anything is computed or written.
        func preflight() throws {
            let stochastic = schemes.contains(.eulerMaruyama)
            let (P, m, K) = (Double(points), Double(width), Double(paths))
            try MemoryPreflight.require(bytes(points: P, width: m, paths: K),
                                        for: "resnet --experiment depth-limit at depths up to \(maxDepth) on \(points) points of dimension \(dim)") { have in
                var knobs: [(flag: String, value: Int, bytes: (Double) -> Double)] = [
                    ("--points", points, { bytes(points: $0, width: m, paths: K) }),
                    ("--width", width, { bytes(points: P, width: $0, paths: K) }),
                ]
                if stochastic { knobs.append(("--paths", paths, { bytes(points: P, width: m, paths: $0) })) }
                knobs.append(("--dim", dim, { bytes(points: P, width: m, paths: K, dim: $0) }))
                return ResNetTrain.largestFitting(have, knobs: knobs, otherwise: "not even one point fits at these depths: use smaller --depths"
                                                  + (stochastic ? " (euler-maruyama's reference path has 16 × the largest depth's blocks)" : ""))
            }
        }

        var maxDepth: Int { depths.max() ?? 1 }
        /// RK4 steps of the deterministic references.
        var referenceSteps: Int { max(1024, 4 * maxDepth) }
        /// Blocks of euler-maruyama's reference path.
        var fineDepth: Int { 16 * maxDepth }
    }

    /// One scheme's convergence: summary.json's `schemes` entries.
    public struct SchemeResult: Sendable, Codable {
        public var scheme: ResidualScheme
        public var limit: String
        public var theoryOrder: Double
        /// The fitted order over the depths with its 95 % Student-t interval; not identified (and why)
        /// with fewer than 4 usable depths (ConvergenceOrder).
        public var order: ConvergenceOrder?
        public var depths: [Int], errors: [Double]
        /// lm: the error against x′ = F itself, which it does not converge to for k ≠ 0.
        public var errorsAgainstUnmodified: [Double]?
        /// lm: the fitted order of `errors_against_unmodified` (about 0 for k ≠ 0), read as `order` is.
        public var orderAgainstUnmodified: ConvergenceOrder?
        public var reference: String

        enum CodingKeys: String, CodingKey {
            case scheme, limit, theoryOrder = "theory_order", order, depths, errors
            case errorsAgainstUnmodified = "errors_against_unmodified", orderAgainstUnmodified = "order_against_unmodified", reference
        }
    }

    public struct Summary: Sendable, Codable {
        public var experiment: Kind
        public var dim: Int, width: Int, points: Int, horizon: Double
        public var depths: [Int]
        /// max over the blocks of the deepest net of ‖V(t)‖_F‖U(t)‖_F, a Lipschitz bound of F.
        public var lipschitzBound: Double
        public var schemes: [SchemeResult]

        enum CodingKeys: String, CodingKey {
            case experiment, dim, width, points, horizon, depths, lipschitzBound = "lipschitz_bound", schemes
        }
    }

    public static func run(_ cfg: Config) throws -> RunOutcome {
        try cfg.validate()
        if cfg.experiment == .nonLipschitz {
            let result = try ResNetNonLipschitz(cfg: cfg)
            return try RunHarness.run(command: "resnet", out: cfg.out, control: RunControl(checkpoints: false), quiet: true) { _, _ in result }
        }
        let result = try compute(cfg)
        // Everything is computed before the directory exists: an error leaves nothing behind.
        return try RunHarness.run(command: "resnet", out: cfg.out, control: RunControl(checkpoints: false), quiet: true) { _, _ in result }
    }

    /// The depth-limit measurements of every scheme.
    static func compute(_ cfg: Config) throws -> ResNetDepthLimit {
        let flow = ResidualFlow(dim: cfg.dim, width: cfg.width, seed: cfg.seed)
        let x0 = ResidualFlow.points(cfg.points, dim: cfg.dim, seed: cfg.seed)
        let (T, s) = (cfg.horizon, cfg.settings)
        let keep = cfg.keepsTrajectories
        let rms = { (a: [Double], b: [Double]) -> Double in
            (zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(cfg.points)).squareRoot()
        }
        let needsField = cfg.schemes.contains { [.euler, .heun, .backwardEuler, .lm].contains($0) }
        let fieldReference = needsField
            ? ResidualSchemes.rungeKutta4({ flow($0, at: $1) }, points: x0, steps: cfg.referenceSteps, horizon: T) : nil
        var out = ResNetDepthLimit(cfg: cfg, flow: flow, points: x0, fieldReference: fieldReference)
        let hs = cfg.depths.map { T / Double($0) }
        for scheme in cfg.schemes {
            var result = SchemeResult(scheme: scheme, limit: scheme.limit(s), theoryOrder: scheme.theoryOrder(s), order: nil,
                                      depths: cfg.depths, errors: [], errorsAgainstUnmodified: nil, orderAgainstUnmodified: nil,
                                      reference: "classical RK4 of the limit at \(cfg.referenceSteps) steps")
            var ends: [Double] = [], reference: [Double], trajectory: [Double]? = nil
            if scheme == .eulerMaruyama {
                result.reference = "euler-maruyama at \(cfg.fineDepth) blocks on the same Brownian path, RMS over \(cfg.paths) paths"
                (reference, ends, trajectory, result.errors) = try stochastic(cfg, flow: flow, points: x0, keep: keep)
            } else {
                switch scheme {
                case .lm:
                    let k = s.lmK
                    reference = ResidualSchemes.rungeKutta4({ flow($0, at: $1).map { $0 / (1 + k) } }, points: x0, steps: cfg.referenceSteps, horizon: T)
                case .revnet:
                    reference = ResidualSchemes.rungeKutta4({ flow.coupled($0, at: $1) }, points: x0, steps: cfg.referenceSteps, horizon: T)
                default:
                    reference = fieldReference ?? []
                }
                var unmodified: [Double] = []
                for L in cfg.depths {
                    let pass = try withIterationAdvice(s) {
                        try ResidualSchemes.pass(scheme, flow: flow, points: x0, depth: L, horizon: T, settings: s,
                                                 keepTrajectory: keep && L == cfg.maxDepth)
                    }
                    ends += pass.end
                    if let t = pass.trajectory { trajectory = t }
                    result.errors.append(rms(pass.end, reference))
                    if scheme == .lm, let f = fieldReference { unmodified.append(rms(pass.end, f)) }
                }
                if scheme == .lm, !unmodified.isEmpty {
                    result.errorsAgainstUnmodified = unmodified
                    result.orderAgainstUnmodified = ConvergenceOrder(h: hs, error: unmodified, noun: "depths")
                }
            }
            result.order = ConvergenceOrder(h: hs, error: result.errors, noun: "depths")
            out.results.append(result)
            out.ends.append(ends); out.references.append(reference); out.trajectories.append(trajectory)
        }
        return out
    }

    /// A backward-euler block that does not converge: the error also names --max-iterations.
    static func withIterationAdvice<R>(_ s: ResidualSchemeSettings, _ body: () throws -> R) throws -> R {
        do { return try body() } catch let e as BackendError where e.description.contains("did not converge") && !e.description.contains("--max-iterations") {
            throw BackendError(e.description + ", or raise --max-iterations (now \(s.maxIterations))", e.failureClass)
        }
    }

    /// euler-maruyama per path: the fine path's end, every depth's ends, path 0's trajectory at the
    /// largest depth, and the RMS error over paths and points per depth.
    static func stochastic(_ cfg: Config, flow: ResidualFlow, points x0: [Double], keep: Bool) throws
        -> (reference: [Double], ends: [Double], trajectory: [Double]?, errors: [Double]) {
        let n = x0.count, fine = cfg.fineDepth, T = cfg.horizon
        let g = PhiloxGenerator(seed: cfg.seed)
        var reference: [Double] = [], ends = [[Double]](repeating: [], count: cfg.depths.count)
        var squared = [Double](repeating: 0, count: cfg.depths.count), trajectory: [Double]? = nil
        for path in 0..<cfg.paths {
            // ΔW of the fine blocks, N(0, T/fine) each: Philox normals of stream residualNoise, step = the path.
            let dw = g.array(count: fine * n, stream: RandomStream.residualNoise.rawValue, step: UInt32(path),
                             distribution: .normal, scale: (T / Double(fine)).squareRoot())
            let ref = try ResidualSchemes.pass(.eulerMaruyama, flow: flow, points: x0, depth: fine, horizon: T, settings: cfg.settings,
                                               increments: dw).end
            reference += ref
            for (j, L) in cfg.depths.enumerated() {
                let r = fine / L
                var coarse = [Double](repeating: 0, count: L * n)
                for l in 0..<L { for q in 0..<r { for i in 0..<n { coarse[l * n + i] += dw[(l * r + q) * n + i] } } }
                let pass = try ResidualSchemes.pass(.eulerMaruyama, flow: flow, points: x0, depth: L, horizon: T, settings: cfg.settings,
                                                    increments: coarse, keepTrajectory: keep && path == 0 && L == cfg.maxDepth)
                if let t = pass.trajectory { trajectory = t }
                ends[j] += pass.end
                squared[j] += zip(pass.end, ref).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            }
        }
        let errors = squared.map { ($0 / Double(cfg.points * cfg.paths)).squareRoot() }
        return (reference, ends.flatMap { $0 }, trajectory, errors)
    }
}

/// The measurements of a depth-limit run, computed before the directory exists; one metrics row
/// per (scheme, depth) with `step` the depth's index and `loss` the error.
final class ResNetDepthLimit: SteppedRun {
    let cfg: ResNetExperiment.Config
    let flow: ResidualFlow
    let points: [Double]
    let fieldReference: [Double]?
    var results: [ResNetExperiment.SchemeResult] = []
    /// Per scheme: end points per depth (depths×P×d, or depths×paths×P×d), the reference ends, the trajectory.
    var ends: [[Double]] = [], references: [[Double]] = [], trajectories: [[Double]?] = []

    var command: String { "resnet" }
    var steps: Int { results.count * cfg.depths.count - 1 }
    var backendInfo: BackendInfo? { nil }
    var backendKind: String? { "cpu" }
    /// Says when the deepest trajectories (and so the flow figure) were not kept, and how to keep them.
    var notes: [String] {
        guard !cfg.keepsTrajectories else { return [] }
        let (L, P, d) = (cfg.maxDepth, cfg.points, cfg.dim)
        let cap = Int(ResNetExperiment.Config.trajectoryCap)
        let most = cap / ((L + 1) * d), deepest = cap / (P * d) - 1
        let how = (most >= 1 ? "at most \(most) --points at depth \(L), or " : "") + "a largest depth of at most \(max(deepest, 0)) with \(P) points"
        return ["no trajectory_*.npy\(d == 2 ? " and no flow figure" : ""): the largest depth's trajectory, (L + 1)·P·d = "
            + "\(L + 1)·\(P)·\(d) = \((L + 1) * P * d) values per scheme, exceeds the cap of \(cap); \(how) keeps it"]
    }

    init(cfg: ResNetExperiment.Config, flow: ResidualFlow, points: [Double], fieldReference: [Double]?) {
        self.cfg = cfg; self.flow = flow; self.points = points; self.fieldReference = fieldReference
    }

    func config() -> JSONObject {
        RecordedConfig.json(command: "resnet", options: cfg, resolved: [
            ("backend", .string("cpu")), ("precision", .string("f64")), ("reference_steps", .int(cfg.referenceSteps)),
            ("fine_depth", cfg.schemes.contains(.eulerMaruyama) ? .int(cfg.fineDepth) : .null),
        ])
    }

    func observe(_ k: Int) throws -> Observation {
        let r = results[k / cfg.depths.count], j = k % cfg.depths.count, L = cfg.depths[j]
        var row = JSONObject()
        // step: the row's number over schemes then depths (unique, as in every run's metrics);
        // depth_index: the depth's index in --depths.
        row.set("step", k)
        row.set("depth_index", j)
        row.set("loss", r.errors[j])
        row.set("scheme", r.scheme.rawValue)
        row.set("depth", L)
        row.set("h", cfg.horizon / Double(L))
        row.set("error", r.errors[j])
        if let u = r.errorsAgainstUnmodified { row.set("error_against_unmodified", u[j]) }
        return Observation(loss: r.errors[j], row: row)
    }

    func advance(from k: Int) throws {}

    func finish(in run: RunDirectory) throws -> JSONObject {
        let (d, m, P, nd) = (cfg.dim, cfg.width, cfg.points, cfg.depths.count)
        try run.writeArray(points, shape: [P, d], to: "points.npy")
        try run.writeArray(flow.u, shape: [2, m, d], to: "field_U.npy")
        try run.writeArray(flow.v, shape: [2, d, m], to: "field_V.npy")
        try run.writeArray(flow.c, shape: [2, m], to: "field_c.npy")
        if let f = fieldReference { try run.writeArray(f, shape: [P, d], to: "reference_field.npy") }
        for (i, r) in results.enumerated() {
            let name = r.scheme.fileName, stochastic = r.scheme.isStochastic
            try run.writeArray(ends[i], shape: stochastic ? [nd, cfg.paths, P, d] : [nd, P, d], to: "end_points_\(name).npy")
            try run.writeArray(references[i], shape: stochastic ? [cfg.paths, P, d] : [P, d], to: "reference_\(name).npy")
            if let t = trajectories[i] { try run.writeArray(t, shape: [cfg.maxDepth + 1, P, d], to: "trajectory_\(name).npy") }
        }
        let h = cfg.horizon / Double(cfg.maxDepth)
        let lipschitz = (0..<cfg.maxDepth).map { flow.lipschitzBound(at: Double($0) * h) }.max() ?? .nan
        var summary = try ConfigCoding.object(ResNetExperiment.Summary(
            experiment: cfg.experiment, dim: d, width: m, points: P, horizon: cfg.horizon, depths: cfg.depths,
            lipschitzBound: lipschitz, schemes: results))
        summary.set("metrics_rows", results.count * nd)
        summary.set("steps_run_counts", "the metrics rows after the first: one row per (scheme, depth), step = scheme's index × "
            + "\(nd) + depth_index, all computed before the run started")
        return summary
    }
}
