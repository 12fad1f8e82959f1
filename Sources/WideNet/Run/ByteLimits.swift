import Foundation

/// $WIDENET_MEMORY_LIMIT and $WIDENET_DISK_LIMIT: caps, in bytes, on what the memory and disk preflights
/// take as available (for tests, shared machines and quotas the system does not report).
public enum ByteLimits {
    public static let names = ["WIDENET_MEMORY_LIMIT", "WIDENET_DISK_LIMIT"]

    /// The cap that `name` sets, nil when unset or empty. A malformed value never gets here: `check`
    /// refuses it before any command runs.
    static func cap(_ name: String) -> Double? {
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return nil }
        return parse(text)
    }

    /// Refuses a value that is not a non-negative finite number of bytes (a typo would otherwise be
    /// ignored, or a negative cap reach the preflight's arithmetic).
    public static func check() throws {
        for name in names {
            guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { continue }
            guard parse(text) != nil else {
                throw BackendError("\(name)=\(text) is not a number of bytes (a non-negative number such as 8e9, or unset it)", .usage)
            }
        }
    }

    static func parse(_ text: String) -> Double? {
        guard let v = Double(text.trimmingCharacters(in: .whitespaces)), v >= 0, v.isFinite else { return nil }
        return v
    }
}
