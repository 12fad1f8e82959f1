import Foundation

/// The config.json of an earlier run, read back to continue it (`--resume DIR`): the options it
/// was given and what they resolved to, and the check that a command line asking to resume does
/// not change an option that matters.
public struct RecordedConfig {
    public let directory: URL
    public let options: JSONObject
    public var resolved: JSONObject {
        if case .object(let r)? = options["resolved"] { return r }
        return JSONObject()
    }

    public init(directory: URL) throws {
        self.directory = directory
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw WideNetIOError("--resume \(directory.path): no such run directory")
        }
        let file = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw WideNetIOError("--resume \(directory.path): not a run directory (no config.json)")
        }
        options = try RunFiles.object(in: file, shown: file.path)
    }

    public func command() -> String? { string("command") }
    public func string(_ key: String) -> String? { if case .string(let s)? = options[key] { return s }; return nil }
    public func double(_ key: String) -> Double? { options[key]?.doubleValue }
    public func int(_ key: String) -> Int? { Self.int(options[key]) }
    public func bool(_ key: String) -> Bool? { if case .bool(let b)? = options[key] { return b }; return nil }
    public func resolvedInt(_ key: String) -> Int? { Self.int(resolved[key]) }

    /// Exact for ints (seeds use all 64 bits); whole doubles are accepted too.
    static func int(_ value: JSONValue?) -> Int? {
        if case .int(let i)? = value { return i }
        return value?.doubleValue.flatMap { $0 == $0.rounded() && abs($0) < 9e15 ? Int($0) : nil }
    }
    public func resolvedString(_ key: String) -> String? { if case .string(let s)? = resolved[key] { return s }; return nil }

    /// The backend and device the run resolved to: a continuation is bit-identical only there.
    public var pinnedBackend: (kind: BackendKind, device: String?) {
        resolvedString("backend") == "opencl" ? (.opencl, resolvedString("device")) : (.cpu, nil)
    }

    /// One option given on the command line next to --resume: its flag, its config.json key and value.
    public struct Given {
        public let flag: String, key: String, value: JSONValue
        public init(_ flag: String, _ key: String, _ value: JSONValue) { self.flag = flag; self.key = key; self.value = value }
    }

    /// Refuses the first given option whose value differs from the recorded one.
    public func refuseChanges(_ given: [Given]) throws {
        for g in given {
            let recorded = options[g.key] ?? .null
            let same = g.value.doubleValue.map { $0 == recorded.doubleValue } ?? (g.value == recorded)
            guard !same else { continue }
            throw BackendError("--resume \(directory.path): \(g.flag) \(g.value.displayText) differs from the run's "
                + "\(recorded == .null ? "default" : recorded.displayText) (config.json); a resumed run keeps the options it started with")
        }
    }
}
