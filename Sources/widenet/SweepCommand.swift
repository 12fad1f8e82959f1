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
              widenet sweep --optimizer sgd --stream --average --seeds 5 --width 16384 --steps 100000

            With --optimizer sgd, --seeds S runs one SGD experiment S times (the stream and the weights \
            vary, the harmonic target stays) into <out>/seed-<j>/ and fits the decay rates of the last \
            and the averaged iterate's test error to the seed means, with 95 % intervals over the seeds.
            """)

    @Option(help: "Widths m, comma-separated, at least two (e.g. 1024,4096,16384).") var widths: String?
    @OptionGroup var problem: NTKProblemOptions
    @OptionGroup(title: "SGD") var sgd: SGDOptions
    @Option(help: "With --optimizer sgd: the width of every run.") var width: Int?
    @Option(help: "Runs per width on the same data (seeds --seed, --seed + 1, … for the weights); with 5 or more the slopes get 95 % intervals.")
    var seeds: Int = 1
    @Option(help: "Sample counts n, comma-separated: measure how wide is wide enough (the fraction of seeds whose bound and λ_min(H(k)) ≥ λ0/2 held, m*(n) and its exponent).")
    var ns: String?
    @Option(help: "With --ns: m*(n) is the smallest width at which a fraction 1 − δ of the seeds held.") var delta: Double = 0.2
    @OptionGroup var runControl: RunControlOptions
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if ns == nil && RunControlOptions.onCommandLine("--delta") {
            throw ValidationError("--delta applies to a wide-enough sweep (--ns); without --ns it does nothing")
        }
        if ns != nil && RunControlOptions.onCommandLine("--n") {
            throw ValidationError("--ns sets the sample counts of a wide-enough sweep; --n does not apply with it")
        }
    }

    func run() throws {
        try reportingErrors(splitsOverRanks: true) {
            var cfg = try problem.config(deviceOptions, output)
            sgd.apply(to: &cfg)
            if cfg.usesSGD || runControl.resume.flatMap({ try? RecordedConfig(directory: URL(fileURLWithPath: $0)) })?.command() == "sgd-rates" {
                return try runRates(cfg)
            }
            if width != nil { throw ValidationError("--width sets the width of an SGD sweep (--optimizer sgd); a sweep over widths takes --widths") }
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

    /// `--optimizer sgd --seeds S`: the rates of one SGD experiment over seeds (SGDRateSweep).
    func runRates(_ given: NTKTrainConfig) throws {
        var cfg = given
        if widths != nil || ns != nil { throw ValidationError("an SGD sweep runs one width over seeds (--width, --seeds); --widths and --ns sweep GD runs") }
        cfg.width = width
        var seedCount = seeds
        var extra = JSONObject()
        extra.set("seeds", seeds)
        let recorded = try runControl.recorded(checking: cfg, keys: NTKTrainConfig.recordedKeys + ["seeds"], extra: extra)
        if let recorded {
            guard output.out == nil || output.out == runControl.resume else {
                throw ValidationError("--resume continues the sweep in its own directory; leave out --out")
            }
            cfg = try NTKTrainConfig(recorded: recorded)
            cfg.quiet = output.quiet
            seedCount = recorded.int("seeds") ?? 1
        }
        let result = try reportingInterruption {
            try SGDRateSweep.run(cfg, seeds: seedCount, control: runControl.control(recorded), resume: recorded != nil) { done, total, row, seconds in
                if !output.quiet {
                    func g(_ key: String) -> String { row[key]?.numeric.map { String(format: "%.4g", $0) } ?? "?" }
                    FileHandle.standardError.write(Data(("seed \(row["seed"]?.displayText ?? "?") (\(done)/\(total)): test error \(g("final_test_error")), "
                        + "averaged \(g("final_test_error_average")), rates \(g("rate_last")) / \(g("rate_average")), \(String(format: "%.1f", seconds)) s\n").utf8))
                }
            }
        }
        if Job.isLeader { output.finish(result.summary, directory: result.directory, notes: result.notes) { printSummary(result.summary) } }
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
        let text = "loss \(g("loss")), max movement \(g("final_max_move")), "
            + "flipped \(g("final_flip_fraction")), kernel deviation \(g("max_kernel_deviation")), \(String(format: "%.1f", seconds)) s"
        SweepHarness.memberProgress(command: "sweep", member: "width \(row["width"]?.displayText ?? "?")", done: done, total: total,
                                    seconds: seconds, text: text)
    }

    func printSummary(_ s: JSONObject) {
        let keys = ["backend", "device", "n", "d", "steps", "lr", "lambda0", "widths", "slope_max_move", "r2_max_move",
                    "slope_flip_fraction", "r2_flip_fraction", "slope_kernel_deviation", "r2_kernel_deviation", "bound_holds",
                    "ns", "delta", "m_star", "fit_m_star_exponent", "theorem_exponent", "seeds", "samples_seen", "rate_last", "rate_average",
                    "rate_theory_average", "rate_optimal", "wall_seconds"]
        printSummaryTable(s, keys: keys)
    }
}
