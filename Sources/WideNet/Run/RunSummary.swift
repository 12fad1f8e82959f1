import Foundation

/// The fields every summary.json shares, written by the harness around the experiment's own:
/// first what ran and where, last how long it took and the notes.
public struct RunIdentity: Codable, Sendable {
    public var command: String
    /// "complete", "diverged" or "failed" (a step threw: summary.json has the error).
    public var status: String
    public var backend: String?, device: String?
}

public struct RunTimes: Codable, Sendable {
    /// Updates this process made, and the checkpoint step it continued from (nil for a fresh run).
    public var stepsRun: Int
    public var resumedFromStep: Int?
    public var wallSeconds: Double
    public var loopSeconds: Double
    /// Rates over the steps this process ran.
    public var stepsPerSecond: Double?, secondsPerStep: Double?
    public var kernelBuildSeconds: Double?
    /// This process's peak resident memory over the run (in a job: rank 0's; `exchange` has every rank's).
    public var peakResidentBytes: Int?
    public var notes: [String]

    /// In the order summary.json lists them (a synthesised encoding follows the cases).
    enum CodingKeys: String, CodingKey {
        case stepsRun = "steps_run", resumedFromStep = "resumed_from_step", wallSeconds = "wall_seconds"
        case loopSeconds = "loop_seconds", stepsPerSecond = "steps_per_second", secondsPerStep = "seconds_per_step"
        case kernelBuildSeconds = "kernel_build_seconds", peakResidentBytes = "peak_resident_bytes", notes
    }
}

/// What a run split over ranks spent crossing them, as rank 0 saw it (summary.json's "exchange"):
/// per update (the collectives inside a step, the bytes they brought to this rank, and the
/// seconds spent in them, waits for slower ranks included), and over the whole loop with the
/// measurements between steps.
public struct ExchangeSummary: Codable, Sendable {
    public var ranks: Int
    /// Each rank's device and peak resident memory, in rank order.
    public var devices: [String]
    public var peakResidentBytes: [Int]
    public var callsPerStep: Double?, bytesPerStep: Double?, secondsPerStep: Double?
    public var loopCalls: Int, loopBytes: Int, loopSeconds: Double

    init(ranks: Int, devices: [String], peakResidentBytes: [Int], steps: Int, inSteps: ExchangeTraffic, inLoop: ExchangeTraffic) {
        self.ranks = ranks; self.devices = devices; self.peakResidentBytes = peakResidentBytes
        let per = steps > 0 ? 1 / Double(steps) : nil
        callsPerStep = per.map { Double(inSteps.calls) * $0 }
        bytesPerStep = per.map { Double(inSteps.bytes) * $0 }
        secondsPerStep = per.map { inSteps.seconds * $0 }
        loopCalls = inLoop.calls; loopBytes = inLoop.bytes; loopSeconds = inLoop.seconds
    }

    enum CodingKeys: String, CodingKey {
        case ranks, devices, peakResidentBytes = "peak_resident_bytes", callsPerStep = "calls_per_step", bytesPerStep = "bytes_per_step", secondsPerStep = "seconds_per_step"
        case loopCalls = "loop_calls", loopBytes = "loop_bytes", loopSeconds = "loop_seconds"
    }
}

extension ConfigCoding {
    /// A run's summary.json read back as `type` (sweeps read their members' this way).
    public static func summary<S: Decodable>(_ type: S.Type, of run: RunOutcome) throws -> S {
        try decode(type, from: run.summary, shown: run.directory.appendingPathComponent("summary.json").path)
    }
}
