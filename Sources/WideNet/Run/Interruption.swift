#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// SIGINT and SIGTERM in a training loop that checkpoints: the signal is recorded (SignalWatch);
/// the loop sees it at the end of a step, writes a checkpoint and stops (RunInterrupted), so a run
/// stopped by Ctrl-C or a batch scheduler loses nothing. Before the loop starts, a signal ends the
/// process at once (SignalWatch), removing the run directory it had begun.
public enum Interruption {
    nonisolated(unsafe) private static var received: sig_atomic_t = 0
    nonisolated(unsafe) private static var cooperating = false
    private static let lock = NSLock()

    /// Runs `body` (an experiment) with the signal watch on; a signal is recorded for the loop only
    /// after `loopStarted()`, and only the first one.
    public static func catching<R>(_ body: () throws -> R) rethrows -> R {
        SignalWatch.start()
        lock.lock(); received = 0; cooperating = false; saved = false; lock.unlock()
        defer { lock.lock(); cooperating = false; lock.unlock() }
        return try body()
    }

    /// The training loop begins: from here a signal is answered with a checkpoint at the end of
    /// the step, and the run directory is kept.
    public static func loopStarted() {
        Cleanup.keepRunDirectories()
        lock.lock(); cooperating = true; lock.unlock()
    }

    /// Records `sig` for the loop if one is listening and none came before; false otherwise.
    static func record(_ sig: Int32) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard cooperating, received == 0 else { return false }
        received = sig_atomic_t(sig)
        return true
    }

    /// The signal received in the loop, if any.
    public static var pending: Int32? { received == 0 ? nil : Int32(received) }

    nonisolated(unsafe) private static var saved = false
    /// The checkpoint the signal asked for is written: a later signal (a second Ctrl-C, or the
    /// launcher ending the ranks that are still leaving) only ends the process, saying nothing.
    static func checkpointWritten() { lock.lock(); saved = true; lock.unlock() }
    static var stoppedWithCheckpoint: Bool { lock.lock(); defer { lock.unlock() }; return saved }
}

/// A run stopped by a signal, after writing its checkpoint unless checkpoints were off.
public struct RunInterrupted: Error, CustomStringConvertible {
    public let signal: Int32, step: Int, directory: URL, command: String
    public var checkpointWritten = true
    /// The sweep member the signal stopped, when a sweep was running.
    public var member: String? = nil
    /// The signal came as `member` finished: it is complete, and the sweep stopped before the next one.
    public var afterMember = false
    public init(signal: Int32, step: Int, directory: URL, command: String, checkpointWritten: Bool = true, member: String? = nil) {
        self.signal = signal; self.step = step; self.directory = directory; self.command = command
        self.checkpointWritten = checkpointWritten; self.member = member
    }
    public var description: String {
        if afterMember, let member {
            return "\(signal == SIGINT ? "interrupted" : "terminated") as \(member) finished (\(step) member\(step == 1 ? "" : "s") done); "
                + "continue with `\(Job.launcherPrefix)widenet \(command) --resume \(directory.path)`"
        }
        let what = "\(signal == SIGINT ? "interrupted" : "terminated")\(member.map { " in \($0)" } ?? "") at step \(step)"
        if member != nil && !checkpointWritten {
            return "\(what) without a checkpoint (--no-checkpoint); `\(Job.launcherPrefix)widenet \(command) --resume \(directory.path)` finishes the sweep, starting that member over"
        }
        return checkpointWritten ? "\(what); checkpoint written: continue with `\(Job.launcherPrefix)widenet \(command) --resume \(directory.path)`"
            : "\(what) without a checkpoint (--no-checkpoint); the metrics so far are in \(directory.path)"
    }
    /// 128 + the signal, as a shell reports a process killed by it.
    public var exitCode: Int32 { 128 + signal }
}
