import Foundation
import Testing
@testable import WideNet

/// The width's blocks are fixed by the problem: they tile the width, fit the least allocation
/// OpenCL allows a device, come out the same whatever device runs them, are refused by name where a
/// device cannot hold one, and are recorded in config.json and kept on resume.
struct WidthPartitionTests {
    @Test func defaultBlocksTileTheWidthAndFitEveryDevice() {
        var rng = TestRNG()
        for _ in 0..<200 {
            let width = Int.random(in: 1...50_000_000, using: &rng), perUnit = Int.random(in: 1...(1 << 23), using: &rng)
            let p = WidthPartition.forProblem(width: width, bytesPerUnit: perUnit)
            #expect(p.blockWidth % 32 == 0 && p.blockWidth <= WidthPartition.defaultMaxBlockWidth)
            #expect(p.blockWidth * perUnit <= WidthPartition.defaultBlockBytes || p.blockWidth == 32, "\(p) at \(perUnit) B per unit")
            // As wide as allowed: one grain more would not fit.
            let grain = p.blockWidth >= 256 ? 256 : 32
            #expect(p.blockWidth == WidthPartition.defaultMaxBlockWidth || p.blockWidth == 32
                    || (p.blockWidth + grain) * perUnit > WidthPartition.defaultBlockBytes, "\(p) at \(perUnit) B per unit")
            let ranges = p.ranges
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == width)
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(ranges.dropLast().allSatisfy { $0.count == p.blockWidth } && (ranges.last?.count ?? 0) <= p.blockWidth)
            #expect(p.elementOffset(ranges.count - 1, perUnit: 7) == UInt64(ranges.last!.lowerBound * 7))
        }
    }

    /// The nets take their blocks from the problem alone: a CPU (one huge allocation) and a device
    /// model that allows only 200 MiB at once cut the same width the same way.
    @Test func partitionDoesNotDependOnTheDevice() throws {
        let x = SyntheticData.sphere(n: 9, d: 4, seed: 3).x
        let wide = try NTKTwoLayerNet<Float>(backend: CPUBackend(), x: x.map(Float.init), n: 9, d: 4, width: 3_000_000,
                                             initialisation: .random(seed: 1, kappa: 1))
        #expect(wide.partition == NTKTwoLayerNet<Float>.partition(width: 3_000_000, n: 9, d: 4))
        #expect(wide.blocks.count == 3 && wide.blocks.map(\.shape.width) == [1 << 20, 1 << 20, 3_000_000 - 2 << 20])
        var small = CPUBackend().info
        small.maxAllocBytes = 200 << 20
        try wide.partition.checkFits(small, bytesPerUnit: NTKTwoLayerNet<Float>.blockBytesPerNeuron(n: 9, d: 4), what: "w")
        small.maxAllocBytes = 1 << 20
        #expect(throws: BackendError.self) {
            try wide.partition.checkFits(small, bytesPerUnit: NTKTwoLayerNet<Float>.blockBytesPerNeuron(n: 9, d: 4), what: "w")
        }
    }

    /// Particles drawn block by block are the particles drawn in one block, and the forward pass
    /// adds the blocks in order: blocks of 96 against one block agree to rounding.
    @Test func meanFieldBlocksDrawTheSameParticles() throws {
        let be = CPUBackend()
        let one = try MeanFieldNet<Double>(backend: be, d: 3, particles: 1000, unit: .tanh, unitScale: 1, seed: 5, initScale: 1)
        let cut = try MeanFieldNet<Double>(backend: be, d: 3, particles: 1000, unit: .tanh, unitScale: 1, seed: 5, initScale: 1,
                                           blockParticles: 96)
        #expect(one.blocks.count == 1 && cut.blocks.count == 11)
        #expect(try one.allParticles() == cut.allParticles())
        let x = SyntheticData.sphere(n: 6, d: 3, seed: 2).x
        _ = try one.setBatch(x); _ = try cut.setBatch(x)
        for (p, q) in zip(try one.forward(batch: 6), try cut.forward(batch: 6)) { #expect(abs(p - q) <= 1e-12 * max(abs(p), 1)) }
    }

    /// config.json records the particles' block size; a resumed run keeps it.
    @Test func mfldRecordsItsBlocksAndResumeKeepsThem() throws {
        let dir = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["mfld", "--particles", "700", "--n", "40", "--d", "3", "--steps", "4", "--checkpoint-every", "2",
                                  "--backend", "cpu", "--quiet", "--out", dir.path])
        try #require(r.status == 0, "\(r.stderr)")
        let config = try RecordedConfig(directory: dir)
        #expect(config.resolvedInt("block_particles") == WidthPartition.forProblem(width: 700, bytesPerUnit: 5 * 4).blockWidth)
        #expect(try MFLDConfig(recorded: config).blockParticles == config.resolvedInt("block_particles"))
        // A run whose recorded blocks differ from today's default resumes on its own blocks.
        var text = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        text = text.replacingOccurrences(of: "\"block_particles\": \(config.resolvedInt("block_particles")!)", with: "\"block_particles\": 96")
        try text.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        #expect(try MFLDConfig(recorded: RecordedConfig(directory: dir)).blockParticles == 96)
    }
}
