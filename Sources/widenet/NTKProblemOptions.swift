import ArgumentParser
import WideNet

/// The options that `train` and `sweep` share: the data, the step size and count, the seed, the
/// initial scale and what is logged.
struct NTKProblemOptions: ParsableArguments {
    @Option(help: "Samples (synthetic data; default 64).") var n: Int?
    @Option(help: "Input dimension (synthetic data; default 16).") var d: Int?
    @Option(help: "Gradient-descent steps.") var steps: Int = 300
    @Option(help: "Step size η (default 1/λ_max(H∞)).") var lr: Double?
    @Option(help: "Seed of data, initial weights and everything random.") var seed: UInt64 = 0
    @Option(help: "sphere (uniform on the unit sphere, labels uniform in (−1,1)), teacher (labels from a random ReLU net), harmonic (a target from H∞'s eigenfunctions of known smoothness; default d = 3) or file.")
    var dataset: DatasetKind?
    @Option(help: "Inputs, n×d .npy (implies --dataset file; rows are scaled to unit norm).") var x: String?
    @Option(help: "Labels, n .npy.") var y: String?
    @Option(help: "Standard deviation κ of the initial hidden weights.") var kappa: Double = 1
    @Flag(name: .customLong("train-output"), help: "Train the output weights a too (the kernel becomes H∞ + K_a).") var trainOutput = false
    @Option(name: .customLong("log-every"), help: "Write a metrics row every K steps (default: about 200 rows).") var logEvery: Int?
    @Option(name: .customLong("gram-every"), help: "Compute H(k) and λ_min(H(k)) every K steps (0: first and last step only).")
    var gramEvery: Int = 0
    @Option(name: .customLong("label-noise"), help: "Replace each label by a random one with probability p (a class drawn uniformly, or another sample's label for real targets).")
    var labelNoise: Double?
    @Flag(name: .customLong("random-labels"), help: "Replace every label by a random one (--label-noise 1): Arora et al.'s random labels.")
    var randomLabels = false
    @Option(help: "ntk (output 1/√m: the lazy regime) or mean-field (output 1/m, the weights' step η·m so the function moves at O(η)).")
    var scaling: OutputScaling?
    @Option(name: .customLong("target-loss"), help: "Stop once the loss ½‖u − y‖² is at most this (compare widths or scalings at the same loss).")
    var targetLoss: Double?
    @Option(name: .customLong("init-exponent"), help: "γ: initial hidden weights N(0, κ² m^(−γ)) (Jacot et al.; default 0).")
    var initExponent: Double?
    @Flag(help: "Decompose H∞ for the fine-grained analysis (spectrum.npy, the complexity) also beyond n = 8192.")
    var spectrum = false
    @Option(help: "Source exponent r of the harmonic target, f* = T^r g (default 1/(2d), where constant-step averaged SGD is minimax-optimal).")
    var source: Double?
    @Option(help: "Largest spherical-harmonic degree of the harmonic target (default 40).") var degrees: Int?
    @Option(help: "Standard deviation of the Gaussian noise on the harmonic target's labels (default 0.1).") var noise: Double?

    /// The configuration these options, the device's and the output's describe.
    func config(_ device: DeviceOptions, _ output: OutputOptions) throws -> NTKTrainConfig {
        var cfg = NTKTrainConfig()
        cfg.n = n; cfg.d = d; cfg.steps = steps; cfg.learningRate = lr; cfg.seed = seed
        cfg.dataset = dataset; cfg.xPath = x; cfg.yPath = y; cfg.kappa = kappa
        cfg.trainOutput = trainOutput; cfg.logEvery = logEvery; cfg.gramEvery = gramEvery
        cfg.labelNoise = labelNoise; cfg.randomLabels = randomLabels ? true : nil; cfg.spectrum = spectrum ? true : nil
        cfg.scaling = scaling; cfg.initExponent = initExponent; cfg.targetLoss = targetLoss
        cfg.source = source; cfg.degrees = degrees; cfg.noise = noise
        cfg.backend = try device.resolvedBackend(); cfg.device = device.resolvedDevice
        cfg.precision = device.precision; cfg.out = output.out; cfg.quiet = output.quiet
        return cfg
    }
}
