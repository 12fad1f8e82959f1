import Foundation

/// `--scaling ntk|mean-field`: the output 1/√m (the lazy NTK regime) or 1/m (mean field, the
/// weights' step η·m so that the function moves at O(η) as in the NTK case, and each neuron at O(η)).
public enum OutputScaling: String, Sendable, CaseIterable, Codable { case ntk, meanField = "mean-field" }

/// `--dataset sphere|teacher|harmonic|file`.
public enum DatasetKind: String, Sendable, CaseIterable, Codable { case sphere, teacher, harmonic, file }

/// `--optimizer gd|sgd` of `widenet train`: full-batch GD, or SGD on batches (with Polyak–Ruppert
/// averaging under --average).
public enum TrainOptimizer: String, Sendable, CaseIterable, Codable { case gd, sgd }

/// Everything `widenet train` was asked for (ARCHITECTURE.md §1.1, §3).
public struct NTKTrainConfig: Sendable, Codable {
    public var n: Int? = nil
    public var d: Int? = nil
    public var width: Int? = nil
    public var steps = 300
    public var learningRate: Double? = nil        // nil: 1/λ_max(H∞)
    /// The seed as config.json keeps it: the 64 bits as a signed integer (JSON readers stop at 2^63).
    var seedBits: Int64 = 0
    public var seed: UInt64 { get { UInt64(bitPattern: seedBits) } set { seedBits = Int64(bitPattern: newValue) } }
    /// The seed of the synthetic data alone (nil: the seed); a sweep over seeds keeps it fixed.
    var dataSeedBits: Int64? = nil
    public var dataSeed: UInt64? {
        get { dataSeedBits.map { UInt64(bitPattern: $0) } }
        set { dataSeedBits = newValue.map { Int64(bitPattern: $0) } }
    }
    public var dataset: DatasetKind? = nil        // nil: sphere, or file when --x/--y are given
    public var xPath: String? = nil
    public var yPath: String? = nil
    public var initWPath: String? = nil
    public var initAPath: String? = nil
    public var kappa = 1.0
    public var trainOutput = false
    public var logEvery: Int? = nil               // nil: about 200 rows
    public var gramEvery = 0                      // 0: only at the start and the end
    public var backend: BackendKind = .auto
    public var device: String? = nil
    public var precision: Precision = .f32
    public var out: String? = nil
    public var saveWeights = false
    /// Write w0.npy and a0.npy, the initial weights, when the run starts.
    public var saveInit = false
    public var blockWidth: Int? = nil
    /// The probability that a label is replaced by a random one (LabelNoise); `randomLabels` is 1.
    /// Optional, like `spectrum`, so that config.json of earlier runs still reads back.
    public var labelNoise: Double? = nil
    public var randomLabels: Bool? = nil
    /// The fine-grained analysis (spectrum.npy, the complexity) beyond the default n ≤ 8192.
    public var spectrum: Bool? = nil
    /// Stop once the loss ½‖u − y‖² is at most this (nil: run every step): runs of different
    /// widths or scalings compared at the same loss.
    public var targetLoss: Double? = nil
    /// nil: ntk.
    public var scaling: OutputScaling? = nil
    /// γ of w ~ N(0, κ² m^(−γ) I) (Jacot et al.: γ < 1 lazy, γ > 1 saddle to saddle); nil: 0.
    public var initExponent: Double? = nil
    /// nil: gd.
    public var optimizer: TrainOptimizer? = nil
    /// SGD's batch size (nil: 1).
    public var batch: Int? = nil
    /// Polyak–Ruppert averaging of the SGD iterates after the first `averageFrom` (nil: 0) updates.
    public var average: Bool? = nil
    public var averageFrom: Int? = nil
    /// One pass over fresh samples of the target (--dataset harmonic) instead of epochs over a data set.
    public var stream: Bool? = nil
    /// Standard deviation of the Gaussian noise on the harmonic target's labels (nil: 0.1).
    public var noise: Double? = nil
    /// The harmonic target's source exponent r (nil: 1/(2d)) and largest degree (nil: HarmonicTarget.defaultMaxDegree).
    public var source: Double? = nil
    public var degrees: Int? = nil
    /// Samples of the test set on which SGD's test error is measured (nil: 2048).
    public var testSize: Int? = nil
    /// SGD's ridge λ toward the initial weights, (λ/2)‖w − w(0)‖² (Nitanda–Suzuki); `ridgeAuto`:
    /// λ = T^(−β/(2rβ+1)) for the run's T samples and the harmonic target's β and r.
    public var ridge: Double? = nil
    public var ridgeAuto: Bool? = nil
    /// Write every sample SGD saw, in order (samples_x.npy, samples_y.npy), for re-analysis and replays.
    public var saveSamples: Bool? = nil
    public var meanField: Bool { scaling == .meanField }
    public var usesSGD: Bool { optimizer == .sgd }
    /// The standard deviation of the initial hidden weights at width m.
    public func initialScale(width m: Int) -> Double { kappa * Foundation.pow(Double(m), -(initExponent ?? 0) / 2) }

    /// Largest n whose spectrum is decomposed without --spectrum.
    public static let spectrumLimit = 8192
    public var quiet = false

    public init() {}

    /// config.json's names (`quiet` says how to run, not what).
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case n, d, width, steps, learningRate = "lr", seedBits = "seed", dataSeedBits = "data_seed", dataset, xPath = "x", yPath = "y"
        case initWPath = "init_w", initAPath = "init_a", kappa, trainOutput = "train_output", logEvery = "log_every"
        case gramEvery = "gram_every", backend, device, precision, out, saveWeights = "save_weights", saveInit = "save_init"
        case blockWidth = "block_width", labelNoise = "label_noise", randomLabels = "random_labels", spectrum
        case scaling, initExponent = "init_exponent", targetLoss = "target_loss"
        case optimizer, batch, average, averageFrom = "average_from", stream, noise, source, degrees, testSize = "test_size"
        case saveSamples = "save_samples", ridge, ridgeAuto = "ridge_auto"
    }

    /// Default synthetic sizes of the default experiment (n = 64, d = 16).
    public static let defaultN = 64, defaultD = 16
    /// The harmonic target's default input dimension: β = d/(d − 1) = 1.5, where rates are steep enough to read.
    public static let defaultHarmonicD = 3
    public static let defaultNoise = 0.1, defaultTestSize = 2048
    /// Default widths: about 2^16 on a CPU (within a minute), 2^24 on a GPU.
    public static func defaultWidth(for info: BackendInfo) -> Int { info.isGPU ? 1 << 24 : 1 << 16 }

    /// config.json: the command, the version, every option (CodingKeys) and what the defaults resolved to.
    public func json(resolved: [(String, JSONValue)]) -> JSONObject {
        RecordedConfig.json(command: "train", options: self, resolved: resolved)
    }
}
