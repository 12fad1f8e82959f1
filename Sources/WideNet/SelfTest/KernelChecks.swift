import Foundation

/// One kernel family checked against the CPU reference on fresh random inputs at sizes that are
/// no multiple of any tile, outputs poisoned beforehand. The same checks run in the test suite
/// (on PoCL) and in `widenet selftest` (on whatever device is lent).
public struct KernelCheck: Sendable {
    public let name: String
    let body: @Sendable (OpenCLBackend, CPUBackend, inout CheckRecorder, inout CheckRNG) throws -> Void

    init(_ name: String, _ body: @escaping @Sendable (OpenCLBackend, CPUBackend, inout CheckRecorder, inout CheckRNG) throws -> Void) {
        self.name = name; self.body = body
    }
}

/// What one check found.
public struct KernelCheckResult: Codable, Sendable {
    public var name: String
    public var passed: Bool
    public var comparisons: Int
    /// The largest error as a fraction of its tolerance.
    public var worstRatio: Double
    public var failures: [String]
    public var seconds: Double
    public var seed: UInt64

    /// One line: PASS/FAIL, the name, the worst error against its tolerance, the first failure.
    public var line: String {
        let ratio = worstRatio.isFinite ? String(format: "%.3f", worstRatio) : "inf"
        var s = "\(passed ? "PASS" : "FAIL")  \(name.padding(toLength: 44, withPad: " ", startingAt: 0)) "
            + "worst \(ratio) of tol  \(comparisons) cmp  \(String(format: "%.2f", seconds)) s"
        if let first = failures.first { s += "  — \(first)" }
        return s
    }
}

public enum KernelChecks {
    /// Every check, in the order the self-test runs them.
    public static var all: [KernelCheck] { core + ntk + mfld + resnet + runs }

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) -> KernelCheck? { all.first { $0.name == name } }

    /// Runs one check; an error thrown inside it is a failure of that check, not of the run.
    public static func run(_ check: KernelCheck, on gpu: OpenCLBackend, seed: UInt64? = nil) -> KernelCheckResult {
        var rng = seed.map { CheckRNG(seed: $0) } ?? CheckRNG()
        var recorder = CheckRecorder(seed: rng.seed)
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            try check.body(gpu, CPUBackend(), &recorder, &rng)
        } catch {
            recorder.fail("\(check.name) threw: \(error)")
        }
        if recorder.comparisons == 0 && recorder.failures.isEmpty { recorder.fail("\(check.name) compared nothing") }
        return KernelCheckResult(name: check.name, passed: recorder.passed, comparisons: recorder.comparisons,
                                 worstRatio: recorder.worstRatio, failures: recorder.failures,
                                 seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9, seed: rng.seed)
    }

    /// Runs `body` once in f32 and once in f64 (f64 only where the device has cl_khr_fp64).
    static func bothPrecisions(_ gpu: OpenCLBackend, _ body: (Precision) throws -> Void) throws {
        try body(.f32)
        if gpu.info.supportsF64 { try body(.f64) }
    }
}
