import Foundation

/// A run's checkpoint (ARCHITECTURE.md §4): DIR/checkpoint/state.json and the .npy arrays it names. The
/// arrays carry the step in their names and are written first, state.json last (each file written
/// to a temporary name, flushed and renamed), and only then are the previous step's arrays removed:
/// a run killed at any moment leaves state.json naming a complete set.
///
/// A run split over K ranks keeps each rank's arrays (its own blocks) in checkpoint/rank-r/, the
/// same names in each: every rank writes its set, a barrier, rank 0 renames state.json into place
/// (naming the step and K), a second barrier, and only then does each rank remove its previous
/// set, so the previous generation stays whole until the new one counts.
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
    /// Ranks that wrote it, each its own folder of arrays; absent for a run in one process.
    public var ranks: Int?
    /// File name → digest of its bytes (a run in one process), so that a resume refuses an array that
    /// changed after it was written; absent in checkpoints written before digests were recorded.
    public var digests: [String: String]?

    public init(step: Int, configHash: String, metricsBytes: Int) {
        self.step = step; self.configHash = configHash; self.metricsBytes = metricsBytes
        generator = PhiloxGenerator.version
    }

    public mutating func set(_ name: String, _ value: Double) { numbers[name] = value.bitPattern }
    public func number(_ name: String) -> Double? { numbers[name].map(Double.init(bitPattern:)) }

    public static func folder(in run: URL) -> URL { run.appendingPathComponent("checkpoint") }

    /// Where this process's arrays are: the checkpoint folder alone, its rank's folder in a job.
    static func arrayFolder(in run: URL, ranks: Int?) -> URL {
        guard let ranks, ranks > 1 else { return folder(in: run) }
        return folder(in: run).appendingPathComponent("rank-\(Job.exchange.rank)")
    }

    /// One array for `write`, encoded as .npy in its own precision.
    public static func array<T: BinaryFloatingPoint>(_ name: String, _ values: [T], shape: [Int]) -> (name: String, npy: Data) {
        (name, NPY.encode(values, shape: shape))
    }

    /// Writes the arrays and then state.json into `run`/checkpoint; in a job of ranks every rank
    /// calls it at the same step (it meets the others twice) and `run` is rank 0's directory.
    public mutating func write(arrays named: [(name: String, npy: Data)], to run: URL) throws {
        let job = Job.exchange
        ranks = job.size > 1 ? job.size : nil
        let folder = Self.folder(in: run), own = Self.arrayFolder(in: run, ranks: ranks)
        do { try FileManager.default.createDirectory(at: own, withIntermediateDirectories: true) } catch {
            throw WideNetIOError("cannot create \(own.path): \(error.localizedDescription)")
        }
        digests = job.size > 1 ? nil : [:]
        for a in named {
            let file = "\(a.name)-\(step).npy"
            try AtomicFile.write(a.npy, to: own.appendingPathComponent(file))
            arrays[a.name] = file
            digests?[file] = Self.digest(a.npy)
        }
        try job.barrier()   // every rank's set is complete
        if job.rank == 0 {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(self), to: folder.appendingPathComponent("state.json"))
            Log.logger("run").info("checkpoint after step \(step) in \(folder.path)")
        }
        try job.barrier()   // state.json names the new sets: the old ones may go
        let keep = Set(arrays.values).union(own == folder ? ["state.json"] : [])
        for name in (try? FileManager.default.contentsOfDirectory(atPath: own.path)) ?? [] where !keep.contains(name) {
            try? FileManager.default.removeItem(at: own.appendingPathComponent(name))
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
        let written = checkpoint.ranks ?? 1
        guard written == Job.ranks else {
            let how = written == 1 ? "without a launcher" : "with `mpirun -np \(written)` (or srun with \(written) tasks)"
            throw WideNetIOError("\(state.path): written by \(written) rank\(written == 1 ? "" : "s"), but this job has \(Job.ranks); "
                + "each rank's checkpoint holds its own blocks, so continue it \(how)")
        }
        let hash = try configHash(of: run)
        guard hash == checkpoint.configHash else {
            throw WideNetIOError("\(run.path)/config.json changed since the checkpoint was written; refusing to resume")
        }
        return checkpoint
    }

    /// The array `name`, refused unless it is the one written at this checkpoint's step, byte for byte.
    public func array(_ name: String, in run: URL) throws -> NPYArray {
        guard let file = arrays[name] else { throw WideNetIOError("the checkpoint in \(run.path) lacks the array \(name)") }
        guard file == "\(name)-\(step).npy" else {
            throw WideNetIOError("the checkpoint in \(run.path) is at step \(step) but names \(file) for \(name); state.json was edited, refusing to resume")
        }
        let url = Self.arrayFolder(in: run, ranks: ranks).appendingPathComponent(file)
        if let want = digests?[file] {
            guard let data = FileManager.default.contents(atPath: url.path) else { throw WideNetIOError("\(url.path): cannot read") }
            guard Self.digest(data) == want else {
                throw WideNetIOError("\(url.path) changed after the checkpoint was written (its digest differs from state.json's); refusing to resume")
            }
            return try NPY.parse(data, name: url.path)
        }
        return try NPY.read(url)
    }

    /// FNV-1a over 8-byte words (then the tail's bytes) and the length: cheap next to writing the bytes.
    static func digest(_ data: Data) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let words = raw.count / 8
            for i in 0..<words { h = (h ^ raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) &* 0x100000001b3 }
            for i in (8 * words)..<raw.count { h = (h ^ UInt64(raw[i])) &* 0x100000001b3 }
        }
        h = (h ^ UInt64(data.count)) &* 0x100000001b3
        return String(h, radix: 16)
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
