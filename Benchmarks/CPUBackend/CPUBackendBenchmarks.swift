// package-benchmark suite for the CPU backend: `swift package benchmark --target CPUBackendBenchmarks`.
// The GEMM pair measures the backend's matrix product against a direct cblas_sgemm call on the
// same buffers (the claim: the backend adds nothing to OpenBLAS); the NTK step and the Gram are
// the operations `widenet train` spends its time in.
import Benchmark
import CBLAS
import WideNet

/// Inputs shared by the benchmarks, made once.
final class Fixture: @unchecked Sendable {
    let cpu = CPUBackend()
    let size = 1024
    let a: any DeviceBuffer, b: any DeviceBuffer, c: any DeviceBuffer
    let rawA: [Float], rawB: [Float]
    var rawC: [Float]
    let net: NTKTwoLayerNet<Float>
    let y: [Double]
    var u: [Double]

    init() throws {
        let gen = PhiloxGenerator(seed: 1)
        rawA = gen.array(count: size * size, stream: 1, step: 0, distribution: .normal, scale: Float(1))
        rawB = gen.array(count: size * size, stream: 2, step: 0, distribution: .normal, scale: Float(1))
        rawC = [Float](repeating: 0, count: size * size)
        a = try cpu.allocate(bytes: size * size * 4)
        b = try cpu.allocate(bytes: size * size * 4)
        c = try cpu.allocate(bytes: size * size * 4)
        try cpu.upload(rawA, to: a)
        try cpu.upload(rawB, to: b)
        let data = SyntheticData.sphere(n: 256, d: 64, seed: 1)
        y = data.y
        net = try NTKTwoLayerNet<Float>(backend: cpu, x: data.x.map { Float($0) }, n: 256, d: 64, width: 65536,
                                        initialisation: .random(seed: 1, kappa: 1))
        u = try net.forward()
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(5), maxIterations: 50)
    guard let f = try? Fixture() else { fatalError("benchmark fixture could not be built") }

    Benchmark("gemm 1024³ f32 (CPUBackend)") { benchmark in
        for _ in benchmark.scaledIterations {
            try f.cpu.gemm(GEMMShape(m: f.size, n: f.size, k: f.size), f.a, f.b, f.c, alpha: Float(1), beta: Float(0))
        }
    }

    Benchmark("gemm 1024³ f32 (cblas_sgemm direct)") { benchmark in
        for _ in benchmark.scaledIterations {
            f.rawC.withUnsafeMutableBufferPointer { cp in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(f.size), Int32(f.size), Int32(f.size), 1,
                            f.rawA, Int32(f.size), f.rawB, Int32(f.size), 0, cp.baseAddress, Int32(f.size))
            }
        }
    }

    Benchmark("ntk step n=256 d=64 m=65536 f32") { benchmark in
        for _ in benchmark.scaledIterations {
            try f.net.update(residual: zip(f.u, f.y).map { $0 - $1 }, learningRate: 1e-3)
            f.u = try f.net.forward()
        }
    }

    Benchmark("mask gram n=256 m=65536") { benchmark in
        let xx = [Double](repeating: 1, count: 256 * 256)
        for _ in benchmark.scaledIterations { blackHole(try f.net.empiricalGram(inputGram: xx)) }
    }

    Benchmark("philox normal fill 2^20 f32") { benchmark in
        var out = [Float](repeating: 0, count: 1 << 20)
        let gen = PhiloxGenerator(seed: 3)
        for _ in benchmark.scaledIterations {
            out.withUnsafeMutableBufferPointer { gen.fill($0, offset: 0, stream: 3, step: 0, distribution: .normal, scale: 1) }
            blackHole(out[0])
        }
    }
}
