import ArgumentParser
import Foundation
import WideNet
import WideNetReports

@main
struct WideNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "widenet",
        abstract: "Training dynamics of very wide neural networks, on OpenCL GPUs or the CPU.",
        discussion: """
            Every experiment writes a run directory (config.json, metrics.jsonl, summary.json, \
            report.html and the arrays asked for) and takes --out DIR, --quiet, --json (the summary \
            as JSON on standard output) and --log-level. Backend: --backend auto|cpu|opencl, or the \
            environment variables WIDENET_BACKEND and WIDENET_DEVICE. train and mfld write \
            checkpoints (--checkpoint-every K, and on Ctrl-C) and continue with --resume DIR.

            Examples:
              widenet devices
              widenet selftest        # every kernel against the CPU reference on the best OpenCL device
              widenet train           # the default experiment on the best device
              widenet train --n 64 --d 16 --width 1048576 --steps 500 --out runs/ntk-m20
              widenet train --width 1048576 --steps 5000 --checkpoint-every 500 --out runs/long
              widenet train --resume runs/long
              widenet gram --x X.npy --width 65536 --seed 1
              widenet mfld --task parity --d 20 --particles 2048 --anneal-every 500 --anneal-factor 0.3
              widenet saddle --lr 0.005 --skip-plateaus
              widenet sweep --widths 1024,4096,16384,65536 --steps 200
              widenet report runs/train-20261123-132439 runs/sweep-20261123-140210
            """,
        version: widenetVersion,
        subcommands: [DevicesCommand.self, TrainCommand.self, SweepCommand.self, GramCommand.self, MFLDCommand.self, SaddleCommand.self,
                      BenchCommand.self, TuneCommand.self, SelftestCommand.self, ReportCommand.self])

    /// An unknown subcommand is an error even with --help (the parser would print the root help
    /// and exit 0, which scripts would read as "the command exists").
    static func main() {
        // Signals are answered from the first instruction on (set-up can take minutes).
        SignalWatch.start()
        RunReports.install()
        let args = Array(CommandLine.arguments.dropFirst())
        if let first = args.first, !first.hasPrefix("-"), first != "help",
           !configuration.subcommands.contains(where: { $0.configuration.commandName == first }) {
            let known = configuration.subcommands.compactMap { $0.configuration.commandName }.joined(separator: ", ")
            FileHandle.standardError.write(Data("error: unknown command '\(first)' (commands: \(known))\n".utf8))
            Foundation.exit(64)
        }
        main(args)
    }
}

/// Turns any error into one line on standard error and the exit code of its class (README, "Exit
/// codes"): 64 usage, 65 bad input, 69 resources, 1 anything else; never a stack trace.
func reportingErrors<R>(_ body: () throws -> R) throws -> R {
    do {
        // Every command runs the CPU's vector loops somewhere (Philox fills at least): a
        // WIDENET_CPU_ISA this processor cannot run is refused before anything starts, not ignored.
        _ = try CPUKernels.resolve()
        return try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        let text = "\(error)".replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("error: \(text)\n".utf8))
        if error is ValidationError { throw ExitCode(FailureClass.usage.exitCode) }
        throw ExitCode(FailureClass.of(error)?.exitCode ?? 1)
    }
}

func printNote(_ text: String) {
    FileHandle.standardError.write(Data("note: \(text)\n".utf8))
}
