import Foundation

/// `--dataset sphere|teacher|file`.
public enum DatasetKind: String, Sendable, CaseIterable, Codable { case sphere, teacher, file }

/// Everything `widenet train` was asked for (ARCHITECTURE.md §1.1, §3).
public struct NTKTrainConfig: Sendable {
    public var n: Int? = nil
    public var d: Int? = nil
    public var width: Int? = nil
    public var steps = 300
    public var learningRate: Double? = nil        // nil: 1/λ_max(H∞)
    public var seed: UInt64 = 0
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
    public var blockWidth: Int? = nil
    public var quiet = false

    public init() {}

    /// Default synthetic sizes of the default experiment (n = 64, d = 16).
    public static let defaultN = 64, defaultD = 16
    /// Default widths: about 2^16 on a CPU (within a minute), 2^24 on a GPU.
    public static func defaultWidth(for info: BackendInfo) -> Int { info.isGPU ? 1 << 24 : 1 << 16 }

    public func json(resolved: [(String, JSONValue)]) -> JSONObject {
        var o = JSONObject()
        o.set("command", "train")
        o.set("version", widenetVersion)
        o.set("n", n); o.set("d", d); o.set("width", width)
        o.set("steps", steps)
        o.set("lr", learningRate)
        o.set("seed", Int(truncatingIfNeeded: seed))
        o.set("dataset", dataset?.rawValue)
        o.set("x", xPath); o.set("y", yPath)
        o.set("init_w", initWPath); o.set("init_a", initAPath)
        o.set("kappa", kappa)
        o.set("train_output", trainOutput)
        o.set("log_every", logEvery)
        o.set("gram_every", gramEvery)
        o.set("backend", backend.rawValue)
        o.set("device", device)
        o.set("precision", precision.rawValue)
        o.set("out", out)
        o.set("save_weights", saveWeights)
        o.set("block_width", blockWidth)
        var r = JSONObject()
        for (k, v) in resolved { r[k] = v }
        o.set("resolved", r)
        return o
    }
}
