import Foundation
import Testing
@testable import WideNet

/// The tuner: candidates checked against the reference, the fastest cached per device and driver.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct GEMMTunerTests {
    @Test func tunerRanksAcceptedCandidatesAndTheCacheRoundTrips() throws {
        let gpu = try TestDevices.backend()
        let trials = try GEMMTuner.tune(gpu, size: 67, precision: .f32, repeats: 1, store: false)
        #expect(trials.contains { $0.config == .reference && $0.accepted })
        let rates = trials.filter(\.accepted).map(\.gflops)
        #expect(rates == rates.sorted(by: >))
        #expect(trials.allSatisfy { !$0.accepted || $0.maxRelativeError < 1e-4 })

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tuning-\(UUID().uuidString).json")
        let info = gpu.cl.device.info
        let chosen = GEMMKernelConfig.tiled(32, 32, 8, 2, 2)
        try GEMMTuningDatabase.store(chosen, for: info, precision: .f32, file: file)
        #expect(GEMMTuningDatabase.config(for: info, precision: .f32, file: file) == chosen)
        // Another precision of the same device keeps its default.
        #expect(GEMMTuningDatabase.cached(file: file).count == 1)
    }
}
