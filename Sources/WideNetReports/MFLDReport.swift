import Foundation
import WideNet

/// report.html of `widenet mfld`: the objective and its parts, test metrics, and the particle
/// cloud (marginal histograms, a 2-D scatter).
enum MFLDReport {
    /// From the run's files: summary.json (with the coordinates and the scatter's pair),
    /// metrics.jsonl and sample.npy (the particle sample the run drew at its end).
    static func html(_ run: RunFiles) throws -> String {
        let D = Int(try run.required("coordinates")), d = Int(try run.required("d"))
        let pair = run.summary["scatter"]?.numbers.map(Int.init) ?? [0, 1]
        let sample = try run.array("sample.npy")
        guard sample.shape.count == 2, sample.shape[1] == D else {
            throw WideNetIOError("\(run.url.path)/sample.npy: expected a sample of \(D) coordinates, got shape \(sample.shape)")
        }
        return html(summary: run.summary, rows: run.metrics.compactMap(MFLDRow.init(row:)), sample: sample.values, D: D, d: d,
                    scatter: (pair.first ?? 0, pair.dropFirst().first ?? 1), notes: run.notes)
    }

    static func html(summary: JSONObject, rows: [MFLDRow], sample: [Double], D: Int, d: Int, scatter: (Int, Int),
                     notes: [String]) -> String {
        var r = HTMLReport(title: "widenet mfld")
        r.heading("Mean-field Langevin dynamics")
        r.keyValues(summary.pairs.filter { $0.0 != "notes" && $0.0 != "gaussian_check" && $0.0 != "entropy_bias" }
            .map { ($0.0, $0.1.displayText) })
        for note in notes { r.paragraph(note) }
        if case .object(let bias)? = summary["entropy_bias"], let b = bias["bias"]?.numeric, let m = bias["sample"]?.numeric {
            r.paragraph(String(format: "The k-NN entropy estimate on %.0f particles in %@ dimensions reads %.3g nats off on a Gaussian with the particles' covariance (estimate %.4g, exact %.4g): the entropy and objective curves below are uncorrected; final_entropy_corrected removes it.",
                               m, bias["dimension"]?.displayText ?? "?", b, bias["reference_estimate"]?.numeric ?? .nan,
                               bias["reference_exact"]?.numeric ?? .nan))
        }
        let steps = rows.map { Double($0.step) }
        r.plots([
            SVGPlot(title: "Objective and its parts", xLabel: "step", yLabel: "value", series: [
                PlotSeries("loss", x: steps, y: rows.map { $0.loss ?? .nan }),
                PlotSeries("loss + λ'E‖θ‖²", x: steps, y: rows.map(\.lossPlusRegulariser), style: .dashed),
                PlotSeries("objective F = loss + λ'E‖θ‖² − λH", x: steps, y: rows.map { $0.objective ?? .nan }, style: .dotted),
            ]),
            SVGPlot(title: "Test metrics", xLabel: "step", yLabel: "value", series: [
                PlotSeries("test loss", x: steps, y: rows.map { $0.testLoss ?? .nan }),
            ] + (rows.first?.testAccuracy != nil ? [PlotSeries("test accuracy", x: steps, y: rows.map { $0.testAccuracy ?? .nan }, style: .dashed)] : [])),
            SVGPlot(title: "Entropy estimate (k-NN) and λ", xLabel: "step", yLabel: "nats", series: [
                PlotSeries("H (Kozachenko–Leonenko)", x: steps, y: rows.map { $0.entropy ?? .nan }),
            ]),
        ])
        let m = sample.count / D
        let names = (0..<d).map { "w\($0 + 1)" } + ["b", "a"]
        var hists: [SVGPlot] = []
        // With the data term off the law is known: N(m_q, v_q) per coordinate (gaussian_check's
        // predicted means and variances; a run written before them: N(0, predicted_variance)).
        var predicted: Double? = nil, predictedMeans: [Double] = [], predictedVariances: [Double] = []
        if case .object(let check)? = summary["gaussian_check"] {
            if let v = check["predicted_variance"]?.numeric, v > 0 { predicted = v }
            predictedMeans = check["predicted_means"]?.numbers ?? []
            predictedVariances = check["predicted_variances"]?.numbers ?? []
        }
        for q in Array(Set([0, min(1, d - 1), d, d + 1])).sorted() {
            let col = (0..<m).map { sample[$0 * D + q] }
            var plot = histogram(col, name: names[q])
            let mu = q < predictedMeans.count ? predictedMeans[q] : 0
            if let v = q < predictedVariances.count ? predictedVariances[q] : predicted, v > 0,
               let lo = col.min(), let hi = col.max(), hi > lo {
                let xs = (0...80).map { lo + (hi - lo) * Double($0) / 80 }
                plot.series.append(PlotSeries("exact N(\(String(format: "%.3g", mu)), \(String(format: "%.3g", v)))", x: xs,
                                              y: xs.map { Foundation.exp(-($0 - mu) * ($0 - mu) / (2 * v)) / (2 * Double.pi * v).squareRoot() },
                                              style: .dashed))
            }
            hists.append(plot)
        }
        if case .object(let check)? = summary["gaussian_check"] {
            r.paragraph(String(format: "Gaussian check (data term off): the largest |z| of a coordinate's mean is %.2f and of its variance %.2f over %@ particles, against the exact law of the discrete chain that ran (variance %@); |z| below about 3 is a pass.",
                               check["max_abs_z_mean"]?.numeric ?? .nan, check["max_abs_z_variance"]?.numeric ?? .nan,
                               check["sample"]?.displayText ?? "?",
                               predicted.map { String(format: "%.4g", $0) }
                                   ?? (predictedVariances.isEmpty ? "?" : "per coordinate " + predictedVariances.map { String(format: "%.4g", $0) }.joined(separator: ", "))))
        }
        r.heading("The particle cloud (\(m) particles)")
        r.plots(hists)
        let (i, j) = scatter
        r.plot(SVGPlot(title: "Particles: \(names[i]) against \(names[j])", xLabel: names[i], yLabel: names[j], series: [
            PlotSeries("particles", x: (0..<min(m, 5000)).map { sample[$0 * D + i] },
                       y: (0..<min(m, 5000)).map { sample[$0 * D + j] }, style: .points),
        ]))
        return r.render()
    }

    /// A density histogram drawn as a step line.
    static func histogram(_ values: [Double], name: String, bins: Int = 40) -> SVGPlot {
        let finite = values.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max(), hi > lo else {
            return SVGPlot(title: "Marginal of \(name)", xLabel: name, yLabel: "density")
        }
        let width = (hi - lo) / Double(bins)
        var counts = [Double](repeating: 0, count: bins)
        for v in finite { counts[min(bins - 1, Int((v - lo) / width))] += 1 }
        var xs: [Double] = [], ys: [Double] = []
        for b in 0..<bins {
            let density = counts[b] / (Double(finite.count) * width)
            xs += [lo + Double(b) * width, lo + Double(b + 1) * width]
            ys += [density, density]
        }
        return SVGPlot(title: "Marginal of \(name)", xLabel: name, yLabel: "density", series: [PlotSeries(name, x: xs, y: ys)])
    }
}
