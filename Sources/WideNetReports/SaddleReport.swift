import Foundation
import WideNet

/// report.html of `widenet saddle`: the staircase (loss and singular values on one log axis), the
/// singular values and the rank against the step, and the plateaus found.
enum SaddleReport {
    /// From the run's files: summary.json (plateaus, jumps, the teacher), metrics.jsonl (the logged
    /// singular values and ranks) and losses.npy (the loss at every step).
    static func html(_ run: RunFiles) throws -> String {
        let losses = try run.array("losses.npy").values
        let logged = run.metrics.compactMap { row -> (step: Int, loss: Double, s: [Double], rank: Int)? in
            guard let step = row["step"]?.numeric, let loss = row["loss"]?.numeric else { return nil }
            return (Int(step), loss, row["singular_values"]?.numbers ?? [], Int(row["rank"]?.numeric ?? 0))
        }
        func objects(_ key: String) -> [JSONObject] {
            guard case .array(let items)? = run.summary[key] else { return [] }
            return items.compactMap { if case .object(let o) = $0 { return o } else { return nil } }
        }
        let plateaus = objects("plateaus").compactMap { o -> Plateau? in
            guard let start = o["start"]?.numeric, let end = o["end"]?.numeric, let loss = o["loss"]?.numeric else { return nil }
            return Plateau(start: Int(start), end: Int(end), loss: loss)
        }
        let jumps = objects("jumps").compactMap { o -> (step: Int, loss: Double)? in
            guard let step = o["step"]?.numeric, let loss = o["loss_after"]?.numeric else { return nil }
            return (Int(step), loss)
        }
        let units = run.metrics.compactMap { row -> (dead: Double, duplicates: Double, alignment: Double)? in
            guard row["step"]?.numeric != nil else { return nil }
            return (row["dead_units"]?.numeric ?? .nan, row["duplicate_pairs"]?.numeric ?? .nan, row["alignment"]?.numeric ?? .nan)
        }
        return html(summary: run.summary, logged: logged, losses: losses, plateaus: plateaus,
                    teacher: run.summary["teacher_singular_values"]?.numbers ?? [], jumps: jumps, notes: run.notes, units: units)
    }

    static func html(summary: JSONObject, logged: [(step: Int, loss: Double, s: [Double], rank: Int)], losses: [Double],
                       plateaus: [Plateau], teacher: [Double], jumps: [(step: Int, loss: Double)], notes: [String],
                       units: [(dead: Double, duplicates: Double, alignment: Double)] = []) -> String {
        var r = HTMLReport(title: "widenet saddle")
        r.heading("Saddle-to-saddle dynamics of a small-initialisation two-layer net")
        r.keyValues(summary.pairs.filter { $0.0 != "plateaus" && $0.0 != "notes" && $0.0 != "jumps" && $0.0 != "drops" }.map { ($0.0, $0.1.displayText) })
        for note in notes { r.paragraph(note) }
        if !plateaus.isEmpty {
            r.table(headers: ["plateau", "start", "end", "length", "loss", "rank"], rows: plateaus.enumerated().map { i, p in
                ["\(i + 1)", "\(p.start)", "\(p.end)", "\(p.end - p.start + 1)", String(format: "%.4g", p.loss),
                 "\(logged.last(where: { $0.step <= p.start })?.rank ?? 0)"]
            })
        }
        let steps = logged.map { Double($0.step) }
        var svSeries: [PlotSeries] = []
        for i in 0..<min(teacher.count, logged.first?.s.count ?? 0) {
            svSeries.append(PlotSeries("s\(i + 1) (teacher \(String(format: "%.3g", teacher[i])))", x: steps, y: logged.map { $0.s[i] }))
        }
        // Below 10⁻⁸ of the initial loss the run has converged and the curve would only stretch the axis.
        let floor = 1e-8 * (losses.first ?? 1)
        let shown = losses.indices.filter { losses[$0] > floor }
        let lastStep = Double(min(losses.count - 1, Int(1.2 * Double((shown.last ?? 0) + 10))))
        var staircase = [PlotSeries("loss", x: shown.map(Double.init), y: shown.map { losses[$0] })]
        if !jumps.isEmpty {
            staircase.append(PlotSeries("plateau jumps", x: jumps.map { Double($0.step) }, y: jumps.map(\.loss), style: .points))
        }
        // On a log axis only positive values can be drawn: an exact zero (a unit that never grew) is left out, not drawn at the floor.
        let logSeries = svSeries.map { series in
            let keep = series.x.indices.filter { series.x[$0] <= lastStep && series.y[$0] > 0 }
            return PlotSeries(series.name, x: keep.map { series.x[$0] }, y: keep.map { series.y[$0] })
        }
        let of = summary["singular_values_of"].map { $0.displayText } ?? "the learned map"
        r.plots([
            SVGPlot(title: "The staircase: the loss", xLabel: "step", yLabel: "½‖f − Y‖²/n", yLog: true, series: staircase),
            SVGPlot(title: "Singular values of \(of) (log)", xLabel: "step", yLabel: "s_i", yLog: true, series: logSeries),
            SVGPlot(title: "Singular values of \(of)", xLabel: "step", yLabel: "s_i", series: svSeries),
            SVGPlot(title: "Rank of the learned map", xLabel: "step", yLabel: "rank",
                    series: [PlotSeries("rank", x: steps, y: logged.map { Double($0.rank) })]),
            SVGPlot(title: "Amari's singular regions and Arata's alignment", xLabel: "step", yLabel: "units, pairs, share", series: [
                PlotSeries("dead units", x: steps, y: units.map(\.dead)),
                PlotSeries("near-duplicate pairs", x: steps, y: units.map(\.duplicates), style: .dashed),
                PlotSeries("alignment (share of ‖W1‖² in its top direction)", x: steps, y: units.map(\.alignment), style: .dotted),
            ]),
        ])
        return r.render()
    }
}
