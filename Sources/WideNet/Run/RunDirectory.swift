import Foundation

/// The directory one experiment writes (ARCHITECTURE.md §3): config.json, metrics.jsonl, summary.json,
/// the arrays asked for and report.html. Whole files are written atomically; metrics.jsonl is
/// appended a complete line at a time and flushed, so it can be followed while the run goes on.
public final class RunDirectory {
    public let url: URL
    var metrics: FileHandle?
    /// The directories this run made, outermost first (empty when continuing an earlier run).
    private var created: [String] = []

    /// This process's claim on the directory (RunClaim), held until the run object goes.
    private var claim: RunClaim?
    /// Where a diverged run that held `path` was moved, so that the new run could take its place.
    public private(set) var movedDivergedRun: String?

    /// Creates `path`, or a fresh runs/<command>-<time>[-k] (never one that exists: the leaf is made
    /// with mkdir(2), which only one process can do), claims it, and refuses a directory that is in
    /// use by another run or already holds one (metrics.jsonl or config.json); when that fails, the
    /// directories it made on the way are removed again.
    public init(path: String?, command: String) throws {
        let fm = FileManager.default
        var created: [String] = []
        let chosen: String
        do {
            if let path, !path.isEmpty {
                // A run's files and its cleanup on failure belong in a directory of their own, never the root.
                guard URL(fileURLWithPath: path).standardizedFileURL.path != "/" else {
                    throw WideNetIOError("--out /: a run writes into a directory of its own; name one (e.g. --out runs/my-run)", .usage)
                }
                chosen = path
                movedDivergedRun = try RunDirectory.moveAsideIfDiverged(path)
                try RunDirectory.makeDirectories(path, label: path, created: &created)
            } else {
                chosen = try RunDirectory.freshDefault(command: command, created: &created)
            }
        } catch {
            for directory in created.reversed() { rmdir(directory) }
            throw error
        }
        // Registered before the claim file appears in it: a signal from here on removes what this
        // run made (and a refused run unregisters it below, leaving the directory to its holder). An
        // --out that existed keeps the directory and what was in it (the front end's inputs/, say), and
        // loses what this run put there.
        url = URL(fileURLWithPath: chosen)
        let existing = created.isEmpty ? (try? fm.contentsOfDirectory(atPath: chosen)).map(Set.init) : nil
        if let outermost = created.first { Cleanup.register(outermost, .runDirectory) }
        if let existing { Cleanup.register(chosen, .runContents, keeping: existing) }
        do {
            guard fm.isWritableFile(atPath: url.path) else {
                throw WideNetIOError("--out \(chosen): the directory is not writable")
            }
            claim = try RunClaim(directory: url, label: chosen)
            for held in ["metrics.jsonl", "config.json"] where fm.fileExists(atPath: url.appendingPathComponent(held).path) {
                throw WideNetIOError("--out \(chosen) already holds a run (\(held)); choose another directory")
            }
        } catch {
            claim = nil
            if let outermost = created.first { Cleanup.unregister(outermost) }
            if existing != nil { Cleanup.unregister(chosen) }
            // Only what is empty goes: a directory this process made can already hold another run's
            // claim file and files (it claimed the path first), and removing them would let a third
            // run claim a fresh copy beside the one still running.
            for directory in created.reversed() { rmdir(directory) }
            throw error
        }
        self.created = created
        self.existedBefore = existing.map { (chosen, $0) }
    }

    /// The --out given when it existed before the run, with what it held then (nil when this run made it
    /// or continues one).
    private var existedBefore: (path: String, entries: Set<String>)?

    /// A diverged or failed run (its summary.json says so) does not block its --out: it moves to
    /// <path>-diverged (or -failed, -diverged-2, …), kept for its rows and report, and the path is free again.
    private static func moveAsideIfDiverged(_ path: String) throws -> String? {
        let summary = URL(fileURLWithPath: path).appendingPathComponent("summary.json")
        guard FileManager.default.fileExists(atPath: summary.path),
              let object = try? RunFiles.object(in: summary, shown: summary.path),
              case .string(let status)? = object["status"], status == "diverged" || status == "failed" else { return nil }
        let base = (path.hasSuffix("/") ? String(path.dropLast()) : path) + "-" + status
        for k in 1...10_000 {
            let target = k == 1 ? base : "\(base)-\(k)"
            if FileManager.default.fileExists(atPath: target) { continue }
            guard rename(path, target) == 0 else {
                throw WideNetIOError("--out \(path) holds a \(status) run that cannot be moved aside to \(target) (\(String(cString: strerror(errno))))")
            }
            try? ReportHook.write(in: URL(fileURLWithPath: target))   // its report is titled by its directory's new name
            return target
        }
        throw WideNetIOError("--out \(path) holds a \(status) run and no free name next to \(base)")
    }

