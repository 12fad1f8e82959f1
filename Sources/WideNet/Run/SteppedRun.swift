import Foundation

/// What one experiment tells the run harness (RunHarness). "State k" is the state after k updates;
/// the harness observes state 0, then advances and observes each state up to `steps`, and
/// checkpoints a state only after its row has been logged.
public struct Observation {
    /// The loss of state k (nil: not measured at this step); a non-finite one ends the run as diverged.
    public var loss: Double?
    /// The metrics row of state k (nil: no row at this step).
    public var row: JSONObject?
    public init(loss: Double?, row: JSONObject?) { self.loss = loss; self.row = row }
}

/// One experiment on the harness: its set-up happened before (the type's initialiser); the harness
/// owns the run directory, config.json, progress, signals, checkpoints, divergence, the common
/// summary fields and the report.
protocol SteppedRun: AnyObject {
    /// The subcommand, for directory names, messages and the resume hint.
    var command: String { get }
    /// Updates in the whole run (a resumed run ends at the same step).
    var steps: Int { get }
    /// What every summary shows about where it ran (nil for runs without a backend).
    var backendInfo: BackendInfo? { get }
    /// The backend the summary names ("cpu", "opencl"); the info's kind unless said otherwise.
    var backendKind: String? { get }
    /// Seconds spent compiling device kernels, for runs on OpenCL.
    var kernelBuildSeconds: Double? { get }
    /// Notes of this process (the backend chosen, defaults resolved); the summary lists them.
    var notes: [String] { get }
    /// config.json of a new run.
    func config() -> JSONObject
    /// What the run was run on (its data, the split, initial weights when asked), written beside
    /// config.json when a run starts, so that it can be re-analysed without the data files.
    func writeInputs(in run: RunDirectory) throws
    /// Puts back the state after `checkpoint.step` updates; `rows`: the metrics rows logged up to it.
    func restore(_ checkpoint: Checkpoint, in run: URL, rows: [JSONObject]) throws
    /// Measures state k.
    func observe(_ k: Int) throws -> Observation
    /// The update from state k to state k + 1.
    func advance(from k: Int) throws
    /// Whether the run ends at state k before `steps` (a target reached); the harness stops there.
    func reachedEnd(at k: Int) -> Bool
    /// Whether state k can be checkpointed (true unless the continuation would need more than the state).
    func canCheckpoint(at k: Int) -> Bool
    /// The arrays and numbers that restore() needs to continue from state `checkpoint.step`.
    func checkpointArrays(_ checkpoint: inout Checkpoint) throws -> [(name: String, npy: Data)]
    /// Bytes of one checkpoint, and the quantity they grow with (for the disk preflight).
    var checkpointSize: (bytes: Double, grows: (name: String, value: Int)?) { get }
    /// The sentence after "the initial loss is X:" that names what overflowed.
    func initialFailure() -> String
    /// The advice after "diverged at step k": the step size the theory allows, when known.
    func divergenceHint() -> String
    /// Waits for queued device work (timing ends after it).
    func synchronize() throws
    /// After the last step: writes the arrays the run keeps and returns its own summary fields.
    func finish(in run: RunDirectory) throws -> JSONObject
}

/// What an experiment without state to keep (or without a loss that can diverge) need not say.
extension SteppedRun {
    var backendKind: String? { backendInfo?.kind }
    var kernelBuildSeconds: Double? { nil }
    func canCheckpoint(at k: Int) -> Bool { true }
    func reachedEnd(at k: Int) -> Bool { false }
    func synchronize() throws {}
    func writeInputs(in run: RunDirectory) throws {}
    func restore(_ checkpoint: Checkpoint, in run: URL, rows: [JSONObject]) throws {
        throw WideNetIOError("\(command) runs cannot be continued from a checkpoint")
    }
    func checkpointArrays(_ checkpoint: inout Checkpoint) throws -> [(name: String, npy: Data)] { [] }
    var checkpointSize: (bytes: Double, grows: (name: String, value: Int)?) { (0, nil) }
    func initialFailure() -> String { "the data overflow" }
    func divergenceHint() -> String { "try a smaller --lr" }
}
