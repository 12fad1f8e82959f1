import Foundation

/// `widenet saddle`: plateaus and saddle-to-saddle dynamics of a small-initialisation two-layer net
/// (ARCHITECTURE.md §1.3: Jacot et al.; Amari; Arata): the loss in stages, the rank of the learned map rising by
/// one at each drop, and Amari's singular regions (dead and near-duplicate units).
public enum SaddleExperiment {
    public struct Config: Sendable {
        public var n = 1000, d = 10, k = 5, hidden = 20
        public var initScale = 1e-6
        public var teacherRank = 5
        public var singularValues: [Double] = [10, 8, 6, 4, 2]
        public var activation: Activation = .linear
        public var optimizer: Optimizer = .gd
        public var steps = 3000
        public var learningRate = 0.02
        public var seed: UInt64 = 0
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
    }

    struct Data { var x: [Double], y: [Double], n: Int, d: Int, k: Int, teacherSingularValues: [Double] }

    /// Host memory of a run: the data (X, Y, their whitened copies), the n×m pre-activations,
    /// activations and their gradient, the optimiser's copies of the weights and, with plateau
    /// skipping, one d×k matrix per unit.
    static func preflight(n: Int, d: Int, k: Int, m: Int, _ c: Config) throws {
        let (n, d, k, m) = (Double(n), Double(d), Double(k), Double(m))
        let perSample = 2 * d + 4 * k + 4 * m
        let fixed = 6 * (m * d + k * m) + (c.skipPlateaus ? m * d * k : 0)
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
            let s = try SingularValues.of(ya.values, rows: n, cols: k).map { $0 / Double(n).squareRoot() }
            return Data(x: xa.values, y: ya.values, n: n, d: xa.shape[1], k: k, teacherSingularValues: s)
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
        if c.activation != .linear {
            // The singular values the student's staircase climbs are those of the teacher's outputs.
            s = try SingularValues.of(y, rows: c.n, cols: c.k).map { $0 / Double(c.n).squareRoot() }.filter { $0 > 1e-9 * (s.first ?? 1) }
        }
        return Data(x: x, y: y, n: c.n, d: c.d, k: c.k, teacherSingularValues: s)
    }

    public static func run(_ c: Config) throws -> (directory: URL, summary: JSONObject, notes: [String]) {
        // The nets are small: every product is cheaper than waking OpenBLAS's threads.
        try BLAS.singleThreaded { try runSingleThreaded(c) }
    }

