import ArgumentParser
import WideNet

extension TrainOptimizer: ExpressibleByArgument {}

/// `widenet train`'s stochastic options (ARCHITECTURE.md §1.1, averaged SGD).
struct SGDOptions: ParsableArguments {
    @Option(help: "gd (full-batch gradient descent) or sgd (batches; with --average, Polyak–Ruppert averaging).")
    var optimizer: TrainOptimizer?
    @Option(help: "Samples per SGD step (default 1).") var batch: Int?
    @Flag(help: "Average the SGD iterates, w̄_k = (1/k) Σ_{j≤k} w_j, and measure the average's test error beside the last iterate's.")
    var average = false
    @Option(name: .customLong("average-from"), help: "Start averaging after K updates (a burn-in; needs --average).") var averageFrom: Int?
    @Flag(help: "One pass over fresh samples of the harmonic target (samples seen grow with the steps) instead of epochs over a data set.")
    var stream = false
    @Option(name: .customLong("test-size"), help: "Test samples of the harmonic target on which test errors are measured (default 2048).")
    var testSize: Int?
    @Option(help: "Ridge λ toward the initial weights, (λ/2)‖w − w(0)‖², or auto: λ = T^(−β/(2rβ+1)) for T samples (Nitanda–Suzuki's choice for the minimax rate).")
    var ridge: String?
    @Flag(name: .customLong("save-samples"), help: "Write every sample SGD saw, in order, as samples_x.npy and samples_y.npy (at most 10^7 values).")
    var saveSamples = false

    func validate() throws {
        if let ridge, ridge != "auto", Double(ridge) == nil { throw ValidationError("--ridge takes a number or auto (got '\(ridge)')") }
    }

    func apply(to cfg: inout NTKTrainConfig) {
        if ridge == "auto" { cfg.ridgeAuto = true } else { cfg.ridge = ridge.flatMap(Double.init) }
        cfg.optimizer = optimizer; cfg.batch = batch; cfg.average = average ? true : nil; cfg.averageFrom = averageFrom
        cfg.stream = stream ? true : nil; cfg.testSize = testSize
        cfg.saveSamples = saveSamples ? true : nil
    }
}
