import Foundation

/// Host memory checked before an allocation that grows with the problem (the n×n matrices of the
/// NTK analysis, saddle's n×m activations), so that a size that cannot fit is refused with the
/// bytes needed, the bytes available and the largest size that fits, instead of the process
/// dying in the allocator.
public enum MemoryPreflight {
    /// What this process may still allocate: MemAvailable, or less where a cgroup limit (v2 or v1)
    /// leaves less; $WIDENET_MEMORY_LIMIT (bytes) caps it further (for tests and shared machines).
    public static func available() -> (bytes: Double, source: String) {
        var best = (bytes: Double.infinity, source: "no limit found")
        if let kb = meminfo("MemAvailable") { best = (kb * 1024, "MemAvailable") }
        for (limitFile, usageFile) in [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                       ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")] {
            guard let limit = number(limitFile), limit < 1e18 else { continue }
            let left = limit - (number(usageFile) ?? 0)
            if left < best.bytes { best = (left, "the cgroup limit") }
        }
        if let cap = ByteLimits.cap("WIDENET_MEMORY_LIMIT"), cap < best.bytes {
            best = (cap, "WIDENET_MEMORY_LIMIT")
        }
        return best
    }

    /// Throws when `bytes` exceed what is available. `largest(available)` names the largest size
    /// that fits, e.g. "the largest n that fits is 20842".
    public static func require(_ bytes: Double, for what: String, largest: (Double) -> String) throws {
        let (have, source) = available()
        guard bytes > have else { return }
        throw BackendError.resources("\(what) needs \(gb(bytes)) of host memory but \(gb(have)) is available (\(source)); \(largest(have))")
    }

    /// The preflight of k n×n matrices of doubles (the NTK analysis at n samples).
    public static func requireSquare(_ k: Int, n: Int, for what: String) throws {
        let perEntry = Double(k) * 8
        try require(perEntry * Double(n) * Double(n), for: "\(what) at n = \(n) (\(k) n×n matrices of doubles)") { have in
            "the largest n that fits is \(Int((max(have, 0) / perEntry).squareRoot()))"
        }
    }

    /// What a width too wide for one device needs when split: "; split over K ranks, …", so the
    /// refusal names how many devices (ranks, one device each) hold all `units`, `perDevice` each.
    public static func splitAdvice(units: Int, perDevice: Int) -> String {
        guard perDevice > 0 else { return "" }
        let ranks = units / perDevice + (units % perDevice == 0 ? 0 : 1)   // units + perDevice − 1 can overflow
        let now = Job.ranks
        guard ranks > now else { return "" }
        return "; it needs \(ranks) or more ranks with such a device each (`mpirun -np \(ranks)` or srun; "
            + "README, Splitting the width over processes)\(now > 1 ? ", this job has \(now)" : "")"
    }

    static func gb(_ bytes: Double) -> String {
        if bytes >= 1e9 { return String(format: "%.2f GB", bytes / 1e9) }
        if bytes >= 1e6 { return String(format: "%.1f MB", bytes / 1e6) }
        return String(format: "%.0f kB", max(bytes, 0) / 1e3)
    }

    private static func meminfo(_ key: String) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Double(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }

    private static func number(_ path: String) -> Double? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
