import ArgumentParser
import Foundation
import Logging
import WideNet

extension BackendKind: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension DatasetKind: ExpressibleByArgument {}
extension OutputScaling: ExpressibleByArgument {}
extension ProgressMode: ExpressibleByArgument {}

/// --backend, --device, --precision, shared by every experiment.
struct DeviceOptions: ParsableArguments {
    @Option(help: "auto (fastest OpenCL GPU, else the CPU), cpu or opencl. Default: $WIDENET_BACKEND or auto.")
    var backend: BackendKind?

    @Option(help: "OpenCL device: an index from `widenet devices` or part of its name. Default: $WIDENET_DEVICE.")
    var device: String?

    @Option(help: "f32 or f64 (f64 needs cl_khr_fp64 on an OpenCL device).")
    var precision: Precision = .f32

    func resolvedBackend() throws -> BackendKind {
        if let backend { return backend }
        if let env = ProcessInfo.processInfo.environment["WIDENET_BACKEND"], !env.isEmpty {
            guard let kind = BackendKind(rawValue: env) else {
                throw ValidationError("WIDENET_BACKEND=\(env): expected auto, cpu or opencl")
            }
            return kind
        }
        return .auto
    }

    func validate() throws {
        if backend == .cpu && device != nil {
            throw ValidationError("--device \(device!) names an OpenCL device; it does not apply with --backend cpu")
        }
    }

    var resolvedDevice: String? {
        device ?? ProcessInfo.processInfo.environment["WIDENET_DEVICE"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// --out, --quiet, --json and --log-level.
struct OutputOptions: ParsableArguments {
    @Option(help: "Run directory to write (default: runs/<command>-<time>).")
    var out: String?

    @Flag(help: "No progress bar or summary table; errors still go to standard error.")
    var quiet = false

    @Flag(help: "Print the summary as one JSON object on standard output (with run_directory), for scripts.")
    var json = false

    @Option(name: .customLong("log-level"),
            help: "What the engine logs to standard error: trace, debug (kernel builds), info (backend, checkpoints), notice, warning, error or critical.")
    var logLevel: Logger.Level = .warning

    @Option(help: "Progress on standard error: auto (a bar on a terminal, else a line every ~10 s), bar, lines, json (one object per line, ~1 s apart) or none.")
    var progress: ProgressMode = .auto

    func validate() throws {
        LogBootstrap.configure(level: logLevel)
        ProgressBar.mode = progress
        if let out, out.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--out is empty: name a directory, or leave --out out for runs/<command>-<time>")
        }
    }

    /// The end of a run on the terminal: notes on standard error, then the summary as a table
    /// (unless --quiet) or as JSON (--json), then the run directory.
    func finish(_ summary: JSONObject, directory: URL, notes: [String], table: () -> Void) {
        for note in notes { printNote(note) }
        if json { printJSONSummary(summary, directory: directory); return }
        if !quiet { table() }
        print("run directory: \(directory.path)")
    }
}


/// The summary on the terminal: one `key  value` line per key that the summary has, in the order
/// given (every key when nil, but notes and `excluding`), the values in one column two spaces past
/// the longest key.
func printSummaryTable(_ summary: JSONObject, keys: [String]? = nil, excluding: Set<String> = []) {
    let shown = keys ?? summary.pairs.map(\.0).filter { $0 != "notes" && !excluding.contains($0) }
    let pairs = shown.compactMap { k in summary[k].map { (k, $0) } }
    let width = (pairs.map(\.0.count).max() ?? 0) + 2
    for (k, v) in pairs { print(k.padding(toLength: width, withPad: " ", startingAt: 0) + v.displayText) }
}
