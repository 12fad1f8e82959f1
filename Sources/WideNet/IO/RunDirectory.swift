import Foundation

/// The directory one experiment writes (DESIGN.md §3): config.json, metrics.jsonl, summary.json,
/// the arrays asked for and report.html. Whole files are written atomically; metrics.jsonl is
/// appended a complete line at a time and flushed, so it can be followed while the run goes on.
public final class RunDirectory {
    public let url: URL
    var metrics: FileHandle?
    /// The directories this run made, outermost first (empty when continuing an earlier run).
    private var created: [String] = []

    /// Creates `path` (or runs/<command>-<time>), refusing a directory that already holds a run;
    /// when that fails, the directories it made on the way are removed again.
    public init(path: String?, command: String) throws {
        let fm = FileManager.default
        let chosen: String
        if let path, !path.isEmpty {
            chosen = path
        } else {
            let f = DateFormatter()
            f.dateFormat = "yyyyMMdd-HHmmss"
            f.locale = Locale(identifier: "en_US_POSIX")
            chosen = "runs/\(command)-\(f.string(from: Date()))"
        }
        url = URL(fileURLWithPath: chosen)
        if fm.fileExists(atPath: url.appendingPathComponent("metrics.jsonl").path) {
            throw WideNetIOError("--out \(chosen) already holds a run (metrics.jsonl); choose another directory")
        }
        var created: [String] = []
        do {
            try RunDirectory.makeDirectories(url.path, label: chosen, created: &created)
            guard fm.isWritableFile(atPath: url.path) else {
                throw WideNetIOError("--out \(chosen): the directory is not writable")
            }
        } catch {
            for directory in created.reversed() { rmdir(directory) }
            throw error
        }
        self.created = created
    }

    /// Removes what this run made, for a run that fails before it has anything worth keeping (its
    /// very first step); a run continued from a checkpoint is never removed.
    public func discard() {
        try? metrics?.close()
        metrics = nil
        guard let own = created.last, own == url.path else { return }
        try? FileManager.default.removeItem(atPath: own)
        for directory in created.dropLast().reversed() { rmdir(directory) }
    }

    /// An existing run directory with metrics.jsonl already open (RunDirectory+Resume.swift).
    init(existing url: URL, metrics: FileHandle) {
        self.url = url
        self.metrics = metrics
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
        try metrics?.write(contentsOf: Data((row.render() + "\n").utf8))
    }

    public func writeArray<T: BinaryFloatingPoint>(_ values: [T], shape: [Int], to name: String) throws {
        try NPY.write(values, shape: shape, to: file(name))
    }

    public func close() throws {
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
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectories(parent, label: label, created: &created) }
        if mkdir(path, 0o777) == 0 {
            created.append(path)
        } else if errno != EEXIST {
            throw WideNetIOError("--out \(label): cannot create \(path) (\(String(cString: strerror(errno))))")
        }
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}
