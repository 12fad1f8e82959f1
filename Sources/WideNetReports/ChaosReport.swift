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
        if case .object(let fitted)? = summary["fit_exponent"], case .bool(false)? = fitted["identified"] {
            report.paragraph("The exponent is not identified: \(fitted["reason"]?.displayText ?? "?"). Run more seeds (--chaos-seeds) or more particle counts.")
        }
        var alphaValue: Double? = nil, interval = ""
        if case .object(let fitted)? = summary["fit_exponent"], let v = fitted["value"]?.numeric, v.isFinite {
            alphaValue = v
            if let lo = fitted["low"]?.numeric, let hi = fitted["high"]?.numeric { interval = String(format: " [%.2f, %.2f]", lo, hi) }
        }
        if let limit = summary["fit_limit"]?.numeric, let c = summary["fit_coefficient"]?.numeric, let alpha = alphaValue {
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
