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
        guard resolvedString("backend") == "opencl" else { return (.cpu, nil) }
        // The ranks of a job each resolved their own device from the --device they were given (or
        // none), and rank 0's name may be every rank's: the same spec gives each its device back.
        if (int("ranks") ?? 1) > 1 { return (.opencl, string("device")) }
        return (.opencl, resolvedString("device"))
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

extension RecordedConfig {
    /// config.json of a run: the command, the version, every option of `options` under its
    /// CodingKeys name, and `resolved` (what the defaults came to: backend, sizes, step size, notes).
    static func json<C: Encodable>(command: String, options: C, resolved: [(String, JSONValue)]) -> JSONObject {
        var o = JSONObject()
        o.set("command", command); o.set("version", widenetVersion)
        // Encoding a struct of numbers, strings and enums cannot fail.
        for (key, value) in ((try? ConfigCoding.object(options)) ?? JSONObject()).pairs { o[key] = value }
        var r = JSONObject()
        for (k, v) in resolved { r[k] = v }
        o.set("resolved", r)
        return o
    }

    /// `config` with the exact command line of this process (argument 0 is the binary as it was
    /// called) and the random generator's version after its own version.
    static func withCommandLine(_ config: JSONObject, _ arguments: [String] = CommandLine.arguments) -> JSONObject {
        var o = JSONObject()
        func stamp() {
            o["command_line"] = .array(arguments.map { .string($0) })
            o["generator"] = .string(PhiloxGenerator.version)
        }
        for (key, value) in config.pairs where key != "command_line" && key != "generator" {
            o[key] = value
            if key == "version" { stamp() }
        }
        if o["command_line"] == nil { stamp() }
        o["ranks"] = .int(Job.ranks)
        return o
    }

    /// The recorded options decoded as `type`; an error names the field that does not decode.
    public func decode<C: Decodable>(_ type: C.Type) throws -> C {
        try ConfigCoding.decode(type, from: options, shown: directory.appendingPathComponent("config.json").path)
    }

    /// Refuses the first option on the command line that names a recorded field (`keys`, the
    /// configuration's CodingKeys) with another value than the run's. A flag's field is its name in
    /// snake case (--init-w: init_w) unless `renamed` says otherwise (--no-data: data_term).
    public func refuseChanges<C: Encodable>(from config: C, keys: [String], renamed: [String: String] = [:],
                                            extra: JSONObject = JSONObject(), arguments: [String] = Array(CommandLine.arguments.dropFirst())) throws {
        var mine = try ConfigCoding.object(config)
        for (key, value) in extra.pairs { mine[key] = value }
        var given: [Given] = []
        for argument in arguments where argument.hasPrefix("--") {
            let flag = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            let key = renamed[flag] ?? flag.dropFirst(2).replacingOccurrences(of: "-", with: "_")
            guard keys.contains(key), !given.contains(where: { $0.key == key }) else { continue }
            given.append(Given(flag, key, mine[key] ?? .null))
        }
        try refuseChanges(given)
    }
}
