#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// SIGINT and SIGTERM from process start. The handler only writes the signal to a pipe; a thread
/// of its own reads it and decides, so a signal is answered at once even while the main thread
/// sits in a long BLAS or LAPACK call:
///   - in a training loop that can checkpoint (Interruption.catching, after loopStarted), the
///     signal is recorded and the loop checkpoints and stops at the end of its step;
///   - anywhere else (set-up, a run without checkpoints, a second signal), what this process
///     created and left unfinished is removed (Cleanup) and it exits with 128 + the signal.
public enum SignalWatch {
    nonisolated(unsafe) static var pipeWrite: Int32 = -1
    nonisolated(unsafe) static var started = false
    /// How to continue what a signal outside a training loop stops (a sweep between members).
    nonisolated(unsafe) public static var resumeHint: String? = nil
    static let lock = NSLock()

    public static func start() {
        lock.lock(); defer { lock.unlock() }
        guard !started else { return }
        started = true
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC); _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        pipeWrite = fds[1]
        let readEnd = fds[0]
        let watcher = Thread {
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) == 1 { handle(Int32(byte)) }
        }
        watcher.name = "widenet-signals"
        watcher.start()
        for sig in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                var b = UInt8(truncatingIfNeeded: sig)
                _ = write(SignalWatch.pipeWrite, &b, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
        // A parent may have started us with these signals blocked (the mask survives exec).
        var set = sigset_t()
        sigemptyset(&set); sigaddset(&set, SIGINT); sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    static func handle(_ sig: Int32) {
        // In a job, the launcher's signal often means a rank died: say which before its kill comes.
        PeerWatch.checkNow()
        if Interruption.record(sig) { return }
        if Interruption.stoppedWithCheckpoint { _exit(128 + sig) }
        let removed = Cleanup.run()
        let name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)"
        let what = removed.isEmpty ? "" : "; removed what it had begun: \(removed.joined(separator: ", "))"
        let hint = resumeHint.map { "; \($0)" } ?? ""
        let line = "error: stopped by \(name) before a checkpoint could be written\(what)\(hint)\n"
        if Job.isLeader { _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) } }   // rank 0 speaks for a job
        _exit(128 + sig)
    }
}

/// Paths this process created and has not finished: temporary files (always removed when a signal
/// ends the process) and new run directories (removed only before their training loop starts,
/// since from then on they hold rows and checkpoints worth keeping).
public enum Cleanup {
    /// `runContents`: a run directory that existed before the run (holding no run): what the run put in
    /// it goes, the directory and what was there before stay.
    public enum Kind: Sendable { case temporary, runDirectory, runContents }
    nonisolated(unsafe) private static var paths: [String: Kind] = [:]
    nonisolated(unsafe) private static var before: [String: Set<String>] = [:]
    private static let lock = NSLock()

    public static func register(_ path: String, _ kind: Kind, keeping existing: Set<String> = []) {
        lock.lock(); paths[path] = kind; before[path] = existing; lock.unlock()
    }
    public static func unregister(_ path: String) { lock.lock(); paths[path] = nil; before[path] = nil; lock.unlock() }

    /// The run directories are kept from now on (their loop has started).
    public static func keepRunDirectories() {
        lock.lock(); paths = paths.filter { $0.value == .temporary }; before.removeAll(); lock.unlock()
    }

    /// Removes what is in `path` but the entries `keeping`, keeping the directory; true when something went.
    static func emptyOut(_ path: String, keeping: Set<String>) -> Bool {
        let items = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !keeping.contains($0) }
        for item in items { try? FileManager.default.removeItem(atPath: (path as NSString).appendingPathComponent(item)) }
        return !items.isEmpty
    }

    /// Removes every registered path, deepest first; returns the run directories removed.
    static func run() -> [String] {
        lock.lock(); defer { lock.unlock() }
        var removed: [String] = []
        for (path, kind) in paths.sorted(by: { $0.key.count > $1.key.count }) {
            if kind == .runContents {
                if emptyOut(path, keeping: before[path] ?? []) { removed.append("what the run put in \(path)") }
            } else if (try? FileManager.default.removeItem(atPath: path)) != nil, kind == .runDirectory { removed.append(path) }
        }
        paths.removeAll(); before.removeAll()
        return removed
    }
}
