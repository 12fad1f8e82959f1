import Foundation

/// `widenet saddle --init-scales 1e-1,…,1e-8`: the same problem from several initial scales σ0. The
/// time to leave the saddle at the origin grows like log(1/σ0) (Arata); the sweep fits the
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
        var rows: [[String]] = []
        var comparisons: [JSONValue] = []
        var notes: [String] = []
        for scale in scales {
            var c = base
            c.initScale = scale
            c.quiet = true
            c.skipPlateaus = false
            c.out = root.file(String(format: "sigma%.0e", scale)).path
            let plain = try SaddleExperiment.run(c)
            if notes.isEmpty { notes = plain.notes }
            let reached = (plain.summary["rank_reached_at"]?.numbers ?? [])
            reachedAll.append(reached)
            var row = JSONObject()
            row.set("step", c.steps); row["loss"] = plain.summary["final_loss"] ?? .null
            row.set("init_scale", scale); row.set("rank_reached_at", reached)
            row["final_rank"] = plain.summary["final_rank"] ?? .null
            row["steps_to_target"] = plain.summary["steps_to_target"] ?? .null
            row["seconds_to_target"] = plain.summary["seconds_to_target"] ?? .null
            if let first = reached.first { escape.append(first); logInverse.append(Foundation.log(1 / scale)) }
            if base.skipPlateaus {
                c.skipPlateaus = true
                c.out = root.file(String(format: "sigma%.0e-skip", scale)).path
                let skipped = try SaddleExperiment.run(c)
                let a = plain.summary, b = skipped.summary
                let stepsA = (a["steps_to_target"]?.numbers ?? []).first, stepsB = (b["steps_to_target"]?.numbers ?? []).first
                let secA = (a["seconds_to_target"]?.numbers ?? []).first, secB = (b["seconds_to_target"]?.numbers ?? []).first
                let staircaseA = (a["rank_reached_at"]?.numbers ?? []).count, staircaseB = (b["rank_reached_at"]?.numbers ?? []).count
                var o = JSONObject()
                o.set("init_scale", scale)
                o.set("steps_to_target", stepsA); o.set("steps_to_target_skipping", stepsB)
                o.set("seconds_to_target", secA); o.set("seconds_to_target_skipping", secB)
                o.set("step_ratio", stepsA.flatMap { sa in stepsB.map { sa / max($0, 1) } })
                o.set("time_ratio", secA.flatMap { sa in secB.map { sa / max($0, 1e-9) } })
                o["final_loss"] = a["final_loss"] ?? .null; o["final_loss_skipping"] = b["final_loss"] ?? .null
                o.set("ranks_reached", staircaseA); o.set("ranks_reached_skipping", staircaseB)
                o["drop_count"] = a["drop_count"] ?? .null; o["jump_count"] = b["jump_count"] ?? .null
                row["skipping"] = .object(o)
                comparisons.append(.object(o))
                func f(_ v: Double?, _ fmt: String) -> String { v.map { String(format: fmt, $0) } ?? "—" }
                rows.append([String(format: "%.0e", scale), f(stepsA, "%.0f"), f(stepsB, "%.0f"),
                             f(stepsA.flatMap { sa in stepsB.map { sa / max($0, 1) } }, "%.1f×"),
                             f(secA, "%.3f"), f(secB, "%.3f"), "\(staircaseA) / \(staircaseB)"])
            }
            try root.appendMetrics(row)
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
        if base.skipPlateaus { summary["skipping"] = .array(comparisons) }
        summary.set("notes", notes.joined(separator: "; "))
        try root.writeJSON(summary, to: "summary.json")
        var report = HTMLReport(title: "widenet saddle --init-scales")
        report.heading("Plateau length against the initial scale")
        report.keyValues(summary.pairs.filter { $0.0 != "skipping" }.map { ($0.0, $0.1.displayText) })
        if !rows.isEmpty {
            report.table(headers: ["σ0", "GD steps to target", "with skipping", "ratio", "seconds", "with skipping", "ranks reached"],
                         rows: rows)
        }
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
