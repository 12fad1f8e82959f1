import Foundation

/// Where the harness hands a finished (or diverged) run for its report.html. The reports are a
/// target of their own (WideNetReports), built on the files a run writes; whoever runs
/// experiments installs them (the CLI at start-up: `RunReports.install()`). Without it a run
/// writes every file but the report.
public enum ReportHook {
    nonisolated(unsafe) public static var writer: ((URL) throws -> Void)? = nil

    static func write(in url: URL) throws { try writer?(url) }
}
