import Foundation

/// A run's checkpoint (ARCHITECTURE.md §4): DIR/checkpoint/state.json and the .npy arrays it names. The
/// arrays carry the step in their names and are written first, state.json last (each file written
/// to a temporary name, flushed and renamed), and only then are the previous step's arrays removed:
/// a run killed at any moment leaves state.json naming a complete set.
public struct Checkpoint: Codable, Sendable, Equatable {
    /// Updates done: the run continues with update step + 1.
    public var step: Int
    /// Hash of config.json, so a resume refuses a run whose configuration was edited.
    public var configHash: String
    /// Length of metrics.jsonl when the checkpoint was taken; a resume cuts the file back to it.
    public var metricsBytes: Int
    /// Array name → file name in the checkpoint folder.
    public var arrays: [String: String] = [:]
    /// Run-specific numbers, Double bit patterns so they come back exactly.
    public var numbers: [String: UInt64] = [:]
    public var integers: [String: Int] = [:]
    /// The random generator that drew the run's weights and noise (PhiloxGenerator.version); absent
    /// in checkpoints written before it was recorded.
    public var generator: String?

    public init(step: Int, configHash: String, metricsBytes: Int) {
        self.step = step; self.configHash = configHash; self.metricsBytes = metricsBytes
        generator = PhiloxGenerator.version
    }

    public mutating func set(_ name: String, _ value: Double) { numbers[name] = value.bitPattern }
    public func number(_ name: String) -> Double? { numbers[name].map(Double.init(bitPattern:)) }

    public static func folder(in run: URL) -> URL { run.appendingPathComponent("checkpoint") }

    /// One array for `write`, encoded as .npy in its own precision.
    public static func array<T: BinaryFloatingPoint>(_ name: String, _ values: [T], shape: [Int]) -> (name: String, npy: Data) {
        (name, NPY.encode(values, shape: shape))
    }

    /// Writes the arrays and then state.json into `run`/checkpoint.
    public mutating func write(arrays named: [(name: String, npy: Data)], to run: URL) throws {
        let folder = Self.folder(in: run)
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw WideNetIOError("cannot create \(folder.path): \(error.localizedDescription)")
        }
        for a in named {
            let file = "\(a.name)-\(step).npy"
            try AtomicFile.write(a.npy, to: folder.appendingPathComponent(file))
            arrays[a.name] = file
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: folder.appendingPathComponent("state.json"))
        Log.logger("run").info("checkpoint after step \(step) in \(folder.path)")
        let keep = Set(arrays.values).union(["state.json"])
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where !keep.contains(name) {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// The checkpoint of the run in `run`, checked against its config.json.
    public static func load(from run: URL) throws -> Checkpoint {
        let state = folder(in: run).appendingPathComponent("state.json")
        guard let data = FileManager.default.contents(atPath: state.path) else {
            throw WideNetIOError("\(run.path) has no checkpoint (\(state.path)); runs write one every --checkpoint-every K steps and when interrupted")
        }
        let checkpoint: Checkpoint
        do { checkpoint = try JSONDecoder().decode(Checkpoint.self, from: data) } catch {
            throw WideNetIOError("\(state.path): not a checkpoint (\(error.localizedDescription))")
        }
        // Another generator would continue the run with other noise than the uninterrupted run drew.
        guard checkpoint.generator == PhiloxGenerator.version else {
            throw WideNetIOError("\(state.path): drawn by the random generator "
                + "\(checkpoint.generator.map { "'\($0)'" } ?? "of an earlier widenet (none recorded)"), not this widenet's "
                + "'\(PhiloxGenerator.version)'; a resumed run would not equal an uninterrupted one, so it is not resumed")
        }
        let hash = try configHash(of: run)
        guard hash == checkpoint.configHash else {
            throw WideNetIOError("\(run.path)/config.json changed since the checkpoint was written; refusing to resume")
        }
        return checkpoint
    }

    public func array(_ name: String, in run: URL) throws -> NPYArray {
        guard let file = arrays[name] else { throw WideNetIOError("the checkpoint in \(run.path) lacks the array \(name)") }
        return try NPY.read(Self.folder(in: run).appendingPathComponent(file))
    }

    /// FNV-1a of config.json's bytes.
    public static func configHash(of run: URL) throws -> String {
        let path = run.appendingPathComponent("config.json").path
        guard let data = FileManager.default.contents(atPath: path) else { throw WideNetIOError("\(path): cannot read") }
        var h: UInt64 = 0xcbf29ce484222325
        for byte in data { h = (h ^ UInt64(byte)) &* 0x100000001b3 }
        return String(h, radix: 16)
    }
}
