import Foundation

/// What this process has taken from the machine's memory.
public enum ProcessMemory {
    /// The peak resident set of this process image so far (VmHWM of /proc/self/status), in bytes.
    /// Not getrusage's ru_maxrss: Linux carries that over from the parent forked before exec, so a
    /// run started by a large process would report the parent's peak.
    public static func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kB = Int(line.dropFirst("VmHWM:".count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") else {
            return nil
        }
        return kB * 1024
    }
}
