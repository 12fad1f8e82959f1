import Foundation
import WideNet

/// report.html of `widenet train --optimizer sgd`: the test error of the last and the averaged iterate
/// against samples seen on log-log axes, with the fitted rates and the rate theory gives
/// (Nitanda–Suzuki; Dieuleveut–Bach), and the weights' movement.
enum SGDReport {
    static func html(_ run: RunFiles) -> String {
        let s = run.summary, h = SGDHistory(rows: run.metrics)
        var r = HTMLReport(title: "widenet train (SGD)")
        r.heading("SGD on a wide two-layer ReLU net in the NTK regime")
        r.keyValues(s.pairs.compactMap { key, value in key == "notes" ? nil : (key, value.displayText) })
        for note in run.notes { r.paragraph(note) }
        func rate(_ key: String) -> String {
            guard case .object(let o)? = s[key], o["identified"] == .bool(true), let v = o["value"]?.numeric,
                  let lo = o["low"]?.numeric, let hi = o["high"]?.numeric else { return "not identified" }
            return String(format: "%.3f [%.3f, %.3f]", v, lo, hi)
        }
        if !h.testError.isEmpty {
            var series = [PlotSeries("last iterate, rate \(rate("rate_last"))", x: h.samples, y: h.testError)]
            if !h.testErrorAverage.isEmpty {
                series.append(PlotSeries("averaged iterate, rate \(rate("rate_average"))", x: h.testErrorAverage.map(\.samples),
                                         y: h.testErrorAverage.map(\.value)))
            }
            // The theory's slope, drawn through the averaged curve where the fit window begins.
            var caption = "Test error E(f − f*)² over the test set against samples seen; rates ρ of t^(−ρ) with 95 % intervals over "
                + "resamples of the test set's \(SGDRates.folds) folds, fitted over the window"
            if case .array(let w)? = s["rate_window"], w.count == 2, let t0 = w[0].numeric, let t1 = w[1].numeric { caption += String(format: " %.0f…%.0f", t0, t1) }
            let curve = h.testErrorAverage.isEmpty ? zip(h.samples, h.testError).map { ($0, $1) } : h.testErrorAverage.map { ($0.samples, $0.value) }
            if let theory = s["rate_theory_average"]?.numeric, case .array(let w)? = s["rate_window"], let t0 = w.first?.numeric, let t1 = w.last?.numeric,
               let anchor = curve.first(where: { $0.0 >= t0 }) {
                series.append(PlotSeries(String(format: "theory t^(−%.3f) (constant step)", theory), x: [anchor.0, t1],
                                         y: [anchor.1, anchor.1 * Foundation.pow(t1 / anchor.0, -theory)], style: .dashed))
                if let optimal = s["rate_optimal"]?.numeric {
                    caption += String(format: ". Dashed: the averaged iterate's rate at a constant step, %.3f; the minimax rate 2rβ/(2rβ+1) is %.3f", theory, optimal)
                }
            }
            r.plot(SVGPlot(title: "Test error against samples seen", xLabel: "samples seen t", yLabel: "test error", xLog: true, yLog: true,
                           series: series), caption: caption + ".")
        } else {
            r.plot(SVGPlot(title: "Training loss", xLabel: "step k", yLabel: "½‖u − y‖²", xLog: true, yLog: true,
                           series: [PlotSeries("loss", x: h.steps, y: h.loss)]))
        }
        r.plot(SVGPlot(title: "Largest weight movement", xLabel: "samples seen t", yLabel: "max_r ‖w_r − w_r(0)‖", xLog: true,
                       series: [PlotSeries("max movement", x: h.samples, y: h.move)]))
        return r.render()
    }
}
