import Foundation

/// `widenet saddle`: plateaus and saddle-to-saddle dynamics of a small-initialisation two-layer net
/// (DESIGN.md §1.3, seeds 001 and 004): the loss in stages, the rank of the learned map rising by
/// one at each drop, and seed 001's singular regions (dead and near-duplicate units).
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
        public var skipFraction = 0.05           // the jump's target strength, as a fraction of s₁(G)
        public var backend: BackendKind = .auto
        public var precision: Precision = .f64
        public var out: String? = nil
        public var quiet = false
        public init() {}
    }

    struct Data { var x: [Double], y: [Double], n: Int, d: Int, k: Int, teacherSingularValues: [Double] }

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
            let s = try SingularValues.of(ya.values, rows: n, cols: k).map { $0 / Double(n).squareRoot() }
            return Data(x: xa.values, y: ya.values, n: n, d: xa.shape[1], k: k, teacherSingularValues: s)
        }
        guard c.n >= 1, c.d >= 1, c.k >= 1 else { throw BackendError("--n, --d and --k must be at least 1") }
        guard c.teacherRank >= 1, c.teacherRank <= min(c.d, c.k) else {
            throw BackendError("--teacher-rank must be between 1 and min(d, k) = \(min(c.d, c.k)) (got \(c.teacherRank))")
        }
        // Singular values: the given ones, continued downwards if the rank asks for more.
        var s = Array(c.singularValues.prefix(c.teacherRank))
        while s.count < c.teacherRank { s.append(max((s.last ?? 1) * 0.75, 1e-3)) }
        let g = PhiloxGenerator(seed: c.seed)
        let u = SingularValues.orthonormalColumns(g.array(count: c.k * c.teacherRank, stream: RandomStream.teacher.rawValue,
                                                          step: 0, distribution: .normal, scale: 1.0), rows: c.k, count: c.teacherRank)
        let v = SingularValues.orthonormalColumns(g.array(count: c.d * c.teacherRank, stream: RandomStream.teacher.rawValue,
                                                          step: 1, distribution: .normal, scale: 1.0), rows: c.d, count: c.teacherRank)
        var teacher = [Double](repeating: 0, count: c.k * c.d)      // M* = U diag(s) Vᵀ
        for a in 0..<c.k { for b in 0..<c.d { for r in 0..<c.teacherRank { teacher[a * c.d + b] += u[a * c.teacherRank + r] * s[r] * v[b * c.teacherRank + r] } } }
        let x: [Double] = g.array(count: c.n * c.d, stream: RandomStream.data.rawValue, step: 0, distribution: .normal, scale: 1.0)
        var y = [Double](repeating: 0, count: c.n * c.k)
        for i in 0..<c.n { for a in 0..<c.k { var acc = 0.0; for b in 0..<c.d { acc += teacher[a * c.d + b] * x[i * c.d + b] }; y[i * c.k + a] = acc } }
        return Data(x: x, y: y, n: c.n, d: c.d, k: c.k, teacherSingularValues: s)
    }

    public static func run(_ c: Config) throws -> (directory: URL, summary: JSONObject, notes: [String]) {
        guard c.steps >= 0 else { throw BackendError("--steps must be ≥ 0") }
        guard c.learningRate > 0, c.learningRate.isFinite else { throw BackendError("--lr must be positive") }
        guard c.initScale > 0, c.initScale.isFinite else { throw BackendError("--init-scale must be positive") }
        guard c.logEvery >= 1 else { throw BackendError("--log-every must be ≥ 1") }
        guard !c.skipPlateaus || c.activation == .linear else {
            throw BackendError("--skip-plateaus is implemented for linear nets so far (got --activation \(c.activation.rawValue))")
        }
        var notes: [String] = []
        if c.backend == .opencl { throw BackendError("saddle has no OpenCL implementation yet; use --backend cpu") }
        if c.backend == .auto { notes.append("saddle runs on the CPU backend (its sizes are small; no OpenCL implementation yet)") }
        let data = try data(c)
        var w1: [Double], w2: [Double], m: Int
        let g = PhiloxGenerator(seed: c.seed)
        if let p = c.initW1Path {
            let a = try NPY.read(URL(fileURLWithPath: p))
            guard a.shape.count == 2, a.shape[1] == data.d, a.shape[0] >= 1 else { throw BackendError("\(p): W1 must be m×\(data.d), got \(a.shape)") }
            w1 = a.values; m = a.shape[0]
        } else {
            guard c.hidden >= 1 else { throw BackendError("--hidden must be at least 1") }
            m = c.hidden
            w1 = g.array(count: m * data.d, stream: RandomStream.hiddenWeights.rawValue, step: 0, distribution: .normal, scale: c.initScale)
        }
        if let p = c.initW2Path {
            let a = try NPY.read(URL(fileURLWithPath: p))
            guard a.shape == [data.k, m] else { throw BackendError("\(p): W2 must be \(data.k)×\(m) (k×m), got \(a.shape)") }
            w2 = a.values
        } else {
            w2 = g.array(count: data.k * m, stream: RandomStream.outputWeights.rawValue, step: 0, distribution: .normal, scale: c.initScale)
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
        config.set("plateau_min_steps", c.plateauMinSteps); config.set("backend", "cpu"); config.set("out", c.out)
        config.set("skip_plateaus", c.skipPlateaus); config.set("skip_fraction", c.skipFraction)
        config["notes"] = .array(notes.map { .string($0) })
        try run.writeJSON(config, to: "config.json")

        let net = TwoLayerNet(x: data.x, y: data.y, n: data.n, d: data.d, k: data.k, w1: w1, w2: w2, m: m, activation: c.activation)
        // A singular value counts as learned once it passes half the smallest teacher value.
        let threshold = 0.5 * (data.teacherSingularValues.filter { $0 > 1e-9 }.min() ?? 1)
        var losses: [Double] = [], logged: [(step: Int, loss: Double, s: [Double], rank: Int)] = []
        var skips: [(step: Int, skipped: Double)] = []
        var flatSince = 0
        let progress = ProgressBar(total: c.steps, label: "saddle", quiet: c.quiet)
        let started = Date()
        for step in 0...c.steps {
            let loss = net.forward()
            guard loss.isFinite else { throw BackendError("training diverged at step \(step); try a smaller --lr") }
            losses.append(loss)
            if step % c.logEvery == 0 || step == c.steps {
                let s = try mapSingularValues(net)
                let rank = s.filter { $0 > threshold }.count
                var row = JSONObject()
                row.set("step", step); row.set("loss", loss); row.set("rank", rank)
                row.set("singular_values", Array(s.prefix(max(data.k, 1))))
                let units = unitDiagnostics(net)
                row.set("alignment", units.alignment); row.set("dead_units", units.dead); row.set("duplicate_pairs", units.duplicates)
                try run.appendMetrics(row)
                logged.append((step, loss, s, rank))
                progress.update(step: step, loss: loss)
            }
            // In a plateau (relative change under the threshold for plateauMinSteps steps), jump.
            if c.skipPlateaus, step > 0, loss > 1e-8 * losses[0] {
                flatSince = abs(loss - losses[step - 1]) <= c.plateauThreshold * losses[step - 1] ? flatSince + 1 : 0
                if flatSince >= c.plateauMinSteps, let skipped = try net.skipAlongTopDirection(fraction: c.skipFraction,
                                                                                              learningRate: c.learningRate) {
                    skips.append((step, skipped))
                    flatSince = 0
                    _ = net.forward()
                }
            }
            if step < c.steps { net.step(c.optimizer, learningRate: c.learningRate) }
        }
        progress.finish()
        try run.close()

        let plateaus = PlateauDetector.plateaus(losses, threshold: c.plateauThreshold, minSteps: c.plateauMinSteps,
                                                floor: 1e-8 * (losses.first ?? 0))
        func rank(at step: Int) -> Int { logged.last(where: { $0.step <= step })?.rank ?? 0 }
        var summary = JSONObject()
        summary.set("command", "saddle"); summary.set("backend", "cpu")
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
            return .object(o)
        })
        summary.set("plateau_count", plateaus.count)
        if c.skipPlateaus {
            summary["skips"] = .array(skips.map { s in
                var o = JSONObject(); o.set("step", s.step); o.set("steps_replaced", s.skipped); return .object(o)
            })
            summary.set("steps_replaced_by_skips", skips.reduce(0) { $0 + $1.skipped })
        }
        summary.set("wall_seconds", Date().timeIntervalSince(started))
        summary.set("notes", notes.joined(separator: "; "))
        try run.writeJSON(summary, to: "summary.json")
        try run.writeArray(net.w1, shape: [m, data.d], to: "w1.npy")
        try run.writeArray(net.w2, shape: [data.k, m], to: "w2.npy")
        try run.writeText(report(summary: summary, logged: logged, losses: losses, plateaus: plateaus,
                                 teacher: data.teacherSingularValues, notes: notes), to: "report.html")
        return (run.url, summary, notes)
    }

    /// Singular values of the learned map: W2W1 for a linear net, else of the fitted outputs F/√n.
    static func mapSingularValues(_ net: TwoLayerNet) throws -> [Double] {
        if net.activation == .linear { return try SingularValues.of(net.endToEnd(), rows: net.k, cols: net.d) }
        return try SingularValues.of(net.outputs, rows: net.n, cols: net.k).map { $0 / Double(net.n).squareRoot() }
    }

    /// Seed 004's alignment (share of ‖W1‖²_F in its top direction) and seed 001's singular regions:
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
                       plateaus: [Plateau], teacher: [Double], notes: [String]) -> String {
        var r = HTMLReport(title: "widenet saddle")
        r.heading("Saddle-to-saddle dynamics of a small-initialisation two-layer net")
        r.keyValues(summary.pairs.filter { $0.0 != "plateaus" && $0.0 != "notes" && $0.0 != "skips" }.map { ($0.0, $0.1.displayText) })
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
        r.plots([
            SVGPlot(title: "The staircase: loss", xLabel: "step", yLabel: "½‖f − Y‖²/n", yLog: true,
                    series: [PlotSeries("loss", x: losses.indices.map(Double.init), y: losses)]),
            SVGPlot(title: "Singular values of the learned map", xLabel: "step", yLabel: "singular value", series: svSeries),
            SVGPlot(title: "Rank of the learned map", xLabel: "step", yLabel: "rank",
                    series: [PlotSeries("rank", x: steps, y: logged.map { Double($0.rank) })]),
        ])
        return r.render()
    }
}
