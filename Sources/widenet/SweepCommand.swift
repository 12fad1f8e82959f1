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
    @OptionGroup var problem: NTKProblemOptions
    @Option(help: "Runs per width on the same data (seeds --seed, --seed + 1, … for the weights); with 5 or more the slopes get 95 % intervals.")
    var seeds: Int = 1
    @Option(help: "Sample counts n, comma-separated: measure how wide is wide enough (the fraction of seeds whose bound and λ_min(H(k)) ≥ λ0/2 held, m*(n) and its exponent).")
    var ns: String?
    @Option(help: "With --ns: m*(n) is the smallest width at which a fraction 1 − δ of the seeds held.") var delta: Double = 0.2
    @OptionGroup var runControl: RunControlOptions
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try reportingErrors(splitsOverRanks: true) {
            var cfg = try problem.config(deviceOptions, output)
            var widthList = try widths.map(parsedWidths)
            var seedCount = seeds
            var nList = try ns.map(parsedWidths)
            var deltaValue = delta
            var given = JSONObject()
            if let widthList { given["widths"] = .array(widthList.map { .int($0) }) }
            given.set("seeds", seeds)
            let recorded = try runControl.recorded(checking: cfg, keys: NTKTrainConfig.recordedKeys + ["widths", "seeds"], extra: given)
            if let recorded {
                guard output.out == nil || output.out == runControl.resume else {
                    throw ValidationError("--resume continues the sweep in its own directory; leave out --out")
                }
                if recorded.command() == "wide-enough" {
                    nList = recorded.options["ns"]?.numbers.map { Int($0) }
                    deltaValue = recorded.double("delta") ?? delta
                }
                guard recorded.command() == "sweep" || recorded.command() == "wide-enough" else {
                    throw ValidationError("--resume \(recorded.directory.path): a \(recorded.command() ?? "unknown") run, not a sweep")
                }
                cfg = try NTKTrainConfig(recorded: recorded)
                cfg.width = nil; cfg.quiet = output.quiet
                widthList = recorded.options["widths"]?.numbers.map { Int($0) }
                seedCount = recorded.int("seeds") ?? 1
            }
            guard let widthList else { throw ValidationError("--widths is required (or --resume DIR to continue a sweep)") }
            if let nList {
                let result = try reportingInterruption {
                    try WideEnoughSweep.run(cfg, ns: nList, widths: widthList, seeds: seedCount, delta: deltaValue,
                                            control: runControl.control(recorded), resume: recorded != nil) { done, total, row, seconds in
                        if !output.quiet { printProgress(done: done, total: total, row: row, seconds: seconds) }
                    }
                }
                if Job.isLeader { output.finish(result.summary, directory: result.directory, notes: result.notes) { printSummary(result.summary) } }
                return
            }
            let result = try reportingInterruption {
                try WidthSweep.run(cfg, widths: widthList, seeds: seedCount, control: runControl.control(recorded), resume: recorded != nil) { done, total, row, seconds in
                    if !output.quiet { printProgress(done: done, total: total, row: row, seconds: seconds) }
                }
            }
            // Rank 0 alone reports (and alone wrote the sweep's directory).
            if Job.isLeader {
                output.finish(result.summary, directory: result.directory, notes: result.notes) { printSummary(result.summary) }
            }
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
                    "ns", "delta", "m_star", "fit_m_star_exponent", "theorem_exponent", "wall_seconds"]
        for k in keys {
            guard let v = s[k] else { continue }
            print(k.padding(toLength: 24, withPad: " ", startingAt: 0) + v.displayText)
        }
    }
}
