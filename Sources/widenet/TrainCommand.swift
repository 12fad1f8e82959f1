import ArgumentParser
import Foundation
import WideNet

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Gradient descent on a wide two-layer ReLU net in the NTK regime (Du et al.).",
        discussion: """
            f(x) = (1/√m) Σ_r a_r relu(w_rᵀx), w_r ~ N(0, κ²I), a_r = ±1 fixed (--train-output trains it), \
            loss ½‖u − y‖². Logs the loss against the bound (1 − ηλ0/2)^k ‖u(0) − y‖² and the kernel \
            prediction, the largest weight movement, the fraction of flipped activations and λ_min(H(k)).
            With no options: unit-sphere data (n=64, d=16), η = 1/λ_max(H∞), width 2^16 on a CPU or \
            2^24 on a GPU.

            Examples:
              widenet train
              widenet train --n 64 --d 16 --width 1048576 --steps 2000 --gram-every 500 --out runs/m20
              widenet train --x X.npy --y y.npy --init-w W.npy --init-a a.npy --steps 100 --lr 0.1
              widenet train --width 1048576 --steps 5000 --checkpoint-every 500 --out runs/long
              widenet train --resume runs/long      # after Ctrl-C, a kill or a crash
              widenet train --optimizer sgd --stream --average --steps 100000 --width 16384   # Nitanda–Suzuki
            """)

    @OptionGroup var problem: NTKProblemOptions
    @OptionGroup(title: "SGD") var sgd: SGDOptions
    @Option(help: "Width m (default: 2^16 on a CPU, 2^24 on a GPU; from --init-w when given).") var width: Int?
    @Option(name: .customLong("init-w"), help: "Initial hidden weights, m×d .npy (sets the width).") var initW: String?
    @Option(name: .customLong("init-a"), help: "Initial output weights, m .npy.") var initA: String?
    @Flag(name: .customLong("save-weights"), help: "Write the final w.npy (m×d) and a.npy (m).") var saveWeights = false
    @Flag(name: .customLong("save-init"), help: "Write the initial w0.npy (m×d) and a0.npy (m) when the run starts.") var saveInit = false
    @Option(name: .customLong("block-width"), help: .hidden) var blockWidth: Int?
    @OptionGroup var runControl: RunControlOptions
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if initW != nil && RunControlOptions.onCommandLine("--kappa") {
            throw ValidationError("--kappa scales sampled hidden weights; it does not apply with --init-w, which gives them")
        }
        if initW != nil && RunControlOptions.onCommandLine("--init-exponent") {
            throw ValidationError("--init-exponent scales sampled hidden weights; it does not apply with --init-w, which gives them")
        }
        if let blockWidth, blockWidth < 32 || blockWidth % 32 != 0 {
            throw BackendError("--block-width must be a positive multiple of 32")
        }
    }

    func run() throws {
        try reportingErrors(splitsOverRanks: true) {
            var cfg = try problem.config(deviceOptions, output)
            cfg.width = width; cfg.initWPath = initW; cfg.initAPath = initA
            cfg.saveWeights = saveWeights; cfg.saveInit = saveInit; cfg.blockWidth = blockWidth
            sgd.apply(to: &cfg)
            let recorded = try runControl.recorded(checking: cfg, keys: NTKTrainConfig.recordedKeys)
            if let recorded {
                guard output.out == nil || output.out == runControl.resume else {
                    throw ValidationError("--resume continues the run in its own directory; leave out --out")
                }
                cfg = try NTKTrainConfig(recorded: recorded)
                cfg.quiet = output.quiet
            }
            let result = try reportingInterruption { try NTKTrainExperiment.run(cfg, control: runControl.control(recorded)) }
            // Rank 0 alone reports (and alone wrote the run directory).
            if Job.isLeader {
                output.finish(result.summary, directory: result.directory, notes: result.notes) { printSummary(result.summary) }
            }
        }
    }

    func printSummary(_ s: JSONObject) {
        let keys = ["backend", "device", "precision", "n", "d", "width", "steps", "batch", "samples_seen", "lr", "lambda0", "initial_loss",
                    "final_loss", "bound_holds", "max_kernel_deviation", "final_test_error", "final_test_error_average",
                    "rate_last", "rate_average", "rate_theory_average", "rate_optimal", "final_max_move", "final_flip_fraction",
                    "lambda_min_h_initial", "lambda_min_h_final", "steps_per_second", "wall_seconds"]
        printSummaryTable(s, keys: keys)
    }
}
