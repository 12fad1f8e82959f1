import Foundation

extension NTKTrainConfig {
    /// The configuration of an earlier train run (or sweep), to continue it: the options as
    /// recorded, with the width, block width, log cadence, backend and device pinned to what they
    /// resolved to, since a continuation is bit-identical only on the same blocks of the same device.
    public init(recorded r: RecordedConfig) throws {
        guard ["train", "sweep", "wide-enough"].contains(r.command() ?? "") else {
            throw BackendError("--resume \(r.directory.path): a \(r.command() ?? "unknown") run, not a train run or sweep")
        }
        self = try r.decode(NTKTrainConfig.self)
        width = r.resolvedInt("width") ?? width
        logEvery = r.resolvedInt("log_every") ?? logEvery
        blockWidth = r.resolvedInt("block_width") ?? blockWidth
        (backend, device) = r.pinnedBackend
        out = r.directory.path
    }

    /// config.json's field names, for the check that a command line beside --resume repeats the run's options.
    public static var recordedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }
}
