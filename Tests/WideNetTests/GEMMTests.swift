import Foundation
import Testing
@testable import WideNet

/// gemm.cl against OpenBLAS: both variants at several tile sizes, every transpose case, sizes that
/// are not multiples of any tile.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct GEMMTests {
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (17, 33, 5), (45, 19, 70), (64, 3, 129), (130, 67, 33)]
    static let configs: [GEMMKernelConfig] = [.reference, .tiled(64, 64, 16, 4, 4), .tiled(32, 32, 8, 2, 2),
                                              .tiled(128, 64, 16, 8, 4)]

    @Test(arguments: [false, true], [false, true])
    func gemmMatchesOpenBLAS(transA: Bool, transB: Bool) throws {
        try check(Float.self, transA: transA, transB: transB)
        try check(Double.self, transA: transA, transB: transB)
    }

    func check<T: Scalar>(_: T.Type, transA: Bool, transB: Bool) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        for (m, n, k) in GEMMTests.shapes {
            let s = GEMMShape(transA: transA, transB: transB, m: m, n: n, k: k)
            let a: [T] = rng.normals(m * k), b: [T] = rng.normals(k * n), c0: [T] = rng.normals(m * n)
            for (alpha, beta) in [(T(1), T(0)), (T(-0.75), T(0.5))] {
                // beta = 0 must ignore C entirely, so the device's C starts poisoned with NaN.
                let cc = try buffer(cpu, c0)
                try cpu.gemm(s, try buffer(cpu, a), try buffer(cpu, b), cc, alpha: alpha, beta: beta)
                let ref = try cpu.download(cc, count: m * n, as: T.self)
                let tol = reductionTolerance(T.self, length: k)
                for config in GEMMTests.configs {
                    let cg: any DeviceBuffer = beta == 0 ? try poisoned(gpu, count: m * n, as: T.self) : try buffer(gpu, c0)
                    try gpu.gemm(s, try buffer(gpu, a), try buffer(gpu, b), cg, alpha: alpha, beta: beta, config: config)
                    expectClose(try gpu.download(cg, count: m * n, as: T.self), ref, abs: tol * Double(k).squareRoot(), rel: tol,
                                "gemm \(config) \(T.precision) tA=\(transA) tB=\(transB) \(m)x\(n)x\(k) β=\(beta)",
                                seed: rng.seed)
                }
            }
        }
    }
}

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
