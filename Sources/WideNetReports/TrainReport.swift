import Foundation
import WideNet

/// report.html of `widenet train`: the loss against the bound and the kernel prediction, and the
/// quantities the NTK theory says stay near their initial values.
enum TrainReport {
    /// From the run's files: summary.json, metrics.jsonl and the notes.
    static func html(_ run: RunFiles) throws -> String {
        let file = run.url.appendingPathComponent("spectrum.npy")
        let spectrum = FileManager.default.fileExists(atPath: file.path) ? try NPY.read(file) : nil
        return html(summary: run.summary, history: History(rows: run.metrics), lambda0: try run.required("lambda0"), notes: run.notes,
                    spectrum: spectrum)
    }

    static func html(summary: JSONObject, history h: History, lambda0: Double, notes: [String], spectrum: NPYArray? = nil) -> String {
        var r = HTMLReport(title: "widenet train")
        r.heading("Two-layer ReLU net in the NTK regime")
        r.keyValues(summary.pairs.compactMap { key, value in
            key == "notes" ? nil : (key, value.displayText)
        })
        for note in notes { r.paragraph(note) }
        var lossSeries = [
            PlotSeries("loss (GD, width \(summary["width"]?.render(pretty: false, indent: 0) ?? "?"))", x: h.steps, y: h.loss),
        ]
        // The mean-field scaling logs neither: the NTK's bound and kernel do not describe it.
        let lazy = h.bound.contains { $0.isFinite }
        if lazy {
            lossSeries.append(PlotSeries("bound ½(1 − ηλ0/2)^k ‖u(0) − y‖²", x: h.steps, y: h.bound, style: .dashed))
            lossSeries.append(PlotSeries("kernel prediction ½‖(I − ηH)^k (u(0) − y)‖²", x: h.steps, y: h.kernel, style: .dotted))
        }
        var caption = lazy ? "The loss must stay under the dashed bound; as m grows it approaches the dotted kernel prediction"
            : "Mean-field scaling: the weights move at O(1), so the NTK bound and kernel prediction are not drawn"
        if let floor = summary["precision_floor"]?.numeric, floor > 0, let first = h.steps.first, let last = h.steps.last {
            let precision = summary["precision"]?.displayText ?? ""
            lossSeries.append(PlotSeries("\(precision) rounding floor (where the loss stopped following the prediction)",
                                         x: [first, last], y: [floor, floor], style: .points))
            caption += String(format: ", down to the %@ rounding floor near %.2g: there the loss stops following the prediction for rounding, not for the finite width (an f64 run goes on)", precision, floor)
        }
        r.plot(SVGPlot(title: "Loss ½‖u − y‖² against the theory", xLabel: "step k", yLabel: "loss", yLog: true, series: lossSeries),
               caption: caption + ".")
        r.plots((lazy ? [
            SVGPlot(title: "Distance to the kernel trajectory", xLabel: "step k", yLabel: "‖u(k) − u_ker(k)‖ / ‖u(0) − y‖",
                    series: [PlotSeries("relative deviation", x: h.steps, y: h.deviation)])] : []) + [
            SVGPlot(title: "Largest weight movement", xLabel: "step k", yLabel: "max_r ‖w_r(k) − w_r(0)‖",
                    series: [PlotSeries("max movement", x: h.steps, y: h.move)]),
            SVGPlot(title: "Activation patterns flipped", xLabel: "step k", yLabel: "fraction of (i, r)",
                    series: [PlotSeries("flip fraction", x: h.steps, y: h.flips)]),
            SVGPlot(title: "Smallest eigenvalue of H(k)", xLabel: "step k", yLabel: "λ_min", series: [
                PlotSeries("λ_min(H(k))", x: h.gramSteps, y: h.lambdaMin, style: .points),
                PlotSeries("λ0 = λ_min(H∞)", x: [h.steps.first ?? 0, h.steps.last ?? 0], y: [lambda0, lambda0], style: .dashed),
            ]),
        ])
        if let spectrum, spectrum.shape.count == 2, spectrum.shape[1] == 3 { fineGrained(spectrum, summary: summary, into: &r) }
        return r.render()
    }

    /// Arora et al.'s view (spectrum.npy): where the labels' weight sits on the kernel's eigenvectors.
    /// The mode of eigenvalue λ decays as (1 − ηλ)^k, so labels on the large eigenvalues train fast.
    static func fineGrained(_ s: NPYArray, summary: JSONObject, into r: inout HTMLReport) {
        let n = s.shape[0]
        let lambda = (0..<n).map { s.values[3 * $0] }
        let labels = (0..<n).map { s.values[3 * $0 + 2] }, residual = (0..<n).map { s.values[3 * $0 + 1] }
        let total = max(labels.reduce(0, +), 1e-300), totalResidual = max(residual.reduce(0, +), 1e-300)
        let complexity = summary["complexity"]?.numeric.map { String(format: "; complexity √(2yᵀH⁻¹y/n) = %.4g", $0) } ?? ""
        r.plot(SVGPlot(title: "The labels on the kernel's eigenvectors", xLabel: "eigenvalue λ_i of H", yLabel: "share of ‖·‖²",
                       xLog: true, yLog: true, series: [
                           PlotSeries("(v_iᵀy)² / ‖y‖²", x: lambda, y: labels.map { $0 / total }, style: .points),
                           PlotSeries("(v_iᵀ(y − u(0)))² / ‖y − u(0)‖²", x: lambda, y: residual.map { $0 / totalResidual }, style: .points),
                       ]),
               caption: "Arora, Du, Hu, Li, Wang (ICML 2019): the mode of λ_i decays as (1 − ηλ_i)^k, so the loss "
                   + "½Σ(1 − ηλ_i)^{2k}(v_iᵀ(y − u(0)))² (the kernel prediction above) falls fast when the labels sit on the large "
                   + "eigenvalues, as true labels do and random ones do not\(complexity).")
    }
}
