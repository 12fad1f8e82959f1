import Foundation
import WideNet

/// `widenet report`: rewrites the report of an earlier run from its files (config.json,
/// metrics.jsonl, summary.json and the arrays its report draws), or compares several runs in one
/// report. Every kind gets back exactly the report it wrote (RunReports).
public enum ReportRebuild {
    /// Rewrites `<path>/report.html` and returns its location. Every directory is read in full
    /// before anything is written.
    @discardableResult
    public static func rebuild(_ path: String) throws -> URL {
        var run = try RunFiles.load(path)
        let html = try RunReports.html(for: run)
        let url = run.url.appendingPathComponent("report.html")
        try AtomicFile.write(html, to: url)
        // The run wrote summary.json but not its report (a full disk): now that it exists, the summary
        // no longer says it failed, and the report is rebuilt from that summary.
        if run.summary["report_error"] != nil {
            var summary = run.summary
            summary["report_error"] = nil
            try AtomicFile.write(summary.render(pretty: true) + "\n", to: run.url.appendingPathComponent("summary.json"))
            run = try RunFiles.load(path)
            try AtomicFile.write(try RunReports.html(for: run), to: url)
        }
        return url
    }

    /// Writes report.html and summary.json (the runs compared) into `out` (default
    /// runs/report-<time>) and returns the directory.
    public static func compare(_ paths: [String], out: String?) throws -> URL {
        guard paths.count >= 2 else { throw WideNetIOError("a comparison needs at least two run directories (got \(paths.count))") }
        let runs = try paths.map(RunFiles.load)
        let names = labels(runs, paths: paths)
        let directory = try RunDirectory(path: out, command: "report")
        var summary = JSONObject()
        summary.set("command", "report")
        summary.set("version", widenetVersion)
        summary["runs"] = .array(zip(runs, names).map { run, name in
            var o = JSONObject()
            o.set("name", name); o.set("path", run.url.path); o.set("command", run.command)
            return .object(o)
        })
        let x = GenericReport.sharedAxis(runs)
        summary.set("x_axis", x.key)
        summary["metrics_compared"] = .array(GenericReport.sharedColumns(runs).filter { $0 != x.key }.map { .string($0) })
        try directory.writeJSON(summary, to: "summary.json")
        try directory.writeText(GenericReport.comparison(runs, names: names), to: "report.html")
        return directory.url
    }

    /// Each run by its directory's name, or by the path given where two names coincide.
    static func labels(_ runs: [RunFiles], paths: [String]) -> [String] {
        let names = runs.map(\.name)
        return zip(names, paths).map { name, path in names.filter { $0 == name }.count > 1 ? path : name }
    }
}
