#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// SIGINT and SIGTERM during a run: the handler only records the signal; the training loop sees
/// it at the end of a step, writes a checkpoint and stops (RunInterrupted), so a run stopped by
/// Ctrl-C or a batch scheduler loses nothing.
public enum Interruption {
    nonisolated(unsafe) private static var received: sig_atomic_t = 0

    /// Installs the handlers for the duration of `body`, then restores the default ones.
    public static func catching<R>(_ body: () throws -> R) rethrows -> R {
        received = 0
        signal(SIGINT) { Interruption.received = $0 }
        signal(SIGTERM) { Interruption.received = $0 }
        // A parent may have started us with these signals blocked (the mask survives exec).
        var set = sigset_t()
        sigemptyset(&set); sigaddset(&set, SIGINT); sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        defer { signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL) }
        return try body()
    }

    /// The signal received since `catching` began, if any.
    public static var pending: Int32? { received == 0 ? nil : Int32(received) }
}

/// A run stopped by a signal, after writing its checkpoint unless checkpoints were off.
public struct RunInterrupted: Error, CustomStringConvertible {
    public let signal: Int32, step: Int, directory: URL, command: String
    public var checkpointWritten = true
    public init(signal: Int32, step: Int, directory: URL, command: String, checkpointWritten: Bool = true) {
        self.signal = signal; self.step = step; self.directory = directory; self.command = command
        self.checkpointWritten = checkpointWritten
    }
    public var description: String {
        let what = "\(signal == SIGINT ? "interrupted" : "terminated") at step \(step)"
        return checkpointWritten ? "\(what); checkpoint written: continue with `widenet \(command) --resume \(directory.path)`"
            : "\(what) without a checkpoint (--no-checkpoint); the metrics so far are in \(directory.path)"
    }
    /// 128 + the signal, as a shell reports a process killed by it.
    public var exitCode: Int32 { 128 + signal }
}
