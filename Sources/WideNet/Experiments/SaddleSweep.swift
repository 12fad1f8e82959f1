import Foundation

/// `widenet saddle --init-scales 1e-1,…,1e-8`: the same problem from several initial scales σ0. The
/// time to leave the saddle at the origin grows like log(1/σ0) (seed 004); the sweep fits the
/// first plateau's length, and the step at which each rank is reached, against log(1/σ0).
public enum SaddleSweep {
    public static func run(_ base: SaddleExperiment.Config, scales: [Double]) throws -> (directory: URL, summary: JSONObject, notes: [String]) {
        guard scales.count >= 2, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw BackendError("--init-scales needs at least two positive scales")
        }
        let root = try RunDirectory(path: base.out, command: "saddle-sweep")
        var config = JSONObject()
        config.set("command", "saddle"); config.set("version", widenetVersion)
        config.set("init_scales", scales); config.set("steps", base.steps); config.set("lr", base.learningRate)
        config.set("activation", base.activation.rawValue); config.set("optimizer", base.optimizer.rawValue)
        config.set("teacher_rank", base.teacherRank); config.set("seed", Int(truncatingIfNeeded: base.seed))
        try root.writeJSON(config, to: "config.json")
        var escape: [Double] = [], logInverse: [Double] = [], reachedAll: [[Double]] = []
        var notes: [String] = []
        for scale in scales {
            var c = base
            c.initScale = scale
            c.out = root.file(String(format: "sigma%.0e", scale)).path
            c.quiet = true
            let r = try SaddleExperiment.run(c)
            if notes.isEmpty { notes = r.notes }
            var reached: [Double] = []
            if case .array(let values)? = r.summary["rank_reached_at"] {
                reached = values.compactMap { if case .number(let v) = $0 { return v }; if case .int(let v) = $0 { return Double(v) }; return nil }
            }
            reachedAll.append(reached)
            var row = JSONObject()
            row.set("step", c.steps); row["loss"] = r.summary["final_loss"] ?? .null
            row.set("init_scale", scale); row.set("rank_reached_at", reached)
            row["final_rank"] = r.summary["final_rank"] ?? .null
            try root.appendMetrics(row)
            if let first = reached.first { escape.append(first); logInverse.append(Foundation.log(1 / scale)) }
        }
        try root.close()
        let fit = LinearFit(x: logInverse, y: escape)
        var summary = JSONObject()
        summary.set("command", "saddle-sweep")
        summary.set("init_scales", scales)
        summary.set("log_inverse_scale", logInverse)
        summary.set("first_escape_step", escape)
        summary.set("slope_steps_per_log_inverse_scale", fit?.slope)
        summary.set("intercept", fit?.intercept); summary.set("r2", fit?.r2)
        summary.set("notes", notes.joined(separator: "; "))
        try root.writeJSON(summary, to: "summary.json")
        var report = HTMLReport(title: "widenet saddle --init-scales")
        report.heading("Plateau length against the initial scale")
        report.keyValues(summary.pairs.map { ($0.0, $0.1.displayText) })
        var series = [PlotSeries("first escape (rank 1)", x: logInverse, y: escape, style: .points)]
        if let fit {
            series.append(PlotSeries(String(format: "fit: %.1f steps per unit of log(1/σ0)", fit.slope), x: logInverse,
                                     y: logInverse.map { fit.intercept + fit.slope * $0 }, style: .dashed))
        }
        let ranks = reachedAll.map(\.count).max() ?? 0
        for r in 1..<max(ranks, 1) {
            let pts = zip(logInverse, reachedAll).compactMap { $1.count > r ? ($0, $1[r]) : nil }
            series.append(PlotSeries("rank \(r + 1) reached", x: pts.map(\.0), y: pts.map(\.1), style: .points))
        }
        report.plot(SVGPlot(title: "Steps to each rank against log(1/σ0)", xLabel: "log(1/σ0)", yLabel: "step", series: series),
                    caption: "Theory: the time spent at each saddle grows linearly in log(1/σ0).")
        try root.writeText(report.render(), to: "report.html")
        return (root.url, summary, notes)
    }
}
