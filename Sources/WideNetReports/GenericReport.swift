import Foundation
import WideNet

/// Reports drawn from the files of any run, whatever wrote it: the summary's figures and one plot
/// per numeric metrics column for a single run, or several runs overlaid, one series per run.
enum GenericReport {
    static func html(_ run: RunFiles) -> String {
        var r = HTMLReport(title: "widenet \(run.command)")
        r.heading("Run \(run.name)")
        r.keyValues(run.summary.pairs.map { ($0.0, shortened($0.1.displayText)) })
        let x = Axis(rows: run.metrics)
        let plots = numericColumns(run.metrics).filter { $0 != x.key }.map { key in
            plot(key, x: x, series: [series(key, rows: run.metrics, x: x.key, y: key)])
        } + vectorColumns(run.metrics).map { key in plot(key, x: x, series: vectorSeries(key, rows: run.metrics, x: x.key)) }
        if plots.isEmpty { r.paragraph("metrics.jsonl has no numeric columns to draw.") } else { r.plots(plots) }
        return r.render()
    }

    /// Keys whose values are arrays of numbers in every row that has them (singular values, say).
    static func vectorColumns(_ rows: [JSONObject]) -> [String] {
        var order: [String] = [], numeric: [String: Bool] = [:]
        for row in rows {
            for (key, value) in row.pairs {
                if numeric[key] == nil { order.append(key); numeric[key] = true }
                guard case .array(let items) = value, items.allSatisfy({ $0.numeric != nil }) else { numeric[key] = false; continue }
            }
        }
        return order.filter { numeric[$0] == true }
    }

    /// One series per entry of an array column, the first few only, so the legend stays legible.
    static func vectorSeries(_ key: String, rows: [JSONObject], x: String, limit: Int = 8) -> [PlotSeries] {
        func items(_ row: JSONObject) -> [Double] {
            guard case .array(let values)? = row[key] else { return [] }
            return values.map { $0.numeric ?? .nan }
        }
        let length = min(limit, rows.map { items($0).count }.max() ?? 0)
        return (0..<length).map { i in
            let present = rows.filter { items($0).count > i }
            return PlotSeries("\(key)[\(i)]", x: present.map { $0[x]?.numeric ?? .nan }, y: present.map { items($0)[i] },
                              style: present.count <= 20 ? .points : .line)
        }
    }

    /// `names[i]` labels `runs[i]` in the tables and legends.
    static func comparison(_ runs: [RunFiles], names: [String]) -> String {
        var r = HTMLReport(title: "widenet report: \(runs.count) runs")
        r.heading("Runs")
        r.table(headers: ["run", "command", "directory", "metrics rows"],
                rows: zip(runs, names).map { run, name in [name, run.command, run.url.path, "\(run.metrics.count)"] })

        r.heading("Summary figures")
        let listed = runs.map { figures(of: $0.summary) }
        let perRun: [[String: String]] = listed.map { Dictionary($0, uniquingKeysWith: { first, _ in first }) }
        var keys: [String] = []
        for pairs in listed { for (key, _) in pairs where !keys.contains(key) { keys.append(key) } }
        let rows: [[String]] = keys.map { key in [key] + perRun.map { $0[key] ?? "—" } }
        r.table(headers: ["figure"] + names, rows: rows)

        let x = sharedAxis(runs)
        let group = runs.compactMap { groupColumn($0.metrics) }.first
        r.heading("Metrics against \(x.key)" + (group.map { ", one series per \($0)" } ?? ""))
        let plots = sharedColumns(runs).filter { $0 != x.key }.map { key in
            plot(key, x: x, series: zip(runs, names).flatMap { run, name in groupedSeries(name, rows: run.metrics, x: x.key, y: key, by: group) })
        }
        if plots.isEmpty { r.paragraph("The runs share no numeric metrics column.") } else { r.plots(plots) }
        return r.render()
    }

    /// The numeric metrics columns every run has, in the first run's order.
    static func sharedColumns(_ runs: [RunFiles]) -> [String] {
        let columns = runs.map { Set(numericColumns($0.metrics)) }
        return numericColumns(runs.first?.metrics ?? []).filter { key in columns.allSatisfy { $0.contains(key) } }
    }

    /// A summary's figures for the side-by-side table, nested ones by path: `schemes[euler].order.order`
    /// (an array of objects is keyed by each object's first text field), a fitted value as its interval.
    static func figures(of summary: JSONObject) -> [(String, String)] {
        var out: [(String, String)] = []
        func visit(_ value: JSONValue, _ path: String, depth: Int) {
            if let f = figure(value) { out.append((path, f)); return }
            guard depth < 4 else { return }
            switch value {
            case .object(let o):
                if case .bool? = o["identified"] { out.append((path, value.displayText)); return }
                for (k, v) in o.pairs { visit(v, "\(path).\(k)", depth: depth + 1) }
            case .array(let items) where items.count <= 16:
                for (i, item) in items.enumerated() {
                    guard case .object(let o) = item else { continue }
                    let label = o.pairs.first { if case .string = $0.1 { return true } else { return false } }?.1.displayText ?? "\(i)"
                    visit(item, "\(path)[\(label)]", depth: depth + 1)
                }
            default: break
            }
        }
        for (key, value) in summary.pairs where key != "notes" { visit(value, key, depth: 0) }
        return out
    }

