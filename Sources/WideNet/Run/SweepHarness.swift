import Foundation

/// One member of a sweep: its directory under the sweep's and how to run it there (fresh, or
/// continued from its checkpoint).
struct SweepMember {
    let name: String
    let run: (_ out: String, _ control: RunControl) throws -> RunOutcome
}

/// The one sweep every sweep goes through (`sweep`, `mfld --chaos`, `saddle --init-scales`): each
/// member a run directory of its own under the sweep's, one metrics row per member made from its
/// summary, then the sweep's summary and report from those rows. `--resume DIR` reads the members
/// that finished, continues the one a signal stopped from its checkpoint, starts over one that
/// left none, and runs the rest, so a killed sweep ends with the same rows and summary as one
/// that ran through.
public enum SweepHarness {
    /// `row` makes member `index`'s metrics row from its summary, read back as `S` (its
    /// experiment's summary type) and the common RunTimes.
    static func run<S: Decodable>(command: String, resumeCommand: String, out: String?, resume: Bool, config: () throws -> JSONObject,
                    members: [SweepMember], memberSummary: S.Type, control: RunControl, quiet: Bool,
                    row: (_ index: Int, _ summary: S, _ times: RunTimes) throws -> JSONObject,
                    summary: (_ rows: [JSONObject], _ memberSummaries: [JSONObject]) throws -> JSONObject,
                    announce: Bool = false,
                    finished: (_ done: Int, _ total: Int, _ row: JSONObject, _ seconds: Double) -> Void = { _, _, _, _ in })
        throws -> RunOutcome {
        try control.validate()
        SignalWatch.start()
        if !Job.isLeader { return try follow(members, control: control) }
        let started = Date()
        let root: RunDirectory
        if resume {
            let url = URL(fileURLWithPath: out ?? ".")
            let summaryFile = url.appendingPathComponent("summary.json")
            if FileManager.default.fileExists(atPath: summaryFile.path) {
                let status = (try? RunFiles.object(in: summaryFile, shown: summaryFile.path))?["status"]?.displayText ?? "complete"
                switch status {
                case "failed":
                    // Stopped by a failing member (a full disk, say): the finished members are read back and the
                    // failed one continues from its checkpoint (runOrRead).
                    for name in ["summary.json", "report.html"] { try? FileManager.default.removeItem(at: url.appendingPathComponent(name)) }
                case "complete":
                    throw WideNetIOError("--resume \(url.path): the sweep is complete (it has summary.json); nothing to continue")
                default:
                    throw WideNetIOError("--resume \(url.path): the sweep \(status) (summary.json); a sweep continues only past finished members: "
                        + "start a new one (a new run into \(url.path) moves this one aside)")
                }
            }
            let metrics = url.appendingPathComponent("metrics.jsonl").path
            if !FileManager.default.fileExists(atPath: metrics) { _ = FileManager.default.createFile(atPath: metrics, contents: nil) }
            // The rows are remade from the members' summaries, in order.
            root = try RunDirectory(resuming: url, metricsBytes: 0)
        } else {
            root = try RunDirectory(path: out, command: command)
            try root.writeJSON(RecordedConfig.withCommandLine(try config()), to: "config.json")
        }
        let hint = "continue with `\(Job.launcherPrefix)widenet \(resumeCommand) --resume \(root.url.path)`"
        var rows: [JSONObject] = [], summaries: [JSONObject] = [], notes: [String] = []
        for (index, member) in members.enumerated() {
            let memberStart = Date()
            let directory = root.file(member.name)
            let summary: JSONObject
            do {
                summary = try runOrRead(member, in: directory, control: control, hint: hint, root: root, resumeCommand: resumeCommand)
            } catch let error where !(error is RunInterrupted) {
                throw try stopped(root, member: member.name, index: index, error: error, rows: rows, command: command, memberDirectory: directory)
            }
            // From the first member on, the sweep's directory holds work worth keeping.
            Cleanup.keepRunDirectories()
            SignalWatch.resumeHint = hint
            for note in RunFiles.notes(config: nil, summary: summary) where !notes.contains(note) { notes.append(note) }
            let shown = directory.appendingPathComponent("summary.json").path
            var r = try row(index, try ConfigCoding.decode(S.self, from: summary, shown: shown),
                            try ConfigCoding.decode(RunTimes.self, from: summary, shown: shown))
            // Each row names its member's directory, so that readers need not infer it from order.
            if r["member"] == nil { r.set("member", member.name) }
            try root.appendMetrics(r)
            rows.append(r); summaries.append(summary)
            let seconds = Date().timeIntervalSince(memberStart)
            finished(index + 1, members.count, r, seconds)
            if announce && !quiet {
                memberProgress(command: command, member: member.name, done: index + 1, total: members.count, seconds: seconds)
            }
            // A signal in the member's last step (or while it wrote its summary) was recorded but left to
            // finish the member: the sweep stops here, the member kept, before starting the next.
            if let signal = Interruption.pending, index + 1 < members.count {
                try root.close()
                var stop = RunInterrupted(signal: signal, step: index + 1, directory: root.url, command: resumeCommand, member: member.name)
                stop.afterMember = true
                throw stop
            }
        }
        try root.close()
        SignalWatch.resumeHint = nil
        var s = JSONObject()
        s.set("command", command)
        s.set("status", "complete")
        for (key, value) in try summary(rows, summaries).pairs where s[key] == nil { s[key] = value }
        s.set("members", members.count)
        s.set("wall_seconds", Date().timeIntervalSince(started))
        s["notes"] = .array(notes.map { .string($0) })
        try root.writeJSON(s, to: "summary.json")
        try ReportHook.write(in: root.url)
        return RunOutcome(directory: root.url, summary: s, notes: notes)
    }

