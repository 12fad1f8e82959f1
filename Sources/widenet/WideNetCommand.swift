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
              widenet resnet --scheme euler,heun --depths 8,16,32,64,128
              widenet sweep --widths 1024,4096,16384,65536 --steps 200
              widenet report runs/train-20261123-132439 runs/sweep-20261123-140210
            """,
        version: widenetVersion,
        subcommands: [DevicesCommand.self, TrainCommand.self, SweepCommand.self, GramCommand.self, MFLDCommand.self, SaddleCommand.self,
                      ResNetCommand.self,
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
        do { try ByteLimits.check() } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(64)
        }
        main(args)
    }
}

/// Turns any error into one line on standard error and the exit code of its class (README, "Exit
/// codes"): 64 usage, 65 bad input, 69 resources, 1 anything else; never a stack trace. A command
/// that `splitsOverRanks` joins the job mpirun or srun started (Job); any other refuses to run
/// under a launcher. A rank that fails names itself and ends the whole job.
func reportingErrors<R>(splitsOverRanks: Bool = false, _ body: () throws -> R) throws -> R {
    do {
        // Every command runs the CPU's vector loops somewhere (Philox fills at least): a
        // WIDENET_CPU_ISA this processor cannot run is refused before anything starts, not ignored.
        _ = try CPUKernels.resolve()
        if let layout = try LaunchEnvironment.layout() {
            guard splitsOverRanks else {
                let name = CommandLine.arguments.dropFirst().first ?? "this command"
                throw ValidationError("\(layout.launcher) started \(layout.size) ranks, but \(name) runs in one process "
                    + "(train splits its width over ranks); start it without the launcher")
            }
            try Job.start()
        }
        let result = try body()
        try Job.finish()
        return result
    } catch let error as ExitCode {
        throw error
    } catch {
        let code: Int32 = error is ValidationError ? FailureClass.usage.exitCode : FailureClass.of(error)?.exitCode ?? 1
        // A divergence is seen by every rank at the same step (the loss is gathered): rank 0 says it
        // and all leave together. Any other failure is this rank's own: it names itself and ends the job.
        if error is RunDiverged && Job.ranks > 1 {
            if Job.isLeader { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
            try? Job.finish()
            throw ExitCode(code)
        }
        let text = "\(error)".replacingOccurrences(of: "\n", with: " ")
        let who = Job.ranks > 1 ? "rank \(Job.exchange.rank) of \(Job.ranks): " : ""
        FileHandle.standardError.write(Data("error: \(who)\(text)\n".utf8))
        Job.abortAll(code)
        throw ExitCode(code)
    }
}

func printNote(_ text: String) {
    FileHandle.standardError.write(Data("note: \(text)\n".utf8))
}
