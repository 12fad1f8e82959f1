import Foundation

extension MFLDConfig {
    /// The configuration of an earlier mfld run (or chaos sweep), to continue it: the options as
    /// recorded, with the log cadence, the particles' blocks, backend and device pinned to what they resolved to.
    public init(recorded r: RecordedConfig) throws {
        guard r.command() == "mfld" else {
            throw BackendError("--resume \(r.directory.path): a \(r.command() ?? "unknown") run, not an mfld run")
        }
        self = try r.decode(MFLDConfig.self)
        logEvery = r.resolvedInt("log_every") ?? logEvery
        blockParticles = r.resolvedInt("block_particles") ?? blockParticles
        (backend, device) = r.pinnedBackend
        out = r.directory.path
    }

    /// config.json's field names, for the check that a command line beside --resume repeats the run's options.
    public static var recordedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }
}
