import Foundation
import WideNet

/// report.html of `widenet sweep`: each diagnostic against the width on log-log axes with its
/// fitted power law, the fitted slopes, and a table with one row per width. Drawn from
/// summary.json and the metrics rows alone, so `widenet report` rebuilds it from the files.
enum WidthSweepReport {
    /// `curves`: each width's logged loss and kernel prediction, from its run directory.
    static func html(summary: JSONObject, rows: [JSONObject], curves: [(width: Int, history: History)] = []) -> String {
        let m = column(rows, "width")
        let steps = summary["steps"]?.displayText ?? "?"
        var r = HTMLReport(title: "widenet sweep")
        r.heading("The NTK regime across widths")
        r.keyValues(summary.pairs.compactMap { key, value in
            key == "notes" || fitKeys.contains(where: key.hasPrefix) ? nil : (key, value.displayText)
        })
        switch summary["notes"] {
        case .array(let notes)?: for case .string(let note) in notes { r.paragraph(note) }
        case .string(let note)? where !note.isEmpty: r.paragraph(note)
        default: break
        }
        r.table(headers: ["against the width m", "log-log slope", "95 % interval over seeds", "R²", "theory"],
                rows: WidthSweep.fittedFigures.map { column, name in
                    [label[column] ?? name, cell(summary["slope_\(name)"], format: "%.3f"), interval(summary["fit_\(name)"]),
                     cell(summary["r2_\(name)"], format: "%.4f"), name == "max_move" ? "slope −1/2" : "falls to 0"]
                })

        var movement = fitted("max_r ‖w_r − w_r(0)‖ after \(steps) steps", rows, "final_max_move")
        let move = column(rows, "final_max_move")
        if let i = m.indices.last, m[i] > 0, move[i] > 0, let lo = m.first, lo > 0 {
            // The theory fixes the slope, not the constant: anchor the line at the widest net.
            movement.append(PlotSeries("theory: slope −1/2 through the widest net", x: [lo, m[i]],
                                       y: [move[i] * Foundation.pow(lo / m[i], WidthSweep.theorySlope), move[i]], style: .dashed))
        }
        r.plot(SVGPlot(title: "Largest weight movement against the width", xLabel: "width m",
                       yLabel: "max_r ‖w_r(k) − w_r(0)‖", xLog: true, yLog: true, series: movement),
               caption: "Each point is one run at its last step; the theory says the movement falls like 1/√m.")
        r.plots([
            SVGPlot(title: "Activation patterns flipped", xLabel: "width m", yLabel: "fraction of (i, r)", xLog: true, yLog: true,
                    series: fitted("flip fraction after \(steps) steps", rows, "final_flip_fraction")),
            SVGPlot(title: "Distance to the kernel trajectory", xLabel: "width m", yLabel: "max_k ‖u(k) − u_ker(k)‖ / ‖u(0) − y‖",
                    xLog: true, yLog: true, series: fitted("largest relative deviation", rows, "max_kernel_deviation")),
        ])
        r.paragraph("A pattern can flip only for a neuron within its movement of the boundary wᵀx_i = 0, so the flipped "
                    + "fraction falls with the movement; the trajectory then follows the kernel prediction ever more closely.")
        let lambda0 = summary["lambda0"]?.numeric ?? .nan
        r.plot(SVGPlot(title: "Smallest eigenvalue of H against the width", xLabel: "width m", yLabel: "λ_min", xLog: true, series: [
            PlotSeries("λ_min(H(0))", x: m, y: column(rows, "lambda_min_h_initial"), style: .points),
            PlotSeries("λ_min(H) at the last step", x: m, y: column(rows, "lambda_min_h_final"), style: .points),
            PlotSeries("λ0 = λ_min(H∞)", x: [m.first ?? 0, m.last ?? 0], y: [lambda0, lambda0], style: .dashed),
        ]), caption: "The empirical Gram matrix starts and stays nearer its limit H∞ as m grows.")

        r.heading("Per width")
        r.paragraph("Each width's own run, with its report against the step, is in width-<m>/ beside this file.")
        r.table(headers: ["width m", "final loss", "max movement", "flip fraction", "kernel deviation", "λ_min(H(0))",
                          "λ_min(H) last", "bound holds", "steps/s"],
                rows: rows.map { row in
                    [row["width"]?.displayText ?? "?"]
                        + ["loss", "final_max_move", "final_flip_fraction", "max_kernel_deviation",
                           "lambda_min_h_initial", "lambda_min_h_final"].map { cell(row[$0]) }
                        + [row["bound_holds"]?.displayText ?? "—", cell(row["steps_per_second"], format: "%.1f")]
                })
        if !curves.isEmpty {
            var series: [PlotSeries] = []
            for (index, c) in curves.enumerated() {
                series.append(PlotSeries("m = \(c.width)", x: c.history.steps, y: c.history.loss))
                if index == curves.count - 1, c.history.kernel.contains(where: \.isFinite) {   // not under the mean-field scaling
                    series.append(PlotSeries("kernel prediction (m = ∞)", x: c.history.steps, y: c.history.kernel, style: .dashed))
                }
            }
            r.plot(SVGPlot(title: "Loss at every width", xLabel: "step k", yLabel: "½‖u − y‖²", yLog: true, series: series),
                   caption: "Each width's loss from its own run directory, with the kernel prediction they approach as m grows.")
        }
        return r.render()
    }

    /// Summary keys of the fits, shown in their own table rather than among the run's facts.
    static let fitKeys = ["slope_", "intercept_", "r2_", "theory_slope_", "fit_"]

    /// A FittedValue's interval, or why there is none.
    static func interval(_ value: JSONValue?) -> String {
        guard case .object(let o)? = value else { return "—" }
        if let lo = o["low"]?.numeric, let hi = o["high"]?.numeric, lo.isFinite, hi.isFinite { return String(format: "[%.3f, %.3f]", lo, hi) }
        return "not identified: " + (o["reason"]?.displayText ?? "?")
    }

    static let label = ["final_max_move": "largest weight movement", "final_flip_fraction": "fraction of patterns flipped",
                        "max_kernel_deviation": "distance to the kernel trajectory"]

    /// The measured points and, where there are two or more, the fitted power law drawn across them.
    static func fitted(_ name: String, _ rows: [JSONObject], _ key: String) -> [PlotSeries] {
        let m = column(rows, "width"), y = column(rows, key)
        var series = [PlotSeries(name, x: m, y: y, style: .points)]
        if let fit = WidthSweep.logLogFit(rows, key) {
            let ends = [m.min() ?? 0, m.max() ?? 0]
            let text = String(format: "fit: slope %.3f (R² %.3f)", fit.slope, fit.r2).replacingOccurrences(of: "-", with: "−")
            series.append(PlotSeries(text, x: ends, y: ends.map { Foundation.exp(fit.intercept) * Foundation.pow($0, fit.slope) }))
        }
        return series
    }

    static func column(_ rows: [JSONObject], _ key: String) -> [Double] { rows.map { $0[key]?.numeric ?? .nan } }

    /// A number for a table cell (ASCII, so the table aligns it as one); "—" where there is none.
    static func cell(_ value: JSONValue?, format: String = "%.4g") -> String {
        guard let v = value?.numeric, v.isFinite else { return "—" }
        return String(format: format, v)
    }
}
