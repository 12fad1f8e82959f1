import Foundation
import WideNet

/// report.html of `widenet mfld --chaos`: the stationary loss's excess over the fitted limit against N.
enum ChaosReport {
    /// report.html from the sweep's summary.json.
    static func html(_ run: RunFiles) -> String {
        let summary = run.summary
        let ns = summary["particle_counts"]?.numbers ?? []
        let means = summary["mean_stationary_loss"]?.numbers ?? []
        let sums = summary["mean_loss_plus_regulariser"]?.numbers ?? []
        let errors = summary["standard_errors"]?.numbers ?? means.map { _ in 0 }
        var report = HTMLReport(title: "widenet mfld --chaos")
        report.heading("Propagation of chaos: the objective's excess against N")
        report.keyValues(summary.pairs.filter { $0.0 != "notes" }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { report.paragraph(note) }
        // fit_exponent, fit_coefficient and fit_limit are one fit (MFLDChaos.ChaosFit).
        func fitted(_ key: String) -> JSONObject? { if case .object(let o)? = summary[key] { return o }; return nil }
        if let e = fitted("fit_exponent"), case .bool(false)? = e["identified"] {
            report.paragraph("The fit L∞ + c·N^−α is not identified: \(e["reason"]?.displayText ?? "?"). Run more seeds (--chaos-seeds) or more particle counts.")
        }
        if let e = fitted("fit_exponent"), let alpha = e["value"]?.numeric, alpha.isFinite,
           let c = fitted("fit_coefficient")?["value"]?.numeric, let limit = fitted("fit_limit")?["value"]?.numeric {
            var interval = ""
            if let lo = e["low"]?.numeric, let hi = e["high"]?.numeric { interval = String(format: " [%.2f, %.2f]", lo, hi) }
            let excess = means.map { $0 - limit }
            report.plot(SVGPlot(title: "Excess of the stationary loss over the fitted limit", xLabel: "particles N",
                                yLabel: "L(N) − L∞", xLog: true, yLog: true, series: [
                PlotSeries("measured (mean over seeds)", x: ns, y: excess, style: .points),
                PlotSeries(String(format: "fit c·N^−%.2f", alpha) + interval, x: ns, y: ns.map { c * Foundation.pow($0, -alpha) }, style: .dashed),
                PlotSeries("slope −1", x: ns, y: ns.map { (excess.first ?? 1) * (ns.first ?? 1) / $0 }, style: .dotted),
            ]), caption: "Theory: the excess falls like 1/N.")
        }
        report.plot(SVGPlot(title: "Stationary loss and loss + λ'E‖θ‖² against 1/N", xLabel: "1/N", yLabel: "value", series: [
            PlotSeries("loss (mean over seeds)", x: ns.map { 1 / $0 }, y: means, style: .points),
            PlotSeries("mean ± 2 standard errors over seeds", x: ns.map { 1 / $0 } + ns.map { 1 / $0 },
                       y: zip(means, errors).map { $0 - 2 * $1 } + zip(means, errors).map { $0 + 2 * $1 }, style: .points),
            PlotSeries("loss + λ'E‖θ‖²", x: ns.map { 1 / $0 }, y: sums, style: .points),
        ]))
        return report.render()
    }
}
