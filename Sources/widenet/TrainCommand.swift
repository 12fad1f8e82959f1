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
            """)

    @Option(help: "Samples (synthetic data; default 64).") var n: Int?
    @Option(help: "Input dimension (synthetic data; default 16).") var d: Int?
    @Option(help: "Width m (default: 2^16 on a CPU, 2^24 on a GPU; from --init-w when given).") var width: Int?
    @Option(help: "Gradient-descent steps.") var steps: Int = 300
    @Option(help: "Step size η (default 1/λ_max(H∞)).") var lr: Double?
    @Option(help: "Seed of data, initial weights and everything random.") var seed: UInt64 = 0
    @Option(help: "sphere (uniform on the unit sphere, labels uniform in (−1,1)), teacher (labels from a random ReLU net) or file.")
    var dataset: DatasetKind?
    @Option(help: "Inputs, n×d .npy (implies --dataset file; rows are scaled to unit norm).") var x: String?
    @Option(help: "Labels, n .npy.") var y: String?
    @Option(name: .customLong("init-w"), help: "Initial hidden weights, m×d .npy (sets the width).") var initW: String?
    @Option(name: .customLong("init-a"), help: "Initial output weights, m .npy.") var initA: String?
    @Option(help: "Standard deviation κ of the initial hidden weights.") var kappa: Double = 1
    @Flag(name: .customLong("train-output"), help: "Train the output weights a too.") var trainOutput = false
    @Option(name: .customLong("log-every"), help: "Write a metrics row every K steps (default: about 200 rows).") var logEvery: Int?
    @Option(name: .customLong("gram-every"), help: "Compute H(k) and λ_min(H(k)) every K steps (0: first and last step only).")
    var gramEvery: Int = 0
    @Flag(name: .customLong("save-weights"), help: "Write the final w.npy (m×d) and a.npy (m).") var saveWeights = false
    @Option(name: .customLong("block-width"), help: .hidden) var blockWidth: Int?
    @OptionGroup var runControl: RunControlOptions
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if initW != nil && RunControlOptions.onCommandLine("--kappa") {
            throw ValidationError("--kappa scales sampled hidden weights; it does not apply with --init-w, which gives them")
        }
        if let blockWidth, blockWidth < 32 || blockWidth % 32 != 0 {
            throw ValidationError("--block-width must be a positive multiple of 32")
        }
    }

    func run() throws {
        try reportingErrors {
            var cfg = NTKTrainConfig()
            cfg.n = n; cfg.d = d; cfg.width = width; cfg.steps = steps; cfg.learningRate = lr; cfg.seed = seed
            cfg.dataset = dataset; cfg.xPath = x; cfg.yPath = y; cfg.initWPath = initW; cfg.initAPath = initA
            cfg.kappa = kappa; cfg.trainOutput = trainOutput; cfg.logEvery = logEvery; cfg.gramEvery = gramEvery
            cfg.backend = try deviceOptions.resolvedBackend(); cfg.device = deviceOptions.resolvedDevice
            cfg.precision = deviceOptions.precision; cfg.out = output.out; cfg.saveWeights = saveWeights
            cfg.blockWidth = blockWidth; cfg.quiet = output.quiet
            let recorded = try runControl.recorded(given: given(cfg))
            if let recorded {
                guard output.out == nil || output.out == runControl.resume else {
                    throw ValidationError("--resume continues the run in its own directory; leave out --out")
                }
                cfg = try NTKTrainConfig(recorded: recorded)
                cfg.quiet = output.quiet
            }
            let result = try reportingInterruption { try NTKTrainExperiment.run(cfg, control: runControl.control(recorded)) }
            output.finish(result.summary, directory: result.directory, notes: result.notes) { printSummary(result.summary) }
        }
    }

    /// Every option that fixes the numbers, as config.json records it.
    func given(_ c: NTKTrainConfig) -> [RecordedConfig.Given] {
        let o = c.json(resolved: [])
        return [("--n", "n"), ("--d", "d"), ("--width", "width"), ("--steps", "steps"), ("--lr", "lr"), ("--seed", "seed"),
                ("--dataset", "dataset"), ("--x", "x"), ("--y", "y"), ("--init-w", "init_w"), ("--init-a", "init_a"),
                ("--kappa", "kappa"), ("--train-output", "train_output"), ("--log-every", "log_every"),
                ("--gram-every", "gram_every"), ("--save-weights", "save_weights"), ("--precision", "precision")]
            .map { RecordedConfig.Given($0.0, $0.1, o[$0.1] ?? .null) }
    }

    func printSummary(_ s: JSONObject) {
        let keys = ["backend", "device", "precision", "n", "d", "width", "steps", "lr", "lambda0", "initial_loss",
                    "final_loss", "bound_holds", "max_kernel_deviation", "final_max_move", "final_flip_fraction",
                    "lambda_min_h_initial", "lambda_min_h_final", "steps_per_second", "wall_seconds"]
        for k in keys {
            guard let v = s[k] else { continue }
            print(k.padding(toLength: 22, withPad: " ", startingAt: 0) + v.displayText)
        }
    }
}
