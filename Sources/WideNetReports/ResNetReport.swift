import Foundation
import WideNet

/// report.html of `widenet resnet --experiment depth-limit`: end-point error against h per scheme on
/// log-log axes with the fitted orders, and for --dim 2 the flow of the points through depth.
enum ResNetReport {
    static func html(_ run: RunFiles) throws -> String {
        if run.summary["experiment"]?.displayText == "non-lipschitz" { return ResNetNonLipschitzReport.html(run) }
        if ["train", "boost"].contains(run.summary["experiment"]?.displayText) || run.summary["sweep"] != nil { return try ResNetTrainReport.html(run) }
        var r = HTMLReport(title: "widenet resnet")
        r.heading("ResNets as ODE discretisations: the depth limit")
        r.keyValues(run.summary.pairs.filter { !["notes", "schemes"].contains($0.0) }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { r.paragraph(note) }
        guard case .array(let entries)? = run.summary["schemes"] else { return r.render() }
        let horizon = run.summary["horizon"]?.numeric ?? 1
        var series: [PlotSeries] = [], rows: [[String]] = [], reasons: [String] = []
        for case .object(let s) in entries {
            let name = s["scheme"]?.displayText ?? "?"
            let depths = s["depths"]?.numbers ?? [], errors = s["errors"]?.numbers ?? []
            let h = depths.map { horizon / $0 }
            series.append(PlotSeries(name, x: h, y: errors, style: .points))
            var fitted = "-", interval = intervalText(s["order"], reasons: &reasons)
            if case .object(let o)? = s["order"], let p = o["order"]?.numeric, let c = o["intercept"]?.numeric,
               let lo = h.min(), let hi = h.max() {
                fitted = String(format: "%.3f", p)
                let label = o["identified"] == .bool(true) ? "" : " (not identified)"
                series.append(PlotSeries(String(format: "%@ fit: order %.2f%@", name, p, label), x: [lo, hi],
                                         y: [Foundation.exp(c) * Foundation.pow(lo, p), Foundation.exp(c) * Foundation.pow(hi, p)], style: .dashed))
            }
            if let u = s["errors_against_unmodified"]?.numbers, !u.isEmpty {
                series.append(PlotSeries("\(name) against x' = F", x: h, y: u, style: .dotted))
            }
            rows.append([name, s["limit"]?.displayText ?? "", fitted, interval, s["theory_order"]?.displayText ?? "",
                         errors.last.map { String(format: "%.3e", $0) } ?? "-", s["reference"]?.displayText ?? ""])
            if case .object(let u)? = s["order_against_unmodified"] {
                rows.append(["\(name) against x' = F", "x' = F", u["order"]?.numeric.map { String(format: "%.3f", $0) } ?? "-",
                             intervalText(s["order_against_unmodified"], reasons: &reasons), "-",
                             s["errors_against_unmodified"]?.numbers.last.map { String(format: "%.3e", $0) } ?? "-", s["reference"]?.displayText ?? ""])
            }
        }
        r.plot(SVGPlot(title: "End-point error against the step h = T/L", xLabel: "h", yLabel: "RMS error of x_L", xLog: true, yLog: true,
                       series: series),
               caption: "RMS over the points (and Brownian paths) of ‖x_L − x(T)‖ against each scheme's limit; the dashed lines are the "
                   + "least-squares fits of log error on log h, whose slopes are the fitted orders (interval: 95 %, the slope ± t₀.₉₇₅,ₖ₋₂ "
                   + "regression standard errors over its k depths, Student's t; not identified with fewer than 2 residual degrees of "
                   + "freedom, k < 4). "
                   + "Dotted: lm against x' = F, which it does not converge to for k ≠ 0.")
        r.table(headers: ["scheme", "limit", "fitted order", "95 % interval", "theory", "error at the largest depth", "reference"], rows: rows)
        notIdentified(reasons, in: &r)
        if run.summary["dim"]?.numeric == 2 {
            for case .object(let s) in entries {
                guard let scheme = s["scheme"]?.displayText else { continue }
                let file = scheme.replacingOccurrences(of: "-", with: "_")
                guard let t = try run.optionalArray("trajectory_\(file).npy"), t.shape.count == 3, t.shape[2] == 2 else { continue }
                r.plot(trajectories(t, title: "Flow of the points through depth: \(scheme), L = \(t.shape[0] - 1)"),
                       caption: "Each line is one input point (on the unit circle) through the blocks x_0 → x_L; for euler-maruyama the first path.")
                break
            }
        }
        return r.render()
    }

    /// A ConvergenceOrder's 95 % interval, or "not identified: reason".
    static func intervalText(_ fit: JSONValue?) -> String {
        var reasons: [String] = []
        let text = intervalText(fit, reasons: &reasons)
        return reasons.isEmpty ? text : text + ": " + reasons[0]
    }

    /// A ConvergenceOrder's 95 % interval, or "not identified" with its reason added to `reasons` (once), for table cells.
    static func intervalText(_ fit: JSONValue?, reasons: inout [String]) -> String {
        guard case .object(let o)? = fit else { return "-" }
        if o["identified"] == .bool(true), let i = o["interval"]?.numbers, i.count == 2 { return String(format: "[%.3f, %.3f]", i[0], i[1]) }
        let why = o["reason"]?.displayText ?? "no reason given"
        if !reasons.contains(why) { reasons.append(why) }
        return "not identified"
    }

    /// The reasons of the table's unidentified fits, one paragraph.
    static func notIdentified(_ reasons: [String], in r: inout HTMLReport) {
        if !reasons.isEmpty { r.paragraph("Not identified: " + reasons.joined(separator: "; ") + ".") }
    }

    /// One line per point through the blocks, the lines separated by gaps (NaN).
    static func trajectories(_ t: NPYArray, title: String) -> SVGPlot {
        let (steps, points) = (t.shape[0], t.shape[1])
        let stride = max(1, steps / 256)
        var xs: [Double] = [], ys: [Double] = []
        var blocks = Array(Swift.stride(from: 0, to: steps, by: stride))
        if blocks.last != steps - 1 { blocks.append(steps - 1) }
        for p in 0..<points {
            for l in blocks {
                xs.append(t.values[(l * points + p) * 2]); ys.append(t.values[(l * points + p) * 2 + 1])
            }
            xs.append(.nan); ys.append(.nan)
        }
        let starts = (0..<points).map { t.values[$0 * 2] }, startY = (0..<points).map { t.values[$0 * 2 + 1] }
        let last = (steps - 1) * points * 2
        let ends = (0..<points).map { t.values[last + $0 * 2] }, endY = (0..<points).map { t.values[last + $0 * 2 + 1] }
        return SVGPlot(title: title, xLabel: "x₁", yLabel: "x₂", xLog: false, yLog: false,
                       series: [PlotSeries("trajectories", x: xs, y: ys), PlotSeries("x_0", x: starts, y: startY, style: .points),
                                PlotSeries("x_L", x: ends, y: endY, style: .points)])
    }
}
