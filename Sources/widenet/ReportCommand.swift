import ArgumentParser
import Foundation
import WideNet
import WideNetReports

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rebuilds the report of a run from its files, or compares several runs in one report.",
        discussion: """
            With one run directory, rewrites DIR/report.html from config.json, metrics.jsonl and \
            summary.json: a train or sweep run gets back the report it wrote, other runs the summary \
            and one plot per numeric metrics column. With several, writes a comparison into --out \
            (report.html and a summary.json listing the runs): every numeric metric the runs share, one \
            series per run named by its directory, and their summary figures side by side.

            Examples:
              widenet report runs/train-20261123-132439
              widenet report runs/m16 runs/m20 --out runs/m16-vs-m20
              widenet report runs/sweep-cpu runs/sweep-gpu
            """)

    @Argument(help: "Run directories (written by train, sweep, mfld, saddle, …).") var directories: [String] = []
    @Option(help: "Where a comparison of several runs goes (default: runs/report-<time>).") var out: String?

    func run() throws {
        try reportingErrors {
            switch directories.count {
            case 0:
                throw ValidationError("give a run directory to rebuild, or several to compare")
            case 1:
                guard out == nil else { throw ValidationError("--out applies only when comparing several runs; one run's report is rewritten in its directory") }
                print("report: \(try ReportRebuild.rebuild(directories[0]).path)")
            default:
                print("report: \(try ReportRebuild.compare(directories, out: out).appendingPathComponent("report.html").path)")
            }
        }
    }
}
