import Foundation

/// A run directory read back from disk (ARCHITECTURE.md §3): summary.json, every row of metrics.jsonl in
/// order, and config.json when there is one. Every problem is a one-line error naming the file.
public struct RunFiles {
    public let url: URL
    public let config: JSONObject?
    public let metrics: [JSONObject]
    public let summary: JSONObject

    /// The directory's own name, how reports label the run.
    public var name: String { url.lastPathComponent }

    /// The command that wrote the run; summary.json says it most precisely (saddle-sweep, mfld-chaos).
    public var command: String {
        if case .string(let s)? = summary["command"] { return s }
        if case .string(let s)? = config?["command"] { return s }
        return "run"
    }

    public static func load(_ path: String) throws -> RunFiles {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw WideNetIOError("\(path): no such directory")
        }
        guard isDirectory.boolValue else { throw WideNetIOError("\(path): not a directory") }
        for required in ["metrics.jsonl", "summary.json"] where !FileManager.default.fileExists(atPath: url.appendingPathComponent(required).path) {
            throw WideNetIOError("\(path): not a run directory (no \(required))")
        }
        let summary = try object(in: url.appendingPathComponent("summary.json"), shown: path + "/summary.json")
        let configURL = url.appendingPathComponent("config.json")
        let config = FileManager.default.fileExists(atPath: configURL.path)
            ? try object(in: configURL, shown: path + "/config.json") : nil
        let metrics = try rows(in: url.appendingPathComponent("metrics.jsonl"), shown: path + "/metrics.jsonl")
        return RunFiles(url: url, config: config, metrics: metrics, summary: summary)
    }

    public static func text(of url: URL, shown: String) throws -> String {
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw WideNetIOError("\(shown): cannot read it as UTF-8 text (\(RunDirectory.reason(error)))")
        }
    }

    public static func object(in url: URL, shown: String) throws -> JSONObject {
        let text = try text(of: url, shown: shown)
        do { return try JSONReader.parseObject(text) } catch {
            throw WideNetIOError("\(shown): malformed JSON (\(error))")
        }
    }

    /// One object per non-empty line; the error names the line.
    public static func rows(in url: URL, shown: String) throws -> [JSONObject] {
        var rows: [JSONObject] = []
        for (index, line) in try text(of: url, shown: shown).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            do { rows.append(try JSONReader.parseObject(String(line))) } catch {
                throw WideNetIOError("\(shown) line \(index + 1): malformed JSON (\(error))")
            }
        }
        return rows
    }
}

extension RunFiles {
    /// config.json of the run in `url`.
    public static func config(in url: URL) throws -> JSONObject {
        try object(in: url.appendingPathComponent("config.json"), shown: url.path + "/config.json")
    }

    /// The notes as the run listed them, one by one: summary.json's list, else config.json's (under
    /// "resolved" for train and mfld, at the top for the others); an older summary's joined string last.
    public static func notes(config: JSONObject?, summary: JSONObject?) -> [String] {
        func strings(_ value: JSONValue?) -> [String]? {
            guard case .array(let items)? = value else { return nil }
            return items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
        }
        if let list = strings(summary?["notes"]) { return list }
        if case .object(let resolved)? = config?["resolved"], let list = strings(resolved["notes"]) { return list }
        if let list = strings(config?["notes"]) { return list }
        if case .string(let joined)? = summary?["notes"], !joined.isEmpty { return joined.components(separatedBy: "; ") }
        return []
    }

    public var notes: [String] { RunFiles.notes(config: config, summary: summary) }

    /// A number from summary.json that the report cannot do without.
    public func required(_ key: String) throws -> Double {
        guard let v = summary[key]?.numeric else { throw WideNetIOError("\(url.path)/summary.json has no \(key)") }
        return v
    }

    /// An array the run wrote beside its summary.
    public func array(_ name: String) throws -> NPYArray { try NPY.read(url.appendingPathComponent(name)) }

    /// An array the run may have written: nil when the file is absent, the error naming it when it is
    /// there but unreadable (a report never drops a damaged file's figure in silence).
    public func optionalArray(_ name: String) throws -> NPYArray? {
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path) else { return nil }
        return try array(name)
    }
}
