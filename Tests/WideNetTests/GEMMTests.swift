import Foundation
import Testing
@testable import WideNet

/// gemm.cl against OpenBLAS, every transpose case, sizes that are not multiples of the tile (16).
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct GEMMTests {
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (17, 33, 5), (45, 19, 70), (64, 3, 129)]

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
                let cg: any DeviceBuffer = beta == 0 ? try poisoned(gpu, count: m * n, as: T.self) : try buffer(gpu, c0)
                try gpu.gemm(s, try buffer(gpu, a), try buffer(gpu, b), cg, alpha: alpha, beta: beta)
                let cc = try buffer(cpu, c0)
                try cpu.gemm(s, try buffer(cpu, a), try buffer(cpu, b), cc, alpha: alpha, beta: beta)
                let tol = reductionTolerance(T.self, length: k)
                expectClose(try gpu.download(cg, count: m * n, as: T.self), try cpu.download(cc, count: m * n, as: T.self),
                            abs: tol * Double(k).squareRoot(), rel: tol,
                            "gemm \(T.precision) tA=\(transA) tB=\(transB) \(m)x\(n)x\(k) β=\(beta)", seed: rng.seed)
            }
        }
    }
}
