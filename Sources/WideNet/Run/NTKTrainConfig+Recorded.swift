import Foundation

extension NTKTrainConfig {
    /// The configuration of an earlier train run, to continue it: the options as recorded, with the
    /// width, block width, backend and device pinned to what they resolved to, since a continuation
    /// is bit-identical only on the same blocks of the same device.
    public init(recorded r: RecordedConfig) throws {
        guard r.command() == "train" || r.command() == "sweep" else {
            throw BackendError("--resume \(r.directory.path): a \(r.command() ?? "unknown") run, not a train run or sweep")
        }
        self.init()
        n = r.int("n"); d = r.int("d"); width = r.resolvedInt("width") ?? r.int("width")
        steps = r.int("steps") ?? steps
        learningRate = r.double("lr")
        seed = UInt64(bitPattern: Int64(r.int("seed") ?? 0))
        dataset = r.string("dataset").flatMap(DatasetKind.init(rawValue:))
        xPath = r.string("x"); yPath = r.string("y"); initWPath = r.string("init_w"); initAPath = r.string("init_a")
        kappa = r.double("kappa") ?? kappa
        trainOutput = r.bool("train_output") ?? false
        logEvery = r.resolvedInt("log_every") ?? r.int("log_every")
        gramEvery = r.int("gram_every") ?? 0
        precision = r.string("precision").flatMap(Precision.init(rawValue:)) ?? .f32
        saveWeights = r.bool("save_weights") ?? false
        blockWidth = r.resolvedInt("block_width") ?? r.int("block_width")
        (backend, device) = r.pinnedBackend
        out = r.directory.path
    }
}