    static func runSingleThreaded(_ c: Config) throws -> (directory: URL, summary: JSONObject, notes: [String]) {
        guard c.steps >= 0 else { throw BackendError("--steps must be ≥ 0") }
        guard c.learningRate > 0, c.learningRate.isFinite else { throw BackendError("--lr must be positive") }
        guard c.initScale > 0, c.initScale.isFinite else { throw BackendError("--init-scale must be positive") }
        guard c.logEvery >= 1 else { throw BackendError("--log-every must be ≥ 1") }
        if let t = c.targetLoss { guard t > 0, t.isFinite else { throw BackendError("--target-loss must be positive") } }
        var notes: [String] = []
        let products: MatrixProducts
        switch c.backend {
        case .cpu, .auto:
            products = MatrixProducts(backend: nil)
            if c.backend == .auto { notes.append("saddle's nets are small, so auto runs it on the CPU (OpenBLAS); --backend opencl runs its matrix products on the device") }
        case .opencl:
            products = MatrixProducts(backend: try BackendSelection.make(kind: .opencl, device: c.device, precision: .f64).backend)
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

        let run = try RunDirectory(path: c.out, command: "saddle")
        var config = JSONObject()
        config.set("command", "saddle"); config.set("version", widenetVersion)
        config.set("n", data.n); config.set("d", data.d); config.set("k", data.k); config.set("hidden", m)
        config.set("init_scale", c.initScale); config.set("teacher_rank", c.teacherRank)
        config.set("teacher_singular_values", data.teacherSingularValues)
        config.set("activation", c.activation.rawValue); config.set("optimizer", c.optimizer.rawValue)
        config.set("steps", c.steps); config.set("lr", c.learningRate); config.set("seed", Int(truncatingIfNeeded: c.seed))
        config.set("x", c.xPath); config.set("y", c.yPath); config.set("init_w1", c.initW1Path); config.set("init_w2", c.initW2Path)
        config.set("log_every", c.logEvery); config.set("plateau_threshold", c.plateauThreshold)
        config.set("plateau_min_steps", c.plateauMinSteps); config.set("out", c.out)
        config.set("backend", products.onDevice ? "opencl" : "cpu"); config.set("device", c.device)
        config.set("precision", "f64"); config.set("initialization", c.initialization.rawValue)
        config.set("inputs", c.xPath == nil ? (c.whitenInputs ? "whitened" : "gaussian") : "file")
        config.set("target_loss", c.targetLoss); config.set("skip_plateaus", c.skipPlateaus)
        config["notes"] = .array(notes.map { .string($0) })
        try run.writeJSON(config, to: "config.json")

        let net = TwoLayerNet(x: data.x, y: data.y, n: data.n, d: data.d, k: data.k, w1: w1, w2: w2, m: m, activation: c.activation, products: products)
        // A singular value counts as learned once it passes half the smallest teacher value.
        let threshold = 0.5 * (data.teacherSingularValues.filter { $0 > 1e-9 }.min() ?? 1)
        var losses: [Double] = [], logged: [(step: Int, loss: Double, s: [Double], rank: Int)] = []
        var jumps: [(step: Int, jump: PlateauJump, rank: Int)] = []
        var singular: [(step: Int, dead: Int, duplicates: Int)] = []      // Amari's singular regions, per logged step
        var flatSince = 0
        var target = c.targetLoss
        var reachedTarget: (step: Int, seconds: Double)? = nil
        let progress = ProgressBar(total: c.steps, label: "saddle", quiet: c.quiet)
        let started = Date()
        for step in 0...c.steps {
            let loss = try net.forward()
            guard loss.isFinite else { throw BackendError("training diverged at step \(step); try a smaller --lr") }
            losses.append(loss)
            if target == nil { target = 1e-4 * loss }
            if reachedTarget == nil, let target, loss <= target { reachedTarget = (step, Date().timeIntervalSince(started)) }
            if step % c.logEvery == 0 || step == c.steps || jumps.last?.step == step - 1 {
                let s = try mapSingularValues(net)
                let rank = s.filter { $0 > threshold }.count
                var row = JSONObject()
                row.set("step", step); row.set("loss", loss); row.set("rank", rank)
                row.set("singular_values", Array(s.prefix(max(data.k, 1))))
                let units = unitDiagnostics(net)
                row.set("alignment", units.alignment); row.set("dead_units", units.dead); row.set("duplicate_pairs", units.duplicates)
                singular.append((step, units.dead, units.duplicates))
                try run.appendMetrics(row)
                logged.append((step, loss, s, rank))
                progress.update(step: step, loss: loss)
            }
            // In a plateau (relative change under the threshold for plateauMinSteps steps), jump;
            // the next step's row shows where the jump landed.
            if c.skipPlateaus, step > 0, step < c.steps, reachedTarget == nil {
                flatSince = abs(loss - losses[step - 1]) <= c.plateauThreshold * losses[step - 1] ? flatSince + 1 : 0
                if flatSince >= c.plateauMinSteps {
                    flatSince = 0
                    if let jump = try net.jumpAlongTopDirections(learningRate: c.learningRate) {
                        jumps.append((step, jump, try mapSingularValues(net).filter { $0 > threshold }.count))
                    }
                }
            }
            if step < c.steps { try net.step(c.optimizer, learningRate: c.learningRate) }
        }
        let wall = Date().timeIntervalSince(started)
        progress.finish()
        try run.close()

        let plateaus = PlateauDetector.plateaus(losses, threshold: c.plateauThreshold, minSteps: c.plateauMinSteps,
                                                floor: 1e-8 * (losses.first ?? 0))
        func rank(at step: Int) -> Int { logged.last(where: { $0.step <= step })?.rank ?? 0 }
        var summary = JSONObject()
        summary.set("command", "saddle"); summary.set("backend", products.onDevice ? "opencl" : "cpu")
        summary.set("initial_loss", losses.first); summary.set("final_loss", losses.last)
        summary.set("final_rank", logged.last?.rank)
        summary.set("final_singular_values", logged.last.map { Array($0.s.prefix(data.k)) } ?? [])
        summary.set("teacher_singular_values", data.teacherSingularValues)
        summary.set("rank_threshold", threshold)
        // The steps at which the rank first reaches 1, 2, …: the drops of the staircase.
        var reached: [Double] = []
        for r in 1...max(1, data.k) {
            if let first = logged.first(where: { $0.rank >= r }) { reached.append(Double(first.step)) }
        }
        summary.set("rank_reached_at", reached)
        summary["plateaus"] = .array(plateaus.map { p in
            var o = JSONObject()
            o.set("start", p.start); o.set("end", p.end); o.set("length", p.end - p.start + 1); o.set("loss", p.loss)
            o.set("rank", rank(at: p.start))
            if let mid = singular.last(where: { $0.step <= (p.start + p.end) / 2 }) {
                o.set("dead_units", mid.dead); o.set("duplicate_pairs", mid.duplicates)
            }
            return .object(o)
        })
        summary.set("plateau_count", plateaus.count)
        let floor = 1e-8 * (losses.first ?? 0)
        // A jump is a one-step drop; unsmoothed, jumps a few steps apart stay apart.
        let found = DropDetector.drops(losses, floor: floor, halfWidth: c.skipPlateaus ? 0 : 5)
        let drops: [JSONValue] = found.map { drop in
            var o = JSONObject()
            o.set("start", drop.start); o.set("peak", drop.peak); o.set("end", drop.end)
            o.set("loss_before", drop.lossBefore); o.set("loss_after", drop.lossAfter)
            o.set("rank_before", rank(at: drop.start)); o.set("rank_after", rank(at: drop.end))
            return .object(o)
        }
        summary["drops"] = .array(drops)
        summary.set("drop_count", drops.count)
        summary.set("ranks_after_drops", found.map { Double(rank(at: $0.end)) })
        summary.set("target_loss", target)
        summary.set("steps_to_target", reachedTarget?.step); summary.set("seconds_to_target", reachedTarget?.seconds)
        if c.skipPlateaus {
            summary["jumps"] = .array(jumps.map { s in
                var o = JSONObject(); o.set("step", s.step); o.set("steps_replaced", s.jump.stepsReplaced)
                o.set("loss_before", s.jump.lossBefore); o.set("loss_after", s.jump.lossAfter); o.set("top_rate", s.jump.topRate)
                o.set("rank_after", s.rank)
                return .object(o)
            })
            summary.set("jump_count", jumps.count)
            summary.set("ranks_after_jumps", jumps.map { Double($0.rank) })
            summary.set("steps_replaced_by_jumps", jumps.reduce(0) { $0 + $1.jump.stepsReplaced })
        }
        summary.set("wall_seconds", wall)
        summary.set("steps_per_second", wall > 0 ? Double(c.steps) / wall : nil)
        summary.set("notes", notes.joined(separator: "; "))
        try run.writeJSON(summary, to: "summary.json")
        try run.writeArray(net.w1, shape: [m, data.d], to: "w1.npy")
        try run.writeArray(net.w2, shape: [data.k, m], to: "w2.npy")
        try run.writeText(report(summary: summary, logged: logged, losses: losses, plateaus: plateaus,
                                 teacher: data.teacherSingularValues, jumps: jumps.map { ($0.step, $0.jump.lossAfter) },
                                 notes: notes), to: "report.html")
        return (run.url, summary, notes)
    }

    /// Singular values of the learned map: W2W1 for a linear net, else of the fitted outputs F/√n.
    static func mapSingularValues(_ net: TwoLayerNet) throws -> [Double] {
        if net.activation == .linear { return try SingularValues.of(try net.endToEnd(), rows: net.k, cols: net.d) }
        return try SingularValues.of(net.outputs, rows: net.n, cols: net.k).map { $0 / Double(net.n).squareRoot() }
    }

    /// Arata's alignment (share of ‖W1‖²_F in its top direction) and Amari's singular regions:
    /// units whose contribution ‖W2[:, r]‖·‖W1[r, :]‖ is under 10⁻³ of the largest (dead), and pairs
    /// of live units whose W1 rows have cosine above 0.999 (near-duplicates).
    static func unitDiagnostics(_ net: TwoLayerNet) -> (alignment: Double, dead: Int, duplicates: Int) {
        let (m, d, k) = (net.m, net.d, net.k)
        let w1 = net.w1, w2 = net.w2
        let rowNorm = (0..<m).map { r in (0..<d).reduce(0.0) { $0 + w1[r * d + $1] * w1[r * d + $1] }.squareRoot() }
        let outNorm = (0..<m).map { r in (0..<k).reduce(0.0) { $0 + w2[$1 * m + r] * w2[$1 * m + r] }.squareRoot() }
        let contribution = zip(rowNorm, outNorm).map { $0 * $1 }
        let top = contribution.max() ?? 0
        let live = (0..<m).filter { contribution[$0] >= 1e-3 * top }
        var duplicates = 0
        if live.count <= 2000 {
            for (a, r) in live.enumerated() {
                for s in live[(a + 1)...] {
                    var dot = 0.0
                    for q in 0..<d { dot += w1[r * d + q] * w1[s * d + q] }
                    if dot > 0.999 * rowNorm[r] * rowNorm[s] { duplicates += 1 }
                }
            }
        }
        let fro = rowNorm.reduce(0) { $0 + $1 * $1 }
        let s1 = (try? SingularValues.of(w1, rows: m, cols: d).first) ?? 0
        return (fro > 0 ? (s1 * s1) / fro : 0, m - live.count, duplicates)
    }

    static func report(summary: JSONObject, logged: [(step: Int, loss: Double, s: [Double], rank: Int)], losses: [Double],
                       plateaus: [Plateau], teacher: [Double], jumps: [(step: Int, loss: Double)], notes: [String]) -> String {
        var r = HTMLReport(title: "widenet saddle")
        r.heading("Saddle-to-saddle dynamics of a small-initialisation two-layer net")
        r.keyValues(summary.pairs.filter { $0.0 != "plateaus" && $0.0 != "notes" && $0.0 != "jumps" && $0.0 != "drops" }.map { ($0.0, $0.1.displayText) })
        for note in notes { r.paragraph(note) }
        if !plateaus.isEmpty {
            r.table(headers: ["plateau", "start", "end", "length", "loss", "rank"], rows: plateaus.enumerated().map { i, p in
                ["\(i + 1)", "\(p.start)", "\(p.end)", "\(p.end - p.start + 1)", String(format: "%.4g", p.loss),
                 "\(logged.last(where: { $0.step <= p.start })?.rank ?? 0)"]
            })
        }
        let steps = logged.map { Double($0.step) }
        var svSeries: [PlotSeries] = []
        for i in 0..<min(teacher.count, logged.first?.s.count ?? 0) {
            svSeries.append(PlotSeries("s\(i + 1) (teacher \(String(format: "%.3g", teacher[i])))", x: steps, y: logged.map { $0.s[i] }))
        }
        // The staircase with the learned singular values on the same log axis; below 10⁻⁸ of the
        // initial loss the run has converged and the curve would only stretch the axis.
        let floor = 1e-8 * (losses.first ?? 1)
        let shown = losses.indices.filter { losses[$0] > floor }
        let lastStep = Double(min(losses.count - 1, Int(1.2 * Double((shown.last ?? 0) + 10))))
        var staircase = [PlotSeries("loss", x: shown.map(Double.init), y: shown.map { losses[$0] })]
        staircase += svSeries.map { series in
            let keep = series.x.indices.filter { series.x[$0] <= lastStep }
            return PlotSeries(series.name, x: keep.map { series.x[$0] }, y: keep.map { series.y[$0] }, style: .dashed)
        }
        if !jumps.isEmpty {
            staircase.append(PlotSeries("plateau jumps", x: jumps.map { Double($0.step) }, y: jumps.map(\.loss), style: .points))
        }
        r.plots([
            SVGPlot(title: "The staircase: loss and singular values", xLabel: "step", yLabel: "½‖f − Y‖²/n, s_i", yLog: true,
                    series: staircase),
            SVGPlot(title: "Singular values of the learned map", xLabel: "step", yLabel: "singular value", series: svSeries),
            SVGPlot(title: "Rank of the learned map", xLabel: "step", yLabel: "rank",
                    series: [PlotSeries("rank", x: steps, y: logged.map { Double($0.rank) })]),
        ])
        return r.render()
    }
}
