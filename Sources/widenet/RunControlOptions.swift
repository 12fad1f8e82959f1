import ArgumentParser
import Foundation
import WideNet

/// --resume and --checkpoint-every, shared by the commands that train (train, mfld).
struct RunControlOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Continue the run in DIR from its last checkpoint to its configured step count, into DIR. Other options may only repeat the run's own.",
                               valueName: "DIR"))
    var resume: String?

    @Option(name: .customLong("checkpoint-every"),
            help: "Write a checkpoint every K steps (one is also written when the run gets SIGINT or SIGTERM).")
    var checkpointEvery: Int?

    @Flag(name: .customLong("no-checkpoint"),
          help: "Write no checkpoint, not even on SIGINT or SIGTERM: a signal then stops the run at the end of its step.")
    var noCheckpoint = false

    func validate() throws {
        if noCheckpoint && checkpointEvery != nil { throw ValidationError("--no-checkpoint and --checkpoint-every contradict each other") }
    }

    /// The run control; a resumed run keeps the checkpoint cadence it was started with (`recorded`
    /// refuses another one).
    func control(_ recorded: RecordedConfig? = nil) -> RunControl {
        RunControl(checkpointEvery: checkpointEvery ?? recorded?.resolvedInt("checkpoint_every"), resume: resume != nil,
                   checkpoints: !noCheckpoint)
    }

    /// The run to continue, after checking that every option given beside --resume that names a
    /// field of the configuration (`keys`) repeats the run's own value.
    func recorded<C: Encodable>(checking config: C, keys: [String], renamed: [String: String] = [:],
                                extra: JSONObject = JSONObject()) throws -> RecordedConfig? {
        guard let resume else { return nil }
        let recorded = try RecordedConfig(directory: URL(fileURLWithPath: resume))
        try recorded.refuseChanges(from: config, keys: keys.filter { $0 != "out" }, renamed: renamed, extra: extra)
        if let given = checkpointEvery, let own = recorded.resolvedInt("checkpoint_every"), given != own {
            throw BackendError("--checkpoint-every \(given) differs from the run's \(own): a resumed run keeps the cadence it was started with")
        }
        return recorded
    }

    static func onCommandLine(_ flag: String) -> Bool {
        CommandLine.arguments.dropFirst().contains { $0 == flag || $0.hasPrefix(flag + "=") }
    }
}

/// A run stopped by SIGINT or SIGTERM has written its checkpoint: say how to continue it and exit
/// with 128 + the signal, as a shell expects of a process stopped by one.
func reportingInterruption<R>(_ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let stop as RunInterrupted {
        // In a job every rank stops at the same step (Job.agreedSignal): rank 0 speaks for them.
        if Job.isLeader { printNote(stop.description) }
        try? Job.finish()
        throw ExitCode(stop.exitCode)
    }
}
