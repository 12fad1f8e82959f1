import Foundation
import WideNet

/// report.html of `widenet train --optimizer sgd`: the test error of the last and the averaged iterate
/// against samples seen on log-log axes, with the fitted rates and the rate theory gives
/// (Nitanda–Suzuki; Dieuleveut–Bach), and the weights' movement.
enum SGDReport {
    /// `sweep --optimizer sgd --seeds S`: the seed-mean curves and the rates fitted across seeds.
    static func sweepHTML(_ run: RunFiles) -> String {
        let s = run.summary
        var r = HTMLReport(title: "widenet sweep (SGD over seeds)")
        r.heading("Averaged SGD's rate over seeds")
        r.keyValues(s.pairs.compactMap { key, value in key == "notes" || key.hasPrefix("curve_") ? nil : (key, value.displayText) })
        for note in run.notes { r.paragraph(note) }
        let t = s["curve_samples"]?.numbers ?? []
        func curve(_ key: String) -> [Double] {
            guard case .array(let a)? = s[key] else { return [] }
            return a.map { $0.doubleValue ?? .nan }
        }
        var series = [PlotSeries("last iterate, rate \(s["rate_last"]?.displayText ?? "?")", x: t, y: curve("curve_test_error")),
                      PlotSeries("averaged iterate, rate \(s["rate_average"]?.displayText ?? "?")", x: t, y: curve("curve_test_error_average"))]
        series += theoryLine(s, t: t, curve: curve("curve_test_error_average"))
        r.plot(SVGPlot(title: "Seed-mean test error against samples seen", xLabel: "samples seen t", yLabel: "test error", xLog: true, yLog: true,
                       series: series),
               caption: "Means over \(s["seeds"]?.displayText ?? "?") seeds (the stream and the initial weights vary, the target stays); "
                   + "rates ρ of t^(−ρ) fitted to the means over the window, with 95 % intervals over resamples of the seeds.")
        r.table(headers: ["seed", "final test error", "averaged", "rate (last)", "rate (averaged)"], rows: run.metrics.map { row in
            ["seed", "final_test_error", "final_test_error_average", "rate_last", "rate_average"].map { row[$0]?.displayText ?? "" }
        })
        return r.render()
    }

    /// The theory's slope for the averaged iterate, through its curve where the fit window begins.
    static func theoryLine(_ s: JSONObject, t: [Double], curve: [Double]) -> [PlotSeries] {
        guard let theory = s["rate_theory_average"]?.numeric, case .array(let w)? = s["rate_window"], let t0 = w.first?.numeric,
              let t1 = w.last?.numeric, let i = t.indices.first(where: { t[$0] >= t0 && curve.indices.contains($0) && curve[$0].isFinite }) else { return [] }
        return [PlotSeries(String(format: "theory t^(−%.3f) (constant step)", theory), x: [t[i], t1],
                           y: [curve[i], curve[i] * Foundation.pow(t1 / t[i], -theory)], style: .dashed)]
    }

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
            let (ct, cy) = h.testErrorAverage.isEmpty ? (h.samples, h.testError) : (h.testErrorAverage.map(\.samples), h.testErrorAverage.map(\.value))
            series += theoryLine(s, t: ct, curve: cy)
            if let theory = s["rate_theory_average"]?.numeric, let optimal = s["rate_optimal"]?.numeric {
                caption += String(format: ". Dashed: the averaged iterate's rate at a constant step, %.3f; the minimax rate 2rβ/(2rβ+1) is %.3f", theory, optimal)
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
