import Foundation
import WideNet

/// report.html of `widenet saddle --init-scales`: steps to each rank against log(1/σ0), and with
/// skipping the comparison table.
enum SaddleSweepReport {
    /// report.html from the sweep's summary.json and metrics.jsonl.
    static func html(_ run: RunFiles) throws -> String {
        let summary = run.summary
        var report = HTMLReport(title: "widenet saddle --init-scales")
        report.heading("Plateau length against the initial scale")
        report.keyValues(summary.pairs.filter { $0.0 != "skipping" && $0.0 != "notes" }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { report.paragraph(note) }
        if case .array(let comparisons)? = summary["skipping"], !comparisons.isEmpty {
            func f(_ v: JSONValue?, _ fmt: String) -> String { v?.numeric.map { String(format: fmt, $0) } ?? "—" }
            report.table(headers: ["σ0", "GD steps to target", "with skipping", "ratio", "seconds", "with skipping", "ranks reached"],
                         rows: comparisons.compactMap { value -> [String]? in
                guard case .object(let o) = value else { return nil }
                return [o["init_scale"]?.numeric.map(SaddleSweep.scaleText) ?? "—", f(o["steps_to_target"], "%.0f"), f(o["steps_to_target_skipping"], "%.0f"),
                        f(o["step_ratio"], "%.1f×"), f(o["seconds_to_target"], "%.3f"), f(o["seconds_to_target_skipping"], "%.3f"),
                        "\(o["ranks_reached"]?.displayText ?? "—") / \(o["ranks_reached_skipping"]?.displayText ?? "—")"]
            })
        }
        let logInverse = summary["log_inverse_scale"]?.numbers ?? [], escape = summary["first_escape_step"]?.numbers ?? []
        var series = [PlotSeries("first escape (rank 1)", x: logInverse, y: escape, style: .points)]
        if let slope = summary["slope_steps_per_log_inverse_scale"]?.numeric, let intercept = summary["intercept"]?.numeric {
            // The slope's 95 % interval from the residuals, or that two points cannot give one.
            var interval = ""
            if case .object(let fit)? = summary["fit_steps_per_log_inverse_scale"] {
                if let lo = fit["low"]?.numeric, let hi = fit["high"]?.numeric { interval = String(format: " [%.1f, %.1f]", lo, hi) }
                else if fit["identified"] == .bool(false) { interval = " (not identified)" }
            }
            series.append(PlotSeries(String(format: "fit: %.1f", slope) + interval + " steps per unit of log(1/σ0)", x: logInverse,
                                     y: logInverse.map { intercept + slope * $0 }, style: .dashed))
            if let theory = summary["theory_steps_per_log_inverse_scale"]?.numeric, theory.isFinite, let x0 = logInverse.first, let y0 = escape.first {
                series.append(PlotSeries(String(format: "theory: 1/ln(1 + ηs₁) = %.1f steps per unit", theory), x: logInverse,
                                         y: logInverse.map { y0 + theory * ($0 - x0) }, style: .dotted))
            }
        }
        let plain = SaddleSweep.rows(run.metrics, skipping: false)
        let reachedAll = plain.map { $0["rank_reached_at"]?.numbers ?? [] }
        let scales = plain.map { Foundation.log(1 / ($0["init_scale"]?.numeric ?? 1)) }
        let ranks = reachedAll.map(\.count).max() ?? 0
        for r in 1..<max(ranks, 1) {
            let pts = zip(scales, reachedAll).compactMap { $1.count > r ? ($0, $1[r]) : nil }
            series.append(PlotSeries("rank \(r + 1) reached", x: pts.map(\.0), y: pts.map(\.1), style: .points))
        }
        report.plot(SVGPlot(title: "Steps to each rank against log(1/σ0)", xLabel: "log(1/σ0)", yLabel: "step", series: series),
                    caption: "Theory: the time spent at each saddle grows linearly in log(1/σ0).")
        // Each scale's loss with and without skipping, from the members' losses.npy, with the escape
        // time the theory gives for discrete GD, ln(1/σ0)/ln(1 + ηs₁), marked on the GD curve.
        // None (null) for relu, which has no rate at the origin (the sweep's theory_note).
        let theory = summary["theory_steps_per_log_inverse_scale"]?.numeric.flatMap { $0.isFinite ? $0 : nil }
        for row in SaddleSweep.rows(run.metrics, skipping: false) {
            guard let scale = row["init_scale"]?.numeric else { continue }
            // The row names its member's directory (a sweep resumed from an earlier widenet may keep an older name).
            let name = row["member"].flatMap { if case .string(let s) = $0 { return s } else { return nil } } ?? SaddleSweep.memberName(scale, skip: false)
            guard let gd = try run.optionalArray(name + "/losses.npy")?.values, !gd.isEmpty else { continue }
            let floor = 1e-10 * gd[0]
            func curve(_ label: String, _ l: [Double], _ style: SeriesStyle) -> PlotSeries {
                let keep = l.indices.filter { l[$0] > floor }
                return PlotSeries(label, x: keep.map(Double.init), y: keep.map { l[$0] }, style: style)
            }
            var series = [curve("GD", gd, .line)]
            let skipName = SaddleSweep.rows(run.metrics, skipping: true).first { $0["init_scale"]?.numeric == scale }?["member"]
                .flatMap { if case .string(let s) = $0 { return s } else { return nil } } ?? SaddleSweep.memberName(scale, skip: true)
            if let skipped = try run.optionalArray(skipName + "/losses.npy")?.values {
                series.append(curve("with plateau skipping", skipped, .dashed))
            }
            if let theory {
                let escape = theory * Foundation.log(1 / scale)
                if Int(escape) < gd.count { series.append(PlotSeries("theory: first escape", x: [escape], y: [gd[Int(escape)]], style: .points)) }
            }
            report.plot(SVGPlot(title: "Loss from σ0 = " + SaddleSweep.scaleText(scale), xLabel: "step", yLabel: "½‖f − Y‖²/n", yLog: true,
                                series: series))
        }
        return report.render()
    }
}
