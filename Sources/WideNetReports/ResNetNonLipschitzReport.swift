import Foundation
import WideNet

/// report.html of `widenet resnet --experiment non-lipschitz`: Euler's end-point error against h per
/// start ε on log-log axes (the constant grows as ε → 0), and the sensitivity of the end point at 0.
enum ResNetNonLipschitzReport {
    static func html(_ run: RunFiles) -> String {
        var r = HTMLReport(title: "widenet resnet --experiment non-lipschitz")
        r.heading("Blocks of the non-Lipschitz field F(x) = sign(x)|x|^½")
        r.keyValues(run.summary.pairs.filter { !["notes", "starts"].contains($0.0) }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { r.paragraph(note) }
        let depths = run.summary["depths"]?.numbers ?? [], horizon = run.summary["horizon"]?.numeric ?? 1
        let h = depths.map { horizon / $0 }
        var errors: [PlotSeries] = [], tangents: [PlotSeries] = [], rows: [[String]] = [], reasons: [String] = []
        if case .array(let starts)? = run.summary["starts"] {
            for case .object(let o) in starts {
                let x0 = o["start"]?.numeric ?? 0
                let name = String(format: "x₀ = %g", x0)
                var order = "-"
                if case .object(let fit)? = o["euler_order"], let p = fit["order"]?.numeric {
                    order = String(format: "%.3f ", p) + ResNetReport.intervalText(o["euler_order"], reasons: &reasons)
                }
                if let e = o["euler_errors"]?.numbers, x0 > 0 { errors.append(PlotSeries(name, x: h, y: e, style: .points)) }
                if let t = o["tangents"]?.numbers, x0 > 0 { tangents.append(PlotSeries(name, x: h, y: t)) }
                rows.append([name, o["exact_end"]?.displayText ?? "", o["euler_ends"]?.numbers.last.map { String(format: "%.6g", $0) } ?? "-",
                             order, o["backward_euler_ends"]?.numbers.last.map { String(format: "%.6g", $0) } ?? "-",
                             o["backward_euler_converged"]?.displayText ?? "", o["exact_tangent"]?.displayText ?? "-"])
            }
        }
        r.plot(SVGPlot(title: "Euler's end-point error against h", xLabel: "h = T/L", yLabel: "|x_L − x(T)|", xLog: true, yLog: true, series: errors),
               caption: "From x₀ = ε > 0 the solution (√ε + t/2)² is unique; the error's constant grows as ε → 0, where uniqueness is lost.")
        r.plot(SVGPlot(title: "Sensitivity of x_L to x₀", xLabel: "h = T/L", yLabel: "∂x_L/∂x₀", xLog: true, yLog: true,
                       series: tangents + [PlotSeries("difference quotient at x₀ = 0", x: h, y: run.summary["quotients_at_zero"]?.numbers ?? [], style: .dashed)]),
               caption: "Solid: the tangent Π(1 + h/(2√|x_l|)) along Euler's path from ε, towards (√ε + T/2)/√ε; dashed: (x_L(δ) − x_L(0))/δ, "
                   + "which grows as h → 0 since Euler stays at 0 from 0 but leaves any δ > 0.")
        r.table(headers: ["start", "exact x(T)", "Euler x_L (largest L)", "Euler order (95 % interval)", "backward Euler x_L", "backward Euler converged",
                          "exact ∂x(T)/∂x₀"], rows: rows)
        ResNetReport.notIdentified(reasons, in: &r)
        return r.render()
    }
}
