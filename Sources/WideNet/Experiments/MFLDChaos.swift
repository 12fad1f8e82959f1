import Foundation

/// `widenet mfld --chaos N1,N2,…`: the same problem (one data set) at several particle counts and
/// seeds. Propagation of chaos says the stationary objective exceeds its N → ∞ value by O(1/N); the
/// sweep fits L(N) = L∞ + c·N^(−α) to the stationary loss (the data term of the objective, where
/// the 1/N excess lives) and reports α. The regulariser λ'E‖θ‖² moves the other way by about as much
/// at small N, so loss + regulariser is fitted and reported too, but its excess is mostly noise.
public enum MFLDChaos {
    public static func run(_ base: MFLDConfig, counts: [Int], seeds: Int) throws -> MFLDExperiment.Result {
        guard counts.count >= 3 else { throw BackendError("--chaos needs at least 3 particle counts to fit F∞ + c·N^−α") }
        guard seeds >= 1 else { throw BackendError("--chaos-seeds must be at least 1") }
        try base.validate()
        let root = try RunDirectory(path: base.out, command: "mfld-chaos")
        var config = base.json(resolved: [])
        config.set("chaos", counts.map(Double.init)); config.set("chaos_seeds", seeds)
        try root.writeJSON(config, to: "config.json")
        var loss = Stats(), lossReg = Stats(), objectives: [Double] = []
        var notes: [String] = []
        let started = Date()
        for count in counts {
            var losses: [Double] = [], sums: [Double] = [], objs: [Double] = []
            for s in 0..<seeds {
                var cfg = base
                cfg.particles = count
                // One data set for the whole sweep; seeds vary the particles and the noise only.
                cfg.dataSeed = base.dataSeed ?? base.seed
                cfg.seed = base.seed &+ UInt64(s)
                cfg.out = root.file("N\(count)-s\(s)").path
                cfg.quiet = true
                let r = try MFLDExperiment.run(cfg)
                if notes.isEmpty { notes = r.notes }
                if case .number(let v) = r.summary["tail_loss"] { losses.append(v) }
                if case .number(let v) = r.summary["tail_loss_plus_regulariser"] { sums.append(v) }
                if case .number(let v) = r.summary["final_objective"] { objs.append(v) }
                var row = JSONObject()
                row.set("step", cfg.steps); row.set("particles", count); row.set("seed", Int(truncatingIfNeeded: cfg.seed))
                row["loss"] = r.summary["tail_loss"] ?? .null
                row["tail_loss_plus_regulariser"] = r.summary["tail_loss_plus_regulariser"] ?? .null
                row["final_objective"] = r.summary["final_objective"] ?? .null
                try root.appendMetrics(row)
            }
            loss.add(losses); lossReg.add(sums)
            objectives.append(objs.isEmpty ? .nan : objs.reduce(0, +) / Double(objs.count))
        }
        try root.close()
        let ns = counts.map(Double.init)
        let fit = loss.fit(ns), fitSum = lossReg.fit(ns)
        var summary = JSONObject()
        summary.set("command", "mfld-chaos")
        summary.set("particle_counts", ns); summary.set("seeds", seeds)
        summary.set("mean_stationary_loss", loss.means); summary.set("standard_errors", loss.errors)
        summary.set("mean_loss_plus_regulariser", lossReg.means); summary.set("standard_errors_loss_plus_regulariser", lossReg.errors)
        summary.set("mean_final_objective", objectives)
        summary.set("fit_limit", fit?.limit); summary.set("fit_coefficient", fit?.coefficient)
        summary.set("fit_exponent", fit?.exponent); summary.set("fit_r2", fit?.r2)
        summary.set("slope_against_N", fit.map { -$0.exponent })
        summary.set("log_log_slope", fit?.logLogSlope)
        summary.set("fit_exponent_loss_plus_regulariser", fitSum?.exponent)
        summary.set("wall_seconds", Date().timeIntervalSince(started))
        try root.writeJSON(summary, to: "summary.json")
        var report = HTMLReport(title: "widenet mfld --chaos")
        report.heading("Propagation of chaos: the objective's excess against N")
        report.keyValues(summary.pairs.map { ($0.0, $0.1.displayText) })
        if let fit {
            let excess = loss.means.map { $0 - fit.limit }
            report.plot(SVGPlot(title: "Excess of the stationary loss over the fitted limit", xLabel: "particles N",
                                yLabel: "L(N) − L∞", xLog: true, yLog: true, series: [
                PlotSeries("measured (mean over seeds)", x: ns, y: excess, style: .points),
                PlotSeries(String(format: "fit c·N^−%.2f", fit.exponent), x: ns, y: ns.map { fit.predict($0) - fit.limit }, style: .dashed),
                PlotSeries("slope −1", x: ns, y: ns.map { (excess.first ?? 1) * (ns.first ?? 1) / $0 }, style: .dotted),
            ]), caption: "Theory: the excess falls like 1/N.")
        }
        report.plot(SVGPlot(title: "Stationary loss and loss + λ'E‖θ‖² against 1/N", xLabel: "1/N", yLabel: "value", series: [
            PlotSeries("loss (mean over seeds)", x: ns.map { 1 / $0 }, y: loss.means, style: .points),
            PlotSeries("loss + λ'E‖θ‖²", x: ns.map { 1 / $0 }, y: lossReg.means, style: .points),
        ]))
        try root.writeText(report.render(), to: "report.html")
        return MFLDExperiment.Result(directory: root.url, summary: summary, notes: notes)
    }
}

/// Means and standard errors over seeds, per particle count.
struct Stats {
    var means: [Double] = [], errors: [Double] = []

    mutating func add(_ values: [Double]) {
        let k = Double(max(values.count, 1))
        let mean = values.reduce(0, +) / k
        let sd = values.count > 1 ? (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (k - 1)).squareRoot() : 0
        means.append(mean)
        errors.append(sd / k.squareRoot())
    }

    func fit(_ ns: [Double]) -> PowerLawFit? {
        PowerLawFit(n: ns, f: means, sigma: errors.allSatisfy { $0 > 0 } ? errors : nil)
    }
}
