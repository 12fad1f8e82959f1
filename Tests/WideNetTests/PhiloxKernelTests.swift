import Foundation
import Testing
@testable import WideNet

/// philox.cl's philox_fill against the CPU generator: bit for bit, so a CPU run and an OpenCL run
/// with one seed start from the same weights.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct PhiloxKernelTests {
    @Test(arguments: [RandomDistribution.normal, .uniform, .rademacher])
    func fillIsBitIdenticalToCPU(distribution: RandomDistribution) throws {
        try check(Float.self, distribution)
        try check(Double.self, distribution)
    }

    func check<T: Scalar>(_: T.Type, _ distribution: RandomDistribution) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        let seed = UInt64.random(in: 0...UInt64.max)
        // Odd offsets and counts cut groups of four at both ends; one offset crosses group 2^32.
        for (offset, count) in [(UInt64(13), 10_007), (UInt64(1 << 34) - 5, 21), (UInt64(0), 1)] {
            let stream = UInt32.random(in: 1...7), step = UInt32.random(in: 0...UInt32.max)
            let scale = T(Double.random(in: 0.1...3))
            var got: [[T]] = []
            for be in [gpu as any Backend, cpu] {
                let out = try poisoned(be, count: count, as: T.self)
                try be.fillRandom(out, count: count, offset: offset, seed: seed, stream: stream, step: step,
                                  distribution: distribution, scale: scale)
                got.append(try be.download(out, count: count, as: T.self))
            }
            // Compare raw bytes: bit identity, not closeness (and NaN poison never equals itself).
            let bytes = got.map { v in v.withUnsafeBytes { Array($0) } }
            let firstDiff = (0..<count).first { i in
                let w = MemoryLayout<T>.stride
                return bytes[0][(i * w)..<((i + 1) * w)] != bytes[1][(i * w)..<((i + 1) * w)]
            }
            #expect(firstDiff == nil, "philox_fill \(T.precision) \(distribution) offset \(offset): first difference at element \(firstDiff ?? -1) (seed \(seed))")
            #expect(got[0].allSatisfy { $0.isFinite })
        }
    }
}

