import Foundation

/// What a finished run hands back to the command line.
public struct RunOutcome {
    public let directory: URL
    public let summary: JSONObject
    public let notes: [String]
}

/// The one run lifecycle every experiment goes through (ARCHITECTURE.md §3): claim the run directory
/// (or reopen it to resume), write config.json, observe state 0, then advance, observe and log each
/// step with progress, checkpoint at the run's cadence and on a signal, stop a diverged run with its
/// files reportable, and end with summary.json (the experiment's fields and the common ones, rates
/// from the steps this process ran) and the kind's report, built from the files just written.
enum RunHarness {
    /// `make` builds the experiment's state once the directory is claimed; with a checkpoint it is
    /// a resume, and the harness then calls restore().
    static func run(command: String, out: String?, control: RunControl, quiet: Bool,
                    make: (_ directory: URL, _ resuming: Checkpoint?) throws -> any SteppedRun) throws -> RunOutcome {
        try control.validate()
        return try Interruption.catching {
            // Rank 0 claims the run directory (or reopens it to resume) and tells the others where
            // it is; they run the same loop, its collectives included, reading a checkpoint from and
            // writing their own share of one to that directory, and keep their rows in a private
            // one that goes when they end. A rank failing before that point ends the job (Job.abortAll).
            var resumeFrom: Checkpoint? = nil, leaderRun: RunDirectory? = nil
            if Job.isLeader {
                resumeFrom = try control.checkpointToResume(in: out)
                leaderRun = try resumeFrom.map { try RunDirectory(resuming: URL(fileURLWithPath: out ?? "."), metricsBytes: $0.metricsBytes) }
                    ?? RunDirectory(path: out, command: command)
            }
            let path = try Job.exchange.fromLeader(leaderRun.map { Array($0.url.path.utf8) } ?? [])
            let home = leaderRun?.url ?? URL(fileURLWithPath: String(decoding: path, as: UTF8.self))
            if let leaderRun {
                return try lifecycle(command: command, run: leaderRun, home: home, resumeFrom: resumeFrom, control: control, quiet: quiet, make: make)
            }
            if control.resume { resumeFrom = try Checkpoint.load(from: home) }
            let own = FileManager.default.temporaryDirectory.appendingPathComponent("widenet-rank\(Job.exchange.rank)-\(UUID().uuidString)")
            let ownRun = try RunDirectory(path: own.path, command: command)
            Cleanup.register(own.path, .temporary)   // removed however this rank ends
            defer { try? FileManager.default.removeItem(at: own); Cleanup.unregister(own.path) }
            return try lifecycle(command: command, run: ownRun, home: home,
                                 resumeFrom: resumeFrom, control: control, quiet: true, make: make)
        }
    }

    /// `run`: where this process writes; `home`: the run's directory (rank 0's), where checkpoints go.
    private static func lifecycle(command: String, run: RunDirectory, home: URL, resumeFrom: Checkpoint?, control: RunControl, quiet: Bool,
                                  make: (_ directory: URL, _ resuming: Checkpoint?) throws -> any SteppedRun) throws -> RunOutcome {
        let experiment: any SteppedRun
        do {
            experiment = try make(resumeFrom == nil ? run.url : home, resumeFrom)
            if Job.isLeader && control.checkpoints && experiment.steps > 0 {
                let size = experiment.checkpointSize
                try DiskPreflight.requireCheckpoints(size.bytes, in: home, size: size.grows)
            }
        } catch {
            if resumeFrom == nil { run.discard() }
            throw error
        }
        if resumeFrom == nil {
            do {
                try run.writeJSON(RecordedConfig.withCommandLine(experiment.config()), to: "config.json")
                if Job.isLeader { try experiment.writeInputs(in: run) }
            } catch {
                run.discard()
                throw error
            }
        }
        return try Loop(experiment: experiment, directory: run, home: home, control: control, resumed: resumeFrom, quiet: quiet).run()
    }

    /// Inputs up to this many values are kept in the run directory (80 MB in f64); larger ones are
    /// named by their files in config.json only.
    static let keptInputValues = 10_000_000

    /// The notes a run lists: on a resume, the original run's first (config.json keeps them), then
    /// any this process added.
    static func notes(_ own: [String], recordedIn run: URL, resumed: Bool) -> [String] {
        guard resumed, let files = try? RunFiles.config(in: run) else { return own }
        var notes = RunFiles.notes(config: files, summary: nil)
        for note in own where !notes.contains(note) { notes.append(note) }
        return notes
    }
}

