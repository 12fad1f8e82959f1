import Foundation

/// `widenet sweep`: the `widenet train` experiment at several widths with the same data, seed and
/// step size (ARCHITECTURE.md §1.1, §3), and how its diagnostics scale with m. The theory: the largest
/// weight movement falls like 1/√m, and so do the flipped activation patterns and the distance
/// to the kernel prediction; log-log slopes against m are fitted to each.
public enum WidthSweep {
    /// The diagnostics fitted against m: metrics column and the name their fit takes in summary.json.
    public static let fittedFigures = [("final_max_move", "max_move"), ("final_flip_fraction", "flip_fraction"),
                                ("max_kernel_deviation", "kernel_deviation")]

    /// Movement of the weights in the NTK regime: max_r ‖w_r(k) − w_r(0)‖ = O(1/√m).
    public static let theorySlope = -0.5

    /// Runs every width, smallest first, each into `<out>/width-<m>/` (SweepHarness); `finished` is
    /// called after each with its metrics row. Nothing is written until every check has passed;
    /// `resume` continues the sweep in `base.out`.
    /// With `seeds` > 1 every width runs that many times on the same data (seeds seed, seed + 1, …
    /// for the weights), each into `width-<m>-s<j>`, and the slopes get seed-bootstrap intervals.
    public static func run(_ base: NTKTrainConfig, widths: [Int], seeds: Int = 1, control: RunControl = RunControl(),
                           resume: Bool = false,
                           finished: (Int, Int, JSONObject, Double) -> Void = { _, _, _, _ in }) throws -> RunOutcome {
        let widths = try checkedWidths(widths, base)
        guard seeds >= 1 else { throw BackendError("--seeds must be at least 1 (got \(seeds))") }
        let plan = try preflight(base, largest: widths[widths.count - 1])
        var members: [SweepMember] = [], plan2: [(width: Int, seed: Int)] = []
        for width in widths {
            for j in 0..<seeds {
                plan2.append((width, j))
                members.append(SweepMember(name: seeds == 1 ? "width-\(width)" : "width-\(width)-s\(j)") { out, memberControl in
                    var c = base
                    c.width = width; c.out = out; c.quiet = true
                    // One data set for the whole sweep; the seeds vary the initial weights only.
                    c.dataSeed = base.dataSeed ?? base.seed
                    c.seed = base.seed &+ UInt64(j)
                    return try NTKTrainExperiment.run(c, control: memberControl)
                })
            }
        }
        return try SweepHarness.run(command: "sweep", resumeCommand: "sweep", out: base.out, resume: resume,
                                    config: {
                                        var c = config(base, widths: widths, plan: plan, control: control)
                                        c.set("seeds", seeds)
                                        return c
                                    }, members: members,
                                    memberSummary: TrainSummary.self, control: control, quiet: base.quiet, row: { index, s, times in
            // η = 1/λ_max(H∞) comes from the data alone, so every width must have run with the same one.
            let width = plan2[index].width
            guard abs(s.lr - plan.lr) <= 1e-12 * plan.lr else {
                throw BackendError("width \(width) ran with η = \(s.lr) where the sweep planned η = \(plan.lr); the widths would not be comparable")
            }
            var row = JSONObject()
            row.set("step", base.steps); row.set("loss", s.finalLoss); row.set("width", width)
            if seeds > 1 { row.set("seed", Int(truncatingIfNeeded: base.seed &+ UInt64(plan2[index].seed))) }
            row.set("initial_loss", s.initialLoss); row.set("final_max_move", s.finalMaxMove)
            row.set("final_flip_fraction", s.finalFlipFraction); row.set("max_kernel_deviation", s.maxKernelDeviation)
            row.set("lambda_min_h_initial", s.lambdaMinHInitial); row.set("lambda_min_h_final", s.lambdaMinHFinal)
            row.set("bound_holds", s.boundHolds); row.set("steps_per_second", times.stepsPerSecond)
            row.set("teacher_alignment", s.teacherAlignment); row.set("teacher_alignment_initial", s.teacherAlignmentInitial)
            row.set("target_reached_at", s.targetReachedAt)
            return row
        }, summary: { rows, _ in
            var summary = JSONObject()
            summary.set("backend", plan.backend); summary.set("device", plan.device)
            summary.set("precision", base.precision.rawValue)
            summary.set("n", plan.n); summary.set("d", plan.d); summary.set("steps", base.steps)
            summary.set("lr", plan.lr); summary.set("lambda0", plan.lambda0); summary.set("lambda_max", plan.lambdaMax)
            summary["widths"] = .array(widths.map { .int($0) })
            summary.set("seeds", seeds)
            let ms = widths.map(Double.init)
            for (column, name) in fittedFigures {
                // The descriptive line through the seed means, and the slope with its seed-bootstrap interval.
                // Rows come in member order: width by width, the seeds of each width in turn.
                let perSeed = (0..<seeds).map { j in widths.indices.map { i in rows[i * seeds + j][column]?.numeric ?? .nan } }
                let means = widths.indices.map { i in perSeed.reduce(0.0) { $0 + $1[i] } / Double(seeds) }
                let fit = LinearFit.logLog(x: ms, y: means)
                summary.set("slope_\(name)", fit?.slope)
                summary.set("intercept_\(name)", fit?.intercept)
                summary.set("r2_\(name)", fit?.r2)
                let fitted = SeedBootstrap.fit(x: ms, values: perSeed, parameters: 2, seed: base.seed) { x, y in LinearFit.logLog(x: x, y: y)?.slope }
                summary["fit_\(name)"] = .object(try ConfigCoding.object(fitted))
            }
            summary.set("theory_slope_max_move", theorySlope)
            summary.set("bound_holds", rows.allSatisfy { $0["bound_holds"] == .bool(true) })
            return summary
        }, finished: finished)
    }