    /// A text column that splits a run's rows into curves (resnet depth-limit's `scheme`): every row
    /// that has it holds a string, with at least two different values.
    static func groupColumn(_ rows: [JSONObject]) -> String? {
        guard let first = rows.first else { return nil }
        return first.pairs.first { key, value in
            guard case .string = value, key != "member" else { return false }
            let values = rows.compactMap { row -> String? in if case .string(let s)? = row[key] { return s } else { return nil } }
            return values.count == rows.filter { $0[key] != nil }.count && Set(values).count > 1
        }?.0
    }

    /// One series per value of the group column (all rows as one when there is none).
    static func groupedSeries(_ name: String, rows: [JSONObject], x: String, y: String, by group: String?) -> [PlotSeries] {
        guard let group else { return [series(name, rows: rows, x: x, y: y)] }
        var order: [String] = []
        for row in rows { if case .string(let g)? = row[group], !order.contains(g) { order.append(g) } }
        return order.map { g in series("\(name) \(g)", rows: rows.filter { $0[group] == .string(g) }, x: x, y: y) }
    }

    /// The x axis of the runs' plots: one they all agree on, else the step.
    static func sharedAxis(_ runs: [RunFiles]) -> Axis {
        let axes = runs.map { Axis(rows: $0.metrics) }
        guard let first = axes.first, axes.allSatisfy({ $0.key == first.key }) else { return Axis(key: "step", log: false) }
        return Axis(key: first.key, log: axes.allSatisfy(\.log))
    }

    /// What metrics are drawn against: the step, or for a sweep (whose rows all carry the final
    /// step) or rows that repeat their steps (one curve per scheme) the quantity swept.
    struct Axis {
        var key: String, log: Bool
        static let sweptQuantities = ["width", "init_scale", "particles", "h", "depth"]

        init(key: String, log: Bool) { self.key = key; self.log = log }

        init(rows: [JSONObject]) {
            let stepList = rows.compactMap { $0["step"]?.numeric }
            let steps = Set(stepList)
            if steps.count <= 1 || steps.count < stepList.count || GenericReport.groupColumn(rows) != nil, rows.count > 1,
               let swept = Axis.sweptQuantities.first(where: { key in Set(rows.compactMap { $0[key]?.numeric }).count > 1 }) {
                self.init(key: swept, log: GenericReport.spansDecades(rows.compactMap { $0[swept]?.numeric }, 0.6))
            } else {
                self.init(key: "step", log: false)
            }
        }
    }

    /// Keys whose values are numbers (or null) in every row that has them, with at least one finite
    /// value, in the order they first appear.
    static func numericColumns(_ rows: [JSONObject]) -> [String] {
        var order: [String] = [], numeric: [String: Bool] = [:], finite: Set<String> = []
        for row in rows {
            for (key, value) in row.pairs {
                if numeric[key] == nil { order.append(key); numeric[key] = true }
                guard let v = value.numeric else { numeric[key] = false; continue }
                if v.isFinite { finite.insert(key) }
            }
        }
        return order.filter { numeric[$0] == true && finite.contains($0) }
    }

    /// The rows that have `y`, as one series against `x`.
    static func series(_ name: String, rows: [JSONObject], x: String, y: String) -> PlotSeries {
        let present = rows.filter { $0[y] != nil }
        return PlotSeries(name, x: present.map { $0[x]?.numeric ?? .nan }, y: present.map { $0[y]?.numeric ?? .nan },
                          style: present.count <= 20 ? .points : .line)
    }

    /// Values spanning more than two decades are drawn on a log axis (a swept quantity: more than a factor 4).
    static func plot(_ key: String, x: Axis, series: [PlotSeries]) -> SVGPlot {
        SVGPlot(title: key, xLabel: x.key, yLabel: key, xLog: x.log, yLog: spansDecades(series.flatMap(\.y), 2), series: series)
    }

    /// True when every finite value is positive and the largest exceeds the smallest by more than `decades` decades.
    static func spansDecades(_ values: [Double], _ decades: Double) -> Bool {
        let finite = values.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max(), lo > 0 else { return false }
        return hi / lo > Foundation.pow(10, decades)
    }

    /// A summary value for the side-by-side table: numbers to six digits, booleans as words; nil for text.
    static func figure(_ value: JSONValue?) -> String? {
        switch value {
        case .int(let v)?: return "\(v)"
        case .number(let v)?: return String(format: "%.6g", v)
        case .bool(let b)?: return b ? "true" : "false"
        default: return nil
        }
    }

    /// Long arrays and nested objects are cut so the table stays readable; summary.json has them whole.
    static func shortened(_ text: String, limit: Int = 240) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + " …"
    }
}
