import ArgumentParser
import Foundation
import WideNet

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "The NTK experiment of `widenet train` at several widths: how its diagnostics scale with m.",
        discussion: """
            Runs `widenet train` at each width with the same data, seed and step size, each into \
            <out>/width-<m>/, then fits log-log slopes against m of the largest weight movement \
            (theory: −1/2), the fraction of flipped activation patterns and the distance to the kernel \
            prediction. metrics.jsonl has one row per width; report.html draws each diagnostic against m \
            with its fitted line and has a table of the widths. Without --lr every width uses \
            η = 1/λ_max(H∞), which depends on the data alone.

            Examples:
              widenet sweep --widths 1024,4096,16384,65536,262144 --steps 200
              widenet sweep --widths 4096,65536,1048576,16777216 --steps 500 --out runs/gpu
              widenet sweep --widths 1024,8192,65536 --x X.npy --y y.npy --lr 0.5
            """)

    @Option(help: "Widths m, comma-separated, at least two (e.g. 1024,4096,16384).") var widths: String?
    @Option(help: "Samples (synthetic data; default 64).") var n: Int?
    @Option(help: "Input dimension (synthetic data; default 16).") var d: Int?
    @Option(help: "Gradient-descent steps at every width.") var steps: Int = 300
    @Option(help: "Step size η (default 1/λ_max(H∞), the same at every width).") var lr: Double?
    @Option(help: "Seed of data, initial weights and everything random.") var seed: UInt64 = 0
    @Option(help: "sphere (uniform on the unit sphere, labels uniform in (−1,1)), teacher (labels from a random ReLU net) or file.")
    var dataset: DatasetKind?
    @Option(help: "Inputs, n×d .npy (implies --dataset file; rows are scaled to unit norm).") var x: String?
    @Option(help: "Labels, n .npy.") var y: String?
    @Option(help: "Standard deviation κ of the initial hidden weights.") var kappa: Double = 1
    @Option(name: .customLong("log-every"), help: "Write a metrics row of each width's run every K steps (default: about 200 rows).")
    var logEvery: Int?
    @Option(name: .customLong("gram-every"), help: "Compute H(k) and λ_min(H(k)) every K steps (0: first and last step only).")
    var gramEvery: Int = 0
    @OptionGroup var runControl: RunControlOptions
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try reportingErrors {
            var cfg = NTKTrainConfig()
            cfg.n = n; cfg.d = d; cfg.steps = steps; cfg.learningRate = lr; cfg.seed = seed
            cfg.dataset = dataset; cfg.xPath = x; cfg.yPath = y; cfg.kappa = kappa
            cfg.logEvery = logEvery; cfg.gramEvery = gramEvery
            cfg.backend = try deviceOptions.resolvedBackend(); cfg.device = deviceOptions.resolvedDevice
            cfg.precision = deviceOptions.precision; cfg.out = output.out; cfg.quiet = output.quiet
            var widthList = try widths.map(parsedWidths)
            let recorded = try runControl.recorded(given: [])
            if let recorded {
                guard output.out == nil || output.out == runControl.resume else {
                    throw ValidationError("--resume continues the sweep in its own directory; leave out --out")
                }
                guard recorded.command() == "sweep" else {
                    throw ValidationError("--resume \(recorded.directory.path): a \(recorded.command() ?? "unknown") run, not a sweep")
                }
                let onLine = CommandLine.arguments.dropFirst().filter { $0.hasPrefix("--") }
                    .filter { !["--resume", "--quiet", "--json", "--progress", "--log-level", "--checkpoint-every", "--no-checkpoint"].contains($0) }
                if let first = onLine.first {
                    throw ValidationError("--resume continues the sweep with the options it started with; \(first) does not apply")
                }
                cfg = try NTKTrainConfig(recorded: recorded)
                cfg.width = nil; cfg.quiet = output.quiet
                widthList = recorded.options["widths"]?.numbers.map { Int($0) }
            }
            guard let widthList else { throw ValidationError("--widths is required (or --resume DIR to continue a sweep)") }
            let result = try reportingInterruption {
                try WidthSweep.run(cfg, widths: widthList, control: runControl.control(recorded), resume: recorded != nil) { done, total, row, seconds in
                    if !output.quiet { printProgress(done: done, total: total, row: row, seconds: seconds) }
                }
            }
            output.finish(result.summary, directory: result.directory, notes: result.notes) { printSummary(result.summary) }
        }
    }

    func parsedWidths(_ widths: String) throws -> [Int] {
        try widths.split(separator: ",", omittingEmptySubsequences: false).map { part in
            let text = part.trimmingCharacters(in: .whitespaces)
            guard let m = Int(text) else { throw ValidationError("--widths takes comma-separated integers, e.g. 1024,4096 (got '\(text)')") }
            return m
        }
    }

    func printProgress(done: Int, total: Int, row: JSONObject, seconds: Double) {
        func g(_ key: String) -> String { row[key]?.numeric.map { String(format: "%.4g", $0) } ?? "?" }
        let line = "width \(row["width"]?.displayText ?? "?") (\(done)/\(total)): loss \(g("loss")), max movement \(g("final_max_move")), "
            + "flipped \(g("final_flip_fraction")), kernel deviation \(g("max_kernel_deviation")), \(String(format: "%.1f", seconds)) s\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func printSummary(_ s: JSONObject) {
        let keys = ["backend", "device", "n", "d", "steps", "lr", "lambda0", "widths", "slope_max_move", "r2_max_move",
                    "slope_flip_fraction", "r2_flip_fraction", "slope_kernel_deviation", "r2_kernel_deviation", "bound_holds",
                    "wall_seconds"]
        for k in keys {
            guard let v = s[k] else { continue }
            print(k.padding(toLength: 24, withPad: " ", startingAt: 0) + v.displayText)
        }
    }
}