    /// runs/<command>-<yyyyMMdd-HHmmss>, or with -2, -3, … when that exists: runs started in the same
    /// second, or at once, each get their own.
    private static func freshDefault(command: String, created: inout [String]) throws -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        let base = "runs/\(command)-\(f.string(from: Date()))"
        try makeDirectories("runs", label: base, created: &created)
        for k in 1...10_000 {
            let candidate = k == 1 ? base : "\(base)-\(k)"
            if mkdir(candidate, 0o777) == 0 {
                created.append(candidate)
                return candidate
            }
            guard errno == EEXIST else {
                throw WideNetIOError("cannot create \(candidate) (\(String(cString: strerror(errno))))")
            }
        }
        throw WideNetIOError("cannot find a free directory name next to \(base)")
    }

    /// Removes what this run made, for a run that fails before it has anything worth keeping (its
    /// very first step); a run continued from a checkpoint is never removed.
    public func discard() {
        try? metrics?.close()
        metrics = nil
        if let existedBefore {
            Cleanup.unregister(existedBefore.path)
            _ = Cleanup.emptyOut(existedBefore.path, keeping: existedBefore.entries)
            return
        }
        if let outermost = created.first { Cleanup.unregister(outermost) }
        // `created` holds the paths as given (relative for --out ie), url an absolute one.
        guard let own = created.last, URL(fileURLWithPath: own).standardizedFileURL.path == url.standardizedFileURL.path else { return }
        try? FileManager.default.removeItem(atPath: own)
        for directory in created.dropLast().reversed() { rmdir(directory) }
    }

    /// An existing run directory with metrics.jsonl already open, claimed (RunDirectory+Resume.swift).
    init(existing url: URL, metrics: FileHandle, claim: RunClaim) {
        self.url = url
        self.metrics = metrics
        self.claim = claim
    }

    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    public func writeJSON(_ object: JSONObject, to name: String) throws {
        try AtomicFile.write(object.render(pretty: true) + "\n", to: file(name))
    }

    public func writeText(_ text: String, to name: String) throws { try AtomicFile.write(text, to: file(name)) }

    public func appendMetrics(_ row: JSONObject) throws {
        if metrics == nil {
            let path = file("metrics.jsonl").path
            guard FileManager.default.createFile(atPath: path, contents: nil),
                  let h = FileHandle(forWritingAtPath: path) else {
                throw WideNetIOError("cannot write \(path)")
            }
            metrics = h
        }
        // A whole line or none: a write that fails (a full disk) is cut back, so the file stays rows.
        guard let fd = metrics?.fileDescriptor else { return }
        let start = lseek(fd, 0, SEEK_END)
        if let failure = writeAll(Data((row.render() + "\n").utf8), to: fd, path: file("metrics.jsonl").path) {
            if start >= 0 { _ = ftruncate(fd, start) }
            throw failure
        }
    }

    public func writeArray<T: BinaryFloatingPoint>(_ values: [T], shape: [Int], to name: String) throws {
        try NPY.write(values, shape: shape, to: file(name))
    }

    public func close() throws {
        if let outermost = created.first { Cleanup.unregister(outermost) }
        try metrics?.synchronize()
        try metrics?.close()
        metrics = nil
    }

    deinit { try? metrics?.close() }

    /// Creates `path` and its missing ancestors with mkdir(2), appending each one it creates to
    /// `created`; a failure names the component that stopped it and why.
    private static func makeDirectories(_ path: String, label: String, created: inout [String]) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw WideNetIOError("--out \(label): \(path) exists and is not a directory")
            }
            return
        }
        let parent = parentPath(path)
        if !parent.isEmpty, parent != path { try makeDirectories(parent, label: label, created: &created) }
        if mkdir(path, 0o777) == 0 {
            created.append(path)
        } else if errno != EEXIST {
            throw WideNetIOError("--out \(label): cannot create \(path) (\(String(cString: strerror(errno))))")
        }
    }

    /// The path without its last component ("" for a bare name, "/" for a name under the root);
    /// NSString's deletingLastPathComponent traps on one-character names in this Foundation.
    static func parentPath(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        if slash == p.startIndex { return "/" }
        var parent = p[..<slash]
        while parent.count > 1, parent.hasSuffix("/") { parent = parent.dropLast() }
        return String(parent)
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}
