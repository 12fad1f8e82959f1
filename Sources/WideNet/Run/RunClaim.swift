import Foundation

/// An exclusive claim on a run directory: flock(2) on DIR/.widenet.lock, taken before anything is
/// written and held while this process runs. The kernel releases it when the process ends, however
/// it ends, so a killed run never leaves a stale claim, and two runs started into one directory at
/// once cannot both proceed.
final class RunClaim {
    static let fileName = ".widenet.lock"
    private let fd: Int32

    init(directory: URL, label: String) throws {
        let path = directory.appendingPathComponent(RunClaim.fileName).path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw WideNetIOError("--out \(label): cannot create \(path) (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw WideNetIOError("--out \(label) is in use by another widenet run\(holder.map { $0.isEmpty ? "" : " (\($0))" } ?? ""); "
                + "choose another directory")
        }
        // Who holds it, for the message above (the lock itself is what counts).
        let note = "pid \(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
    }

    deinit { close(fd) }
}
