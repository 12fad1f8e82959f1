import Foundation
import Testing
@testable import WideNet

/// Every kernel against the CPU reference, through the checks `widenet selftest` runs (the
/// SelfTest folder of the library): fresh random inputs each run at sizes that are no multiple of
/// any tile, outputs poisoned beforehand, tolerances stated per precision. Each recorded failure
/// names the value, the reference and the seed.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct KernelCheckTests {
    @Test(arguments: KernelChecks.names)
    func kernelMatchesTheCPUReference(name: String) throws {
        let gpu = try TestDevices.backend()
        let check = try #require(KernelChecks.named(name))
        let result = KernelChecks.run(check, on: gpu)
        for failure in result.failures.prefix(20) { Issue.record(Comment(rawValue: failure)) }
        #expect(result.passed, "\(result.line)")
        #expect(result.comparisons > 0)
    }

    /// A check that compares nothing fails, and one failure fails the check.
    @Test func recorderFailsWhatItShould() {
        var r = CheckRecorder(seed: 1)
        #expect(!r.passed)
        r.close([1.0, 2.0], [1.0, 2.0], abs: 0, rel: 0, "same")
        #expect(r.passed)
        r.close([Float.nan], [0], abs: 1, rel: 1, "poison")
        #expect(!r.passed && r.failures.count == 1)
        var q = CheckRecorder(seed: 2)
        q.identical([Float(0)], [Float(-0.0)], "signed zero")
        #expect(!q.passed)
    }
}
