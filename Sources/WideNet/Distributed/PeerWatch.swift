#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Open MPI 4.1 has no fault tolerance: a rank that dies without a word (kill -9, the
/// out-of-memory killer, a crash) leaves the others waiting in their next collective for ever,
/// unless the launcher ends them. The watch ends them itself, with one line that names the dead
/// rank: a thread checks four times a second that the ranks on this machine still run (their
/// process ids, exchanged when the job starts), and that no collective has waited longer than
/// `timeout` (what a rank on another machine that died or hangs looks like from here). The lowest
/// rank of this machine still running says it; every rank that sees it leaves at once. A signal
/// in a job (the launcher ending it) checks at once (SignalWatch), before the launcher's kill.
public enum PeerWatch {
    /// WIDENET_EXCHANGE_TIMEOUT: the seconds a collective may wait for the slowest rank.
    public static let defaultTimeout = 600.0

    struct Peer: Sendable { let rank: Int, pid: Int32 }

    /// Nanoseconds (uptime) at which the collective this rank is in began; 0 outside one.
    static let waitingSince = Atomic<UInt64>(0)
    nonisolated(unsafe) private static var peers: [Peer] = []
    nonisolated(unsafe) private static var me = Peer(rank: 0, pid: 0)
    nonisolated(unsafe) private static var size = 1
    nonisolated(unsafe) private static var timeout = defaultTimeout
    nonisolated(unsafe) private static var resumeHint: String?
    private static let lock = NSLock()
    private static let ending = Atomic<Bool>(false)
    /// Set when this rank has passed the job's last collective but one: peers may now leave.
    private static let leaving = Atomic<Bool>(false)

    /// Ranks that finished leave without a word too: from here no peer's end is a failure (a
    /// collective that hangs still is). Job.finish calls it between its two barriers.
    static func peersMayLeave() { leaving.store(true, ordering: .relaxed) }

    /// Learns where every rank runs (one collective, every rank calls it) and starts the thread.
    static func start(_ mpi: MPIRuntime, environment: [String: String]) throws {
        if let text = environment["WIDENET_EXCHANGE_TIMEOUT"] {
            guard let t = Double(text), t > 0 else {
                throw BackendError("WIDENET_EXCHANGE_TIMEOUT=\(text): not a positive number of seconds", .usage)
            }
            timeout = t
        }
        let host = ProcessInfo.processInfo.hostName.utf8.reduce(UInt64(0xcbf29ce484222325)) { ($0 ^ UInt64($1)) &* 0x100000001b3 }
        let all: [UInt64] = try mpi.allgather([host, UInt64(getpid())])
        lock.lock()
        size = mpi.size
        me = Peer(rank: mpi.rank, pid: getpid())
        peers = (0..<mpi.size).filter { all[2 * $0] == host && $0 != mpi.rank }.map { Peer(rank: $0, pid: Int32(truncatingIfNeeded: all[2 * $0 + 1])) }
        lock.unlock()
        let thread = Thread {
            while true {
                usleep(250_000)
                if let problem = check() { end(problem) }
            }
        }
        thread.name = "widenet-peer-watch"
        thread.start()
    }

    /// What to say after the error of a dead peer: the checkpoint that continues the run.
    public static func setResumeHint(_ hint: String?) { lock.lock(); resumeHint = hint; lock.unlock() }

    /// The dead peer or the stalled collective, as the error line says it; nil when all is well.
    static func check() -> (line: String, speaks: Bool)? {
        lock.lock(); let (peers, me, size, timeout) = (Self.peers, Self.me, Self.size, Self.timeout); lock.unlock()
        let dead = leaving.load(ordering: .relaxed) ? [] : peers.filter { !running($0.pid) }
        if let first = dead.first {
            let speaker = ([me] + peers.filter { running($0.pid) }).map(\.rank).min() ?? me.rank
            return ("rank \(first.rank) of \(size) (pid \(first.pid), this machine) ended without a word: killed by a signal "
                + "(kill -9, the out-of-memory killer) or crashed; the other ranks stop", speaker == me.rank)
        }
        let since = waitingSince.load(ordering: .relaxed)
        if since > 0 {
            let waited = Double(DispatchTime.now().uptimeNanoseconds &- since) * 1e-9
            if waited > timeout {
                let speaker = ([me] + peers).map(\.rank).min() ?? me.rank
                return ("rank \(me.rank) of \(size) waited \(Int(waited)) s in an exchange for a rank that never came (one on "
                    + "another machine died or hangs; WIDENET_EXCHANGE_TIMEOUT=\(Int(timeout)) s); the job stops", speaker == me.rank)
            }
        }
        return nil
    }

    /// Checks now (a signal arrived): ends this process if a peer is dead.
    static func checkNow() { if size > 1, let problem = check() { end(problem) } }

    /// Whether process `pid` exists and is not a zombie.
    static func running(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state != "Z" && state != "X"
    }

    private static func end(_ problem: (line: String, speaks: Bool)) -> Never {
        // Once: the watch thread and the signal thread may both see it.
        guard !ending.exchange(true, ordering: .relaxed) else { while true { pause() } }
        _ = Cleanup.run()
        if problem.speaks {
            lock.lock(); let hint = resumeHint; lock.unlock()
            let line = "error: \(problem.line)\(hint.map { "; \($0)" } ?? "")\n"
            _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            // The others leave first (within a poll): one that looked later and found this rank
            // gone too would take it for the dead one and speak again.
            lock.lock(); let peers = Self.peers; lock.unlock()
            for _ in 0..<30 where peers.contains(where: { running($0.pid) }) { usleep(100_000) }
        }
        _exit(FailureClass.resources.exitCode)
    }
}
