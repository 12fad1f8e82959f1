import Foundation
import WideNet

/// report.html of `widenet gram`: the spectrum of H∞.
enum GramReport {
    /// report.html from summary.json and gram_inf_eigenvalues.npy (or, after Lanczos, the smallest
    /// eigenvalues alone).
    static func html(_ run: RunFiles) throws -> String {
        guard FileManager.default.fileExists(atPath: run.url.appendingPathComponent("gram_inf_eigenvalues.npy").path) else {
            return try smallest(run)
        }
        let eig = try run.array("gram_inf_eigenvalues.npy").values
        var r = HTMLReport(title: "widenet gram")
        r.heading("Infinite-width NTK Gram matrix H∞")
        r.keyValues(run.summary.pairs.filter { $0.0 != "notes" }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { r.paragraph(note) }
        // Rank order, largest first: the power-law decay λ_i ≈ C·i^(−α) is a line on log-log axes.
        let descending = Array(eig.reversed()), ranks = descending.indices.map { Double($0 + 1) }
        var series = [PlotSeries("eigenvalues of H∞", x: ranks, y: descending, style: .points)]
        var caption = "λ0, the smallest eigenvalue (the last rank), sets the linear convergence rate of gradient descent."
        if case .object(let fit)? = run.summary["spectrum_decay"], let alpha = fit["exponent"]?.numeric,
           let c = fit["intercept"]?.numeric, let first = fit["first_rank"]?.numeric, let last = fit["last_rank"]?.numeric {
            let se = fit["standard_error"]?.numeric.map { String(format: " ± %.2g", $0) } ?? ""
            series.append(PlotSeries(String(format: "fit C·i^(−α), α = %.3f%@", alpha, se), x: [first, last],
                                     y: [Foundation.exp(c) * Foundation.pow(first, -alpha), Foundation.exp(c) * Foundation.pow(last, -alpha)],
                                     style: .dashed))
            caption += String(format: " The dashed line is the least-squares power law over ranks %.0f–%.0f, α = %.3f%@ (standard error from "
                + "subsamples of the points); on the sphere S^(d−1) the ReLU NTK's spectrum decays with α → d/(d−1).", first, last, alpha, se)
        }
        r.plot(SVGPlot(title: "Spectrum of H∞", xLabel: "rank i (largest first)", yLabel: "eigenvalue λ_i", xLog: true, yLog: true,
                       series: series), caption: caption)
        return r.render()
    }

    /// The report of a Lanczos run: its figures, notes and the smallest eigenvalues against their rank.
    static func smallest(_ run: RunFiles) throws -> String {
        let eig = try run.array("gram_inf_smallest_eigenvalues.npy").values
        var r = HTMLReport(title: "widenet gram")
        r.heading("The smallest eigenvalues of H∞ (Lanczos)")
        r.keyValues(run.summary.pairs.filter { $0.0 != "notes" }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { r.paragraph(note) }
        let n = run.summary["n"]?.numeric ?? Double(eig.count)
        let ranks = eig.indices.map { n - Double($0) }
        r.plot(SVGPlot(title: "Smallest eigenvalues of H∞", xLabel: "rank i (largest first)", yLabel: "eigenvalue λ_i", xLog: false, yLog: false,
                       series: [PlotSeries("Rayleigh quotients of the Ritz vectors", x: ranks, y: eig, style: .points)]),
               caption: "λ0, the smallest, sets the linear convergence rate of gradient descent; summary.json gives its certified error.")
        return r.render()
    }
}
