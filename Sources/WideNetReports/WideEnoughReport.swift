import Foundation
import WideNet

/// report.html of `widenet sweep --ns`: the fraction of seeds that held against the width for
/// each n, and m*(n) against n on log-log axes with its fitted exponent beside the theorem's.
enum WideEnoughReport {
    static func html(_ run: RunFiles) -> String {
        let s = run.summary
        let ns = s["ns"]?.numbers ?? [], widths = s["widths"]?.numbers ?? [], delta = s["delta"]?.numeric ?? .nan
        var r = HTMLReport(title: "widenet sweep --ns")
        r.heading("How wide is wide enough: m*(n)")
        r.keyValues(s.pairs.filter { !["notes", "fractions"].contains($0.0) }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { r.paragraph(note) }
        var fractionSeries: [PlotSeries] = []
        if case .array(let rows)? = s["fractions"] {
            for (n, row) in zip(ns, rows) { fractionSeries.append(PlotSeries("n = \(Int(n))", x: widths, y: row.numbers ?? [])) }
        }
        fractionSeries.append(PlotSeries(String(format: "1 − δ = %.2g", 1 - delta), x: [widths.first ?? 1, widths.last ?? 1],
                                         y: [1 - delta, 1 - delta], style: .dashed))
        r.plot(SVGPlot(title: "Seeds whose bound and λ_min(H(k)) ≥ λ0/2 held throughout", xLabel: "width m", yLabel: "fraction of seeds",
                       xLog: true, series: fractionSeries),
               caption: "m*(n) is the smallest width whose fraction reaches the dashed line.")
        let mStar: [Double?] = {
            guard case .array(let values)? = s["m_star"] else { return [] }
            return values.map(\.numeric)
        }()
        let points = zip(ns, mStar).compactMap { n, m in m.map { (n, $0) } }
        if points.count >= 2, case .object(let fit)? = s["fit_m_star_exponent"], let alpha = fit["value"]?.numeric {
            let interval = fit["low"]?.numeric.flatMap { lo in fit["high"]?.numeric.map { String(format: " [%.2f, %.2f]", lo, $0) } } ?? ""
            let (n0, m0) = points[0], last = points[points.count - 1].0
            // The least-squares line passes through the points' centre in log-log coordinates.
            let logN = points.map { Foundation.log($0.0) }.reduce(0, +) / Double(points.count)
            let logM = points.map { Foundation.log($0.1) }.reduce(0, +) / Double(points.count)
            let line = { (n: Double) in Foundation.exp(logM + alpha * (Foundation.log(n) - logN)) }
            var series = [PlotSeries("m*(n)", x: points.map(\.0), y: points.map(\.1), style: .points),
                          PlotSeries(String(format: "fitted n^%.2f", alpha) + interval, x: [n0, last], y: [line(n0), line(last)], style: .dashed)]
            if let theorem = s["theorem_exponent"]?.numeric {
                series.append(PlotSeries(String(format: "the theorem's n⁶/λ0⁴, slope %.2f (through the first point)", theorem), x: [n0, last],
                                         y: [m0, m0 * Foundation.pow(last / n0, theorem)], style: .dotted))
            }
            r.plot(SVGPlot(title: "The width that suffices against n", xLabel: "samples n", yLabel: "m*(n)", xLog: true, yLog: true, series: series),
                   caption: "Du et al. prove the linear rate for m = Ω(n⁶/(λ0⁴δ³)); the runs need far less.")
        }
        return r.render()
    }
}
