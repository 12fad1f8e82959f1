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
        var keys: [String] = []
        for run in runs {
            for (key, value) in run.summary.pairs where !keys.contains(key) && figure(value) != nil { keys.append(key) }
        }
        r.table(headers: ["figure"] + names, rows: keys.map { key in [key] + runs.map { figure($0.summary[key]) ?? "—" } })

        let x = sharedAxis(runs)
        r.heading("Metrics against \(x.key)")
        let plots = sharedColumns(runs).filter { $0 != x.key }.map { key in
            plot(key, x: x, series: zip(runs, names).map { run, name in series(name, rows: run.metrics, x: x.key, y: key) })
        }
        if plots.isEmpty { r.paragraph("The runs share no numeric metrics column.") } else { r.plots(plots) }
        return r.render()
    }

    /// The numeric metrics columns every run has, in the first run's order.
    static func sharedColumns(_ runs: [RunFiles]) -> [String] {
        let columns = runs.map { Set(numericColumns($0.metrics)) }
        return numericColumns(runs.first?.metrics ?? []).filter { key in columns.allSatisfy { $0.contains(key) } }
    }

    /// The x axis of the runs' plots: one they all agree on, else the step.
    static func sharedAxis(_ runs: [RunFiles]) -> Axis {
        let axes = runs.map { Axis(rows: $0.metrics) }
        guard let first = axes.first, axes.allSatisfy({ $0.key == first.key }) else { return Axis(key: "step", log: false) }
        return Axis(key: first.key, log: axes.allSatisfy(\.log))
    }

    /// What metrics are drawn against: the step, or for a sweep (whose rows all carry the final
    /// step) the quantity it sweeps.
    struct Axis {
        var key: String, log: Bool
        static let sweptQuantities = ["width", "init_scale", "particles"]

        init(key: String, log: Bool) { self.key = key; self.log = log }

        init(rows: [JSONObject]) {
            let steps = Set(rows.compactMap { $0["step"]?.numeric })
            if steps.count <= 1, rows.count > 1,
               let swept = Axis.sweptQuantities.first(where: { key in Set(rows.compactMap { $0[key]?.numeric }).count > 1 }) {
                self.init(key: swept, log: GenericReport.spansDecades(rows.compactMap { $0[swept]?.numeric }, 1))
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

    /// Values spanning more than two decades are drawn on a log axis.
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
