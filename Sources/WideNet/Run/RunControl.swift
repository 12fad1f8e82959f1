import Foundation

/// How a run is carried out, apart from what it computes: checkpoints, and whether it continues
/// an earlier run in its directory.
public struct RunControl: Sendable {
    /// Write a checkpoint every K updates (nil: only when interrupted).
    public var checkpointEvery: Int? = nil
    /// Continue the run in the configuration's --out directory from its checkpoint.
    public var resume = false
    /// Whether any checkpoint is written; without, a signal stops the run at the end of the step
    /// it arrived in (a run of 10^8 neurons would otherwise spend minutes writing one).
    public var checkpoints = true
    public init(checkpointEvery: Int? = nil, resume: Bool = false, checkpoints: Bool = true) {
        self.checkpointEvery = checkpointEvery; self.resume = resume; self.checkpoints = checkpoints
    }

    public func validate() throws {
        if let k = checkpointEvery, k < 1 { throw BackendError("--checkpoint-every must be ≥ 1 (got \(k))") }
        if !checkpoints && checkpointEvery != nil { throw BackendError("--no-checkpoint and --checkpoint-every contradict each other") }
    }

    /// The checkpoint to continue from, for a run that has not finished (a finished run has its
    /// summary.json; continuing it would only redo its last steps).
    func checkpointToResume(in directory: String?) throws -> Checkpoint? {
        guard resume else { return nil }
        let url = URL(fileURLWithPath: directory ?? ".")
        let summary = url.appendingPathComponent("summary.json")
        if FileManager.default.fileExists(atPath: summary.path) {
            let status = (try? RunFiles.object(in: summary, shown: summary.path))?["status"]?.displayText ?? "complete"
            // A failed run (a full disk, a device error) continues from its last good checkpoint once the cause
            // is gone: its summary and report go, and the metrics are cut back to the checkpoint as always.
            if status == "failed", FileManager.default.fileExists(atPath: Checkpoint.folder(in: url).appendingPathComponent("state.json").path) {
                let checkpoint = try Checkpoint.load(from: url)
                for name in ["summary.json", "report.html"] { try? FileManager.default.removeItem(at: url.appendingPathComponent(name)) }
                return checkpoint
            }
            if status != "complete" {
                throw WideNetIOError("--resume \(url.path): the run \(status) (summary.json says so)\(status == "failed" ? " before its first checkpoint" : "") "
                    + "and cannot be continued; a new run into \(url.path) moves it aside to \(url.path)-\(status)")
            }
            throw WideNetIOError("--resume \(url.path): the run is complete (it has summary.json); nothing to continue")
        }
        return try Checkpoint.load(from: url)
    }

    /// After a checkpoint at `step`: when a signal came (`signal`: the job's agreed one), close the
    /// run and stop it (RunInterrupted).
    func stopIfInterrupted(at step: Int, signal: Int32?, run: RunDirectory, progress: ProgressBar, command: String) throws {
        guard let signal else { return }
        Interruption.checkpointWritten()
        progress.finish()
        try run.close()
        throw RunInterrupted(signal: signal, step: step, directory: run.url, command: command)
    }

    /// After a step of a run without checkpoints: when a signal came, close the run and stop it.
    func stopUncheckpointed(at step: Int, signal: Int32?, run: RunDirectory, progress: ProgressBar, command: String) throws {
        guard !checkpoints, let signal else { return }
        progress.finish()
        try run.close()
        throw RunInterrupted(signal: signal, step: step, directory: run.url, command: command, checkpointWritten: false)
    }

    /// Whether the step just finished (k updates done, k < steps) ends with a checkpoint.
    func checkpointDue(after k: Int, signal: Int32?) -> Bool {
        guard checkpoints else { return false }
        return (checkpointEvery.map { k > 0 && k % $0 == 0 } ?? false) || signal != nil
    }
}
