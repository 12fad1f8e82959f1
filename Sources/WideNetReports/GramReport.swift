import Foundation
import WideNet

/// report.html of `widenet gram`: the spectrum of H∞.
enum GramReport {
    /// report.html from summary.json and gram_inf_eigenvalues.npy.
    static func html(_ run: RunFiles) throws -> String {
        let eig = try run.array("gram_inf_eigenvalues.npy").values
        var r = HTMLReport(title: "widenet gram")
        r.heading("Infinite-width NTK Gram matrix H∞")
        r.keyValues(run.summary.pairs.filter { $0.0 != "notes" }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { r.paragraph(note) }
        r.plot(SVGPlot(title: "Spectrum of H∞", xLabel: "index (ascending)", yLabel: "eigenvalue", yLog: true,
                       series: [PlotSeries("eigenvalues of H∞", x: eig.indices.map(Double.init), y: eig, style: .points)]),
               caption: "λ0, the smallest eigenvalue, sets the linear convergence rate of gradient descent.")
        return r.render()
    }
}