    /// Fit of log(column) against log(width) over the rows where both are positive.
    public static func logLogFit(_ rows: [JSONObject], _ column: String) -> LinearFit? {
        LinearFit.logLog(x: rows.map { $0["width"]?.numeric ?? .nan }, y: rows.map { $0[column]?.numeric ?? .nan })
    }

    /// Ascending widths, at least two distinct and positive, on a config that does not fix the width.
    static func checkedWidths(_ widths: [Int], _ base: NTKTrainConfig) throws -> [Int] {
        if let bad = widths.first(where: { $0 < 1 }) { throw BackendError("--widths must be positive (got \(bad))") }
        if let twice = widths.first(where: { w in widths.filter { $0 == w }.count > 1 }) {
            throw BackendError("--widths lists \(twice) more than once")
        }
        guard widths.count >= 2 else { throw BackendError("--widths needs at least two widths to fit a slope against m (got \(widths.count))") }
        guard base.width == nil, base.initWPath == nil, base.initAPath == nil else {
            throw BackendError("the sweep sets the width itself; --width, --init-w and --init-a do not apply")
        }
        return widths.sorted()
    }

    /// What the runs share, found before anything is written.
    struct Plan {
        var n: Int, d: Int
        var lambda0: Double, lambdaMax: Double, lr: Double
        var backend: String, device: String
    }

    /// The checks each `widenet train` run makes before writing, made once up front so the sweep
    /// fails before its directory exists and not after hours at smaller widths; the largest width
    /// stands for all since the memory needed grows with m.
    static func preflight(_ base: NTKTrainConfig, largest: Int) throws -> Plan {
        try SGDSetup.validateGD(base)
        guard base.steps >= 0 else { throw BackendError("--steps must be ≥ 0 (got \(base.steps))") }
        if let lr = base.learningRate, !(lr > 0 && lr.isFinite) { throw BackendError("--lr must be a positive number (got \(lr))") }
        if let k = base.logEvery, k < 1 { throw BackendError("--log-every must be ≥ 1 (got \(k))") }
        guard base.gramEvery >= 0 else { throw BackendError("--gram-every must be ≥ 0 (got \(base.gramEvery))") }
        guard base.kappa > 0, base.kappa.isFinite else { throw BackendError("--kappa must be positive (got \(base.kappa))") }
        var probe = base
        probe.width = largest
        let inputs = try TrainInputs.load(probe)
        let backend = try BackendSelection.make(kind: base.backend, device: base.device, precision: base.precision).backend
        try TrainSetup.preflight(base, width: largest, inputs: inputs, on: backend.info)
        let kernel = try InfiniteWidthKernel(x: inputs.x, n: inputs.n, d: inputs.d, outputLayerScale: base.trainOutput ? base.kappa : nil)
        try kernel.requirePositiveDefinite()
        let (lambda0, lambdaMax) = (kernel.lambda0, kernel.lambdaMax)
        return Plan(n: inputs.n, d: inputs.d, lambda0: lambda0, lambdaMax: lambdaMax, lr: base.learningRate ?? 1 / lambdaMax,
                    backend: backend.info.kind, device: backend.info.deviceName)
    }

    /// config.json: the train options shared by every width, with `widths` in place of `width`.
    static func config(_ base: NTKTrainConfig, widths: [Int], plan: Plan, control: RunControl) -> JSONObject {
        let train = base.json(resolved: [
            ("backend", .string(plan.backend)), ("device", .string(plan.device)), ("n", .int(plan.n)), ("d", .int(plan.d)),
            ("lr", .number(plan.lr)), ("lambda0", .number(plan.lambda0)), ("lambda_max", .number(plan.lambdaMax)),
            ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null),
        ])
        var o = JSONObject()
        o.set("command", "sweep")
        o["widths"] = .array(widths.map { .int($0) })
        // checkedWidths refuses a width and initial weights, so they are not options of a sweep.
        for (key, value) in train.pairs where !["command", "width", "init_w", "init_a"].contains(key) { o[key] = value }
        return o
    }
}