/// One pass of the loop, from state 0 or a checkpoint to the last step.
private struct Loop {
    let experiment: any SteppedRun
    let directory: RunDirectory
    /// The run's directory (rank 0's): checkpoints, and the rows a resume reads.
    let home: URL
    let control: RunControl
    let resumed: Checkpoint?
    let quiet: Bool

    func run() throws -> RunOutcome {
        let e = experiment, run = directory
        let started = Date()
        var notes = RunHarness.notes(e.notes, recordedIn: run.url, resumed: resumed != nil)
        if let moved = run.movedDivergedRun { notes.append("the diverged or failed run that held \(run.url.path) was moved to \(moved)") }
        var first = 0
        if let cp = resumed {
            try e.restore(cp, in: home, rows: try RunDirectory.metricsRows(in: home))
            first = cp.step
        } else {
            // Nothing worth keeping before the first row: a run that fails there leaves no directory.
            let observed: Observation
            do { observed = try e.observe(0) } catch {
                run.discard()
                throw error
            }
            if let loss = observed.loss, !loss.isFinite {
                run.discard()
                throw BackendError("the initial loss is \(Self.number(loss)): \(e.initialFailure())")
            }
            do { if let row = observed.row { try run.appendMetrics(row) } } catch {
                run.discard()
                throw error
            }
        }
        var lastCheckpoint = resumed?.step
        var lastStep = first
        if let step = lastCheckpoint { announce(checkpoint: step) }
        let progress = ProgressBar(total: e.steps, label: e.command, quiet: quiet, firstStep: first)
        let loopStart = Date()
        var stepSeconds = 0.0
        var stepTraffic = ExchangeTraffic()
        let loopTraffic = Job.exchange.traffic
        Interruption.loopStarted()
        for k in first..<max(e.steps, first) {
            let t0 = DispatchTime.now().uptimeNanoseconds, traffic0 = Job.exchange.traffic
            let observed: Observation
            do {
                try e.advance(from: k)
                stepSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                stepTraffic += Job.exchange.traffic - traffic0
                observed = try e.observe(k + 1)
            } catch {
                progress.finish()
                throw try failed(at: k + 1, error: error, checkpoint: lastCheckpoint, notes: notes)
            }
            if let loss = observed.loss, !loss.isFinite {
                progress.finish()
                throw try diverged(at: k + 1, loss: loss, checkpoint: lastCheckpoint, notes: notes)
            }
            do { if let row = observed.row { try run.appendMetrics(row) } } catch {
                progress.finish()
                throw try failed(at: k + 1, error: error, checkpoint: lastCheckpoint, notes: notes)
            }
            progress.update(step: k + 1, loss: observed.loss)
            lastStep = k + 1
            if e.reachedEnd(at: k + 1) { break }   // every rank alike: the loss it looks at is gathered
            guard k + 1 < e.steps else { continue }
            let signal = try Job.agreedSignal(Interruption.pending)
            if control.checkpointDue(after: k + 1, signal: signal), e.canCheckpoint(at: k + 1) {
                var cp = Checkpoint(step: k + 1, configHash: try Checkpoint.configHash(of: home), metricsBytes: try run.metricsBytes())
                let arrays = try e.checkpointArrays(&cp)
                try cp.write(arrays: arrays, to: home)
                lastCheckpoint = k + 1
                announce(checkpoint: k + 1)
                try control.stopIfInterrupted(at: k + 1, signal: signal, run: run, progress: progress, command: e.command)
            }
            try control.stopUncheckpointed(at: k + 1, signal: signal, run: run, progress: progress, command: e.command)
        }
        progress.finish()
        try e.synchronize()
        let loopSeconds = Date().timeIntervalSince(loopStart)
        try run.close()

        let stepsRun = lastStep - first
        var summary = try ConfigCoding.object(RunIdentity(command: e.command, status: "complete", backend: e.backendKind,
                                                          device: e.backendInfo?.deviceName))
        for (key, value) in try e.finish(in: run).pairs where summary[key] == nil { summary[key] = value }
        let times = RunTimes(stepsRun: stepsRun, resumedFromStep: resumed?.step, wallSeconds: Date().timeIntervalSince(started),
                             loopSeconds: loopSeconds,
                             stepsPerSecond: loopSeconds > 0 && stepsRun > 0 ? Double(stepsRun) / loopSeconds : nil,
                             secondsPerStep: stepsRun > 0 ? stepSeconds / Double(stepsRun) : nil,
                             kernelBuildSeconds: e.kernelBuildSeconds, peakResidentBytes: ProcessMemory.peakResidentBytes(), notes: notes)
        for (key, value) in try ConfigCoding.object(times).pairs { summary[key] = value }
        if Job.ranks > 1 {
            let inLoop = Job.exchange.traffic - loopTraffic
            let devices = try Job.exchange.allgather(e.backendInfo.map { "\($0.kind): \($0.deviceName)" } ?? "none")
            let peaks = try Job.exchange.allgather([times.peakResidentBytes ?? 0])
            summary["exchange"] = .object(try ConfigCoding.object(ExchangeSummary(ranks: Job.ranks, devices: devices, peakResidentBytes: peaks, steps: stepsRun,
                                                                                   inSteps: stepTraffic, inLoop: inLoop)))
        }
        try run.writeJSON(summary, to: "summary.json")
        if Job.isLeader {
            do { try ReportHook.write(in: run.url) } catch {
                // The run itself is complete; say so, and how to get the report once the cause is gone.
                summary.set("report_error", "\(error)")
                try? run.writeJSON(summary, to: "summary.json")
                throw WideNetIOError("the run in \(run.url.path) is complete (summary.json), but its report could not be written (\(error)); "
                    + "`widenet report \(run.url.path)` writes it", FailureClass.of(error) ?? .resources)
            }
        }
        return RunOutcome(directory: run.url, summary: summary, notes: notes)
    }

