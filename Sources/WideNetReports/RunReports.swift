import Foundation
import WideNet

/// Every kind's report as a function of the files its run wrote, so that the report a run writes
/// and the one `widenet report DIR` rebuilds are the same bytes.
public enum RunReports {
    /// Makes every run write its report (ReportHook); call once before running experiments.
    public static func install() { ReportHook.writer = { url in try write(in: url) } }

    static func html(for run: RunFiles) throws -> String {
        if case .string(let status)? = run.summary["status"], status == "diverged" || status == "failed" { return GenericReport.html(run) }
        switch run.command {
        case "train": return run.summary["batch"] != nil ? SGDReport.html(run) : try TrainReport.html(run)
        case "sweep":
            // The members' loss curves, from their own directories (width-<m>/metrics.jsonl).
            // With several seeds, the first seed's run of each width.
            let firstSeed = run.metrics.first?["seed"]
            let curves = try run.metrics.compactMap { row -> (width: Int, history: History)? in
                guard let m = row["width"]?.numeric, row["seed"] == firstSeed else { return nil }
                let member = run.url.appendingPathComponent(row["seed"] == nil ? "width-\(Int(m))" : "width-\(Int(m))-s0")
                guard FileManager.default.fileExists(atPath: member.appendingPathComponent("metrics.jsonl").path) else { return nil }
                return (Int(m), History(rows: try RunDirectory.metricsRows(in: member)))
            }
            return WidthSweepReport.html(summary: run.summary, rows: run.metrics, curves: curves)
        case "mfld": return try MFLDReport.html(run)
        case "mfld-chaos": return ChaosReport.html(run)
        case "saddle": return try SaddleReport.html(run)
        case "saddle-sweep": return try SaddleSweepReport.html(run)
        case "gram": return try GramReport.html(run)
        case "resnet": return try ResNetReport.html(run)
        case "wide-enough": return WideEnoughReport.html(run)
        case "sgd-rates": return SGDReport.sweepHTML(run)
        default: return GenericReport.html(run)
        }
    }

    /// Writes `url`/report.html from the files in `url`.
    @discardableResult
    public static func write(in url: URL) throws -> URL {
        let run = try RunFiles.load(url.path)
        let target = url.appendingPathComponent("report.html")
        try AtomicFile.write(try html(for: run), to: target)
        return target
    }
}
