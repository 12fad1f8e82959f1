import Foundation

extension RunDirectory {
    /// The directory of an earlier run, to continue it: metrics.jsonl is cut back to `metricsBytes`
    /// (the rows up to the checkpoint) and appended to from there.
    public convenience init(resuming url: URL, metricsBytes: Int) throws {
        // Claimed before anything is cut: a run still going in this directory is not continued twice.
        let claim = try RunClaim(directory: url, label: url.path)
        let path = url.appendingPathComponent("metrics.jsonl").path
        guard let handle = FileHandle(forUpdatingAtPath: path) else { throw WideNetIOError("\(path): cannot open to continue the run") }
        let size = try handle.seekToEnd()
        guard metricsBytes <= size else {
            throw WideNetIOError("\(path) is shorter (\(size) bytes) than at the checkpoint (\(metricsBytes) bytes)")
        }
        try handle.truncate(atOffset: UInt64(metricsBytes))
        try handle.seekToEnd()
        self.init(existing: url, metrics: handle, claim: claim)
    }

    /// Bytes written to metrics.jsonl so far.
    public func metricsBytes() throws -> Int {
        guard let metrics else {
            let path = file("metrics.jsonl").path
            return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        }
        return Int(try metrics.offset())
    }

    /// The metrics rows written so far, parsed.
    public static func metricsRows(in url: URL) throws -> [JSONObject] {
        let file = url.appendingPathComponent("metrics.jsonl")
        return try RunFiles.rows(in: file, shown: file.path)
    }
}