    /// nan rather than the platform's -nan.
    static func number(_ v: Double) -> String { v.isNaN ? "nan" : "\(v)" }

    /// Tells the peer watch which checkpoint continues a job that loses a rank.
    func announce(checkpoint step: Int) {
        guard Job.ranks > 1 else { return }
        PeerWatch.setResumeHint("the checkpoint of step \(step) continues the run: "
            + "`\(Job.launcherPrefix)widenet \(experiment.command) --resume \(home.path)`")
    }

    /// A diverged run keeps what it logged: summary.json says where it stopped, the report draws the
    /// rows up to there, and the last good checkpoint stays; the error says so and what to try.
    func diverged(at k: Int, loss: Double, checkpoint: Int?, notes: [String]) throws -> Error {
        let kept = try stopped(status: "diverged", at: k, checkpoint: checkpoint, notes: notes, error: nil)
        return RunDiverged(message: "\(experiment.command) diverged at step \(k) (loss \(Self.number(loss))); \(kept); \(experiment.divergenceHint())")
    }

    /// A step that failed (a solver that did not converge, a device error) ends the run like a divergence:
    /// status "failed" and the error in summary.json, the rows, report and last checkpoint kept; the
    /// error keeps its class (exit code). A signal's stop is not a failure and passes through.
    func failed(at k: Int, error: Error, checkpoint: Int?, notes: [String]) throws -> Error {
        if error is RunInterrupted || error is RunDiverged { return error }
        let what = "\(experiment.command) failed at step \(k): \(error)", kind = FailureClass.of(error) ?? .badInput
        do {
            return WideNetIOError("\(what); \(try stopped(status: "failed", at: k, checkpoint: checkpoint, notes: notes, error: error))", kind)
        } catch let summaryError {
            // A full disk fails the summary too: say both, and where the rows are.
            return WideNetIOError("\(what); its summary could not be written either (\(summaryError)); the rows so far are in \(directory.url.path)", kind)
        }
    }

    /// summary.json of a run that stopped before its last step, and its report; what was kept, in words.
    private func stopped(status: String, at k: Int, checkpoint: Int?, notes: [String], error: Error?) throws -> String {
        let run = directory
        try run.close()
        var summary = try ConfigCoding.object(RunIdentity(command: experiment.command, status: status,
                                                          backend: experiment.backendKind, device: experiment.backendInfo?.deviceName))
        summary.set("\(status)_at_step", k)
        summary.set("last_checkpoint_step", checkpoint)
        if let error { summary.set("error", "\(error)") }
        summary["notes"] = .array(notes.map { .string($0) })
        try run.writeJSON(summary, to: "summary.json")
        try? ReportHook.write(in: run.url)
        return checkpoint.map { "the last good checkpoint (step \($0)) is kept in \(run.url.path)/checkpoint" }
            ?? "its rows and report are kept in \(run.url.path)"
    }
}

/// A run stopped because its loss left the numbers; exit code: bad input (the step size or the data).
public struct RunDiverged: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