    /// A line per finished member for a sweep that prints none of its own (`announce`), following --progress
    /// (a JSON object with step, total and final under json; nothing under none).
    public static func memberProgress(command: String, member: String, done: Int, total: Int, seconds: Double, text: String? = nil) {
        let line: String
        switch ProgressBar.mode {
        case .none: return
        case .json:
            var o = JSONObject()
            o.set("progress", command); o.set("member", member); o.set("step", done); o.set("total", total)
            if let text { o.set("text", text) }
            o.set("member_seconds", seconds)
            if done == total { o.set("final", true) }
            line = o.render()
        default:
            line = "\(member) (\(done)/\(total)): \(text ?? "done in \(String(format: "%.1f", seconds)) s")"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// A member that diverged or failed ends the sweep: its summary.json says so (status, the member,
    /// the error) beside the rows of the members before it, with a report, so that the next run into
    /// --out moves it aside; a sweep whose first member left nothing leaves no directory. The error
    /// keeps its class.
    static func stopped(_ root: RunDirectory, member: String, index: Int, error: Error, rows: [JSONObject], command: String,
                        memberDirectory: URL) throws -> Error {
        if rows.isEmpty && !FileManager.default.fileExists(atPath: memberDirectory.path) {
            root.discard()
            return error
        }
        let status = error is RunDiverged ? "diverged" : "failed"
        try root.close()
        let metrics = root.file("metrics.jsonl").path   // no member finished: no rows, but a run directory's files
        if !FileManager.default.fileExists(atPath: metrics) { _ = FileManager.default.createFile(atPath: metrics, contents: nil) }
        var s = JSONObject()
        s.set("command", command)
        s.set("status", status)
        s.set("stopped_at_member", member)
        s.set("members_finished", index)
        s.set("error", "\(error)")
        try root.writeJSON(s, to: "summary.json")
        try? ReportHook.write(in: root.url)
        return WideNetIOError("\(error) (the sweep in \(root.url.path) stopped there: its summary.json says so, and the next run into it "
            + "moves it aside to \(root.url.path)-\(status))", FailureClass.of(error) ?? .badInput)
    }

    /// What a member needs, as rank 0 tells the other ranks of a job.
    enum Action: UInt8 { case readBack, resume, run }

    /// A rank other than 0 in a job: rank 0 keeps the sweep's directory and says, member by member,
    /// whether it is read back, continued or run; this rank joins the runs (its share of their
    /// width, their checkpoints in rank 0's member directories) and writes nothing of the sweep's.
    static func follow(_ members: [SweepMember], control: RunControl) throws -> RunOutcome {
        for member in members {
            guard let code = try Job.exchange.fromLeader([]).first, let action = Action(rawValue: code) else {
                throw BackendError("rank \(Job.exchange.rank): rank 0 sent no plan for sweep member \(member.name)")
            }
            guard action != .readBack else { continue }
            var memberControl = control
            memberControl.resume = action == .resume
            _ = try member.run(FileManager.default.temporaryDirectory.path, memberControl)
        }
        return RunOutcome(directory: FileManager.default.temporaryDirectory, summary: JSONObject(), notes: [])
    }

    /// The summary of a member: read back when it finished, else run or continued now.
    static func runOrRead(_ member: SweepMember, in directory: URL, control: RunControl, hint: String, root: RunDirectory,
                              resumeCommand: String) throws -> JSONObject {
        let fm = FileManager.default
        let summaryFile = directory.appendingPathComponent("summary.json")
        if fm.fileExists(atPath: summaryFile.path) {
            let summary = try RunFiles.object(in: summaryFile, shown: summaryFile.path)
            if case .string("diverged")? = summary["status"] {
                throw RunDiverged(message: "\(member.name) in \(root.url.path) diverged; a sweep continues only past finished members")
            }
            if case .string("failed")? = summary["status"] {
                // Continued from its checkpoint, or started over below when it has none.
                for name in ["summary.json", "report.html"] { try? fm.removeItem(at: directory.appendingPathComponent(name)) }
            } else {
                _ = try Job.exchange.fromLeader([Action.readBack.rawValue])
                return summary
            }
        }
        var memberControl = control
        memberControl.resume = false
        if fm.fileExists(atPath: Checkpoint.folder(in: directory).appendingPathComponent("state.json").path) {
            memberControl.resume = true
        } else if fm.fileExists(atPath: directory.path) {
            try fm.removeItem(at: directory)    // begun but left nothing to continue from
        }
        _ = try Job.exchange.fromLeader([memberControl.resume ? Action.resume.rawValue : Action.run.rawValue])
        do {
            return try member.run(directory.path, memberControl).summary
        } catch var stop as RunInterrupted {
            stop = RunInterrupted(signal: stop.signal, step: stop.step, directory: root.url, command: resumeCommand,
                                  checkpointWritten: stop.checkpointWritten, member: member.name)
            try? root.close()
            throw stop
        }
    }
}
