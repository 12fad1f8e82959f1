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
        var report = HTMLReport(title: "widenet mfld --chaos")
        report.heading("Propagation of chaos: the objective's excess against N")
        report.keyValues(summary.pairs.filter { $0.0 != "notes" }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { report.paragraph(note) }
        if let limit = summary["fit_limit"]?.numeric, let c = summary["fit_coefficient"]?.numeric,
           let alpha = summary["fit_exponent"]?.numeric {
            let excess = means.map { $0 - limit }
            report.plot(SVGPlot(title: "Excess of the stationary loss over the fitted limit", xLabel: "particles N",
                                yLabel: "L(N) − L∞", xLog: true, yLog: true, series: [
                PlotSeries("measured (mean over seeds)", x: ns, y: excess, style: .points),
                PlotSeries(String(format: "fit c·N^−%.2f", alpha), x: ns, y: ns.map { c * Foundation.pow($0, -alpha) }, style: .dashed),
                PlotSeries("slope −1", x: ns, y: ns.map { (excess.first ?? 1) * (ns.first ?? 1) / $0 }, style: .dotted),
            ]), caption: "Theory: the excess falls like 1/N.")
        }
        report.plot(SVGPlot(title: "Stationary loss and loss + λ'E‖θ‖² against 1/N", xLabel: "1/N", yLabel: "value", series: [
            PlotSeries("loss (mean over seeds)", x: ns.map { 1 / $0 }, y: means, style: .points),
            PlotSeries("loss + λ'E‖θ‖²", x: ns.map { 1 / $0 }, y: sums, style: .points),
        ]))
        return report.render()
    }
}
