import Foundation

/// The config.json of an earlier run, read back to continue it (`--resume DIR`): the options it
/// was given and what they resolved to, and the check that a command line asking to resume does
/// not change an option that matters.
public struct RecordedConfig {
    public let directory: URL
    public let options: [String: Any]
    public var resolved: [String: Any] { options["resolved"] as? [String: Any] ?? [:] }

    public init(directory: URL) throws {
        self.directory = directory
        let path = directory.appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw WideNetIOError("--resume \(directory.path): no such run directory")
        }
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw WideNetIOError("--resume \(directory.path): no readable config.json")
        }
        options = object
    }

    public func command() -> String? { options["command"] as? String }
    public func string(_ key: String) -> String? { options[key] as? String }
    public func int(_ key: String) -> Int? { (options[key] as? NSNumber)?.intValue }
    public func double(_ key: String) -> Double? { (options[key] as? NSNumber)?.doubleValue }
    public func bool(_ key: String) -> Bool? { (options[key] as? NSNumber)?.boolValue }
    public func resolvedInt(_ key: String) -> Int? { (resolved[key] as? NSNumber)?.intValue }
    public func resolvedString(_ key: String) -> String? { resolved[key] as? String }

    /// One option given on the command line next to --resume: its flag, its config.json key and value.
    public struct Given {
        public let flag: String, key: String, value: JSONValue
        public init(_ flag: String, _ key: String, _ value: JSONValue) { self.flag = flag; self.key = key; self.value = value }
    }

    /// Refuses the first given option whose value differs from the recorded one.
    public func refuseChanges(_ given: [Given]) throws {
        for g in given {
            let recorded = options[g.key] ?? NSNull()
            guard !Self.same(g.value, recorded) else { continue }
            throw BackendError("--resume \(directory.path): \(g.flag) \(g.value.displayText) differs from the run's "
                + "\(Self.describe(recorded)) (config.json); a resumed run keeps the options it started with")
        }
    }

    static func same(_ value: JSONValue, _ recorded: Any) -> Bool {
        switch value {
        case .null: return recorded is NSNull
        case .string(let s): return (recorded as? String) == s
        case .bool(let b): return (recorded as? NSNumber)?.boolValue == b
        case .int(let i): return (recorded as? NSNumber).map { $0.doubleValue == Double(i) } ?? false
        case .number(let v): return (recorded as? NSNumber).map { $0.doubleValue == v } ?? false
        default: return false
        }
    }

    static func describe(_ recorded: Any) -> String {
        if recorded is NSNull { return "default" }
        if let s = recorded as? String { return s }
        return "\(recorded)"
    }
}
