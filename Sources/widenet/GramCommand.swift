import ArgumentParser
import Foundation
import WideNet

struct GramCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gram",
        abstract: "The infinite-width NTK Gram matrix H∞, its eigenvalues and λ0; with --width also H(0).",
        discussion: """
            H∞_ij = x_iᵀx_j (π − arccos(x_iᵀx_j)) / (2π) on unit-norm inputs; writes gram_inf.npy and \
            gram_inf_eigenvalues.npy. With --width m the empirical H(0) of a random net of width m \
            (gram_0.npy) and ‖H(0) − H∞‖.

            Examples:
              widenet gram --x X.npy
              widenet gram --n 128 --d 8 --width 1048576 --seed 3
            """)

    @Option(help: "Inputs, n×d .npy (rows are scaled to unit norm).") var x: String?
    @Option(help: "Samples of synthetic unit-sphere data (default 64).") var n: Int?
    @Option(help: "Input dimension of synthetic data (default 16).") var d: Int?
    @Option(help: "Width of a random net whose H(0) is compared with H∞.") var width: Int?
    @Option(help: "Seed of data and weights.") var seed: UInt64 = 0
    @Option(help: "Standard deviation κ of the random hidden weights.") var kappa: Double = 1
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if !(kappa > 0 && kappa.isFinite) { throw ValidationError("--kappa must be a positive number (got \(kappa))") }
    }

    func run() throws {
        try reportingErrors(splitsOverRanks: true) {
            var cfg = GramExperiment.Config()
            cfg.xPath = x; cfg.n = n; cfg.d = d; cfg.width = width; cfg.seed = seed; cfg.kappa = kappa
            cfg.backend = try deviceOptions.resolvedBackend(); cfg.device = deviceOptions.resolvedDevice
            cfg.precision = deviceOptions.precision; cfg.out = output.out
            let result = try GramExperiment.run(cfg)
            guard Job.isLeader else { return }   // rank 0 alone wrote the run directory and reports
            output.finish(result.summary, directory: result.directory, notes: result.notes) {
                for (k, v) in result.summary.pairs where k != "notes" {
                    print(k.padding(toLength: 26, withPad: " ", startingAt: 0) + v.displayText)
                }
            }
        }
    }
}
