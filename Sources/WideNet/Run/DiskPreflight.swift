#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Disk checked before a run's loop: a checkpoint keeps the previous generation until the new one
/// is complete, so two generations must fit beside each other, or the first checkpoint (perhaps
/// hours in, perhaps on Ctrl-C) would fail half-written.
public enum DiskPreflight {
    /// Free bytes on the filesystem of `directory` for this user; $WIDENET_DISK_LIMIT (bytes) caps
    /// it (for tests and quotas the filesystem does not report).
    public static func available(in directory: URL) -> (bytes: Double, source: String) {
        var best = (bytes: Double.infinity, source: "no limit found")
        var s = statvfs()
        if statvfs(directory.path, &s) == 0 { best = (Double(s.f_bavail) * Double(s.f_frsize), "free space on \(directory.path)") }
        if let cap = ByteLimits.cap("WIDENET_DISK_LIMIT"), cap < best.bytes {
            best = (cap, "WIDENET_DISK_LIMIT")
        }
        return best
    }

    /// Throws when two checkpoint generations of `bytes` each do not fit. `size` is the quantity
    /// the checkpoint grows with (e.g. ("width", m)), for the largest value that fits.
    public static func requireCheckpoints(_ bytes: Double, in directory: URL, size: (name: String, value: Int)?) throws {
        let need = 2 * bytes
        let (have, source) = available(in: directory)
        guard need > have else { return }
        var message = String(format: "checkpoints need %@ (two generations of %@) but %@ is free (%@)",
                             MemoryPreflight.gb(need), MemoryPreflight.gb(bytes), MemoryPreflight.gb(have), source)
        if let size, size.value > 0 {
            message += "; the largest \(size.name) whose checkpoints fit is \(Int(Double(size.value) * have / need))"
        }
        throw BackendError.resources(message + "; or run with --no-checkpoint")
    }
}
