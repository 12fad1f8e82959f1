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

/// The NTK tuner: every accepted candidate reproduced variant 1, the best pair is the fastest of
/// each pass, and the stored entry is what the backend then uses.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct NTKTunerTests {
    @Test func tunerKeepsTheFastestCheckedTilesAndStoresThem() throws {
        let gpu = try TestDevices.backend()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-tuning-\(UUID().uuidString).json")
        setenv("WIDENET_NTK_TUNING_FILE", file.path, 1)
        defer { unsetenv("WIDENET_NTK_TUNING_FILE") }
        let (best, trials) = try NTKTuner.tune(gpu, n: 37, d: 19, width: 1000, precision: .f32, repeats: 1,
                                               forward: [(64, 32, 16, 4, 4), (32, 8, 4, 2, 2)],
                                               backward: [(64, 32, 32, 4, 4), (32, 8, 4, 2, 2)])
        #expect(trials.count == 4 && trials.allSatisfy(\.accepted), "\(trials.map { $0.note ?? "ok" })")
        let fastest = { (pass: String) in trials.filter { $0.pass == pass }.min { $0.seconds < $1.seconds }!.config }
        #expect(best.tm == fastest("forward").tm && best.tn == fastest("forward").tn)
        #expect(best.bm == fastest("backward").bm && best.bd == fastest("backward").bd)
        #expect(NTKTuningDatabase.config(for: gpu.cl.device.info, precision: .f32, file: file) == best)
        // A tuned entry that no longer fits the device is ignored for the vendor default.
        var huge = best
        huge.tm = 4096
        try NTKTuningDatabase.store(huge, for: gpu.cl.device.info, precision: .f32, file: file)
        #expect(NTKTuningDatabase.config(for: gpu.cl.device.info, precision: .f32, file: file) != huge)
    }
}
