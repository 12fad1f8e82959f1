import Foundation

/// The mean-field two-layer network f(x) = (1/N) Σ_i h(θ_i, x) of N particles θ_i = (w_i, b_i, a_i),
/// stored as blocks of particles (rows of D = d + 2 values) like the NTK net's width; in a job of
/// ranks each process holds its share of the blocks and the exchange brings their sums to every rank.
public final class MeanFieldNet<T: Scalar> {
    public let backend: any Backend
    public let exchange: any WidthExchange
    public let d: Int, particles: Int
    public let unit: ParticleUnit
    public let unitScale: Double
    public let partition: WidthPartition
    public private(set) var blocks: [(start: Int, count: Int, buffer: any DeviceBuffer)] = []
    private var batchX: (any DeviceBuffer, Int)?
    private var coefficients: (any DeviceBuffer, Int)?
    private var partial: (any DeviceBuffer, Int)?

    public var coordinates: Int { d + 2 }

    /// The blocks of `particles` (--block-particles, else the default for their size): the same on every device.
    public static func partition(particles: Int, coordinates: Int, blockParticles: Int?) -> WidthPartition {
        WidthPartition.forProblem(width: particles, bytesPerUnit: coordinates * MemoryLayout<T>.stride, requested: blockParticles)
    }

    /// Particles drawn from N(0, scale² I) (Philox stream `particles` of `seed`), or given: all N×D,
    /// or in a job of ranks this rank's share only (its particles in order, as ownParticles() returns).
    public init(backend: any Backend, d: Int, particles: Int, unit: ParticleUnit, unitScale: Double,
                seed: UInt64, initScale: Double, initial: [T]? = nil, blockParticles: Int? = nil,
                exchange: any WidthExchange = SingleProcess()) throws {
        self.backend = backend
        self.exchange = exchange
        self.d = d; self.particles = particles; self.unit = unit; self.unitScale = unitScale
        let D = d + 2
        let perParticle = D * MemoryLayout<T>.stride
        partition = Self.partition(particles: particles, coordinates: D, blockParticles: blockParticles)
        try partition.checkFits(backend.info, bytesPerUnit: perParticle, what: "\(particles) particles")
        let own = partition.units(rank: exchange.rank, of: exchange.size)
        // Where this rank's particles start in `initial`: 0 when only they were given.
        let given = initial.map { $0.count == particles * D ? 0 : own.lowerBound }
        precondition(initial.map { $0.count == particles * D || $0.count == own.count * D } ?? true,
                     "initial particles must be N×D or this rank's share")
        for index in partition.blocks(rank: exchange.rank, of: exchange.size) {
            let range = partition.range(index)
            let start = range.lowerBound, count = range.count
            let b = try backend.allocate(bytes: count * D * MemoryLayout<T>.stride)
            if let initial, let given {
                let from = start - given
                try backend.upload(Array(initial[(from * D)..<((from + count) * D)]), to: b)
            } else {
                try backend.fillRandom(b, count: count * D, offset: UInt64(start * D), seed: seed,
                                       stream: RandomStream.particles.rawValue, step: 0, distribution: .normal, scale: T(initScale))
            }
            blocks.append((start, count, b))
        }
    }

    private func reusable(_ slot: inout (any DeviceBuffer, Int)?, count: Int) throws -> any DeviceBuffer {
        if let (b, c) = slot, c >= count { return b }
        let b = try backend.allocate(bytes: max(count, 1) * MemoryLayout<T>.stride)
        slot = (b, count)
        return b
    }

    /// Uploads a batch of inputs (B×d) for the next forward passes and updates.
    public func setBatch(_ x: [Double]) throws -> Int {
        let count = x.count / d
        let b = try reusable(&batchX, count: x.count)
        try backend.upload(x.map { T($0) }, to: b)
        return count
    }

    /// f(x_j) for the current batch (B values), blocks summed in order.
    public func forward(batch count: Int) throws -> [Double] {
        guard let (x, _) = batchX else { return [] }
        let out = try reusable(&partial, count: count)
        let partials = try blocks.map { block -> [Double] in
            try backend.mfldForward(MFLDShape(batch: count, d: d, particles: block.count), unit: unit,
                                    unitScale: T(unitScale), x: x, particles: block.buffer, partialF: out)
            return try backend.download(out, count: count, as: T.self).map(Double.init)
        }
        let all = try exchange.blocksInOrder(partials, per: count, partition: partition)
        return WidthPartition.sumInBlockOrder(all, count: count).map { $0 / Double(particles) }
    }

    /// f on arbitrary inputs (n×d), in batches that keep the upload small.
    public func predict(_ x: [Double]) throws -> [Double] {
        var out: [Double] = []
        let rows = x.count / d, chunk = 4096
        var r = 0
        while r < rows {
            let count = try setBatch(Array(x[(r * d)..<(min(rows, r + chunk) * d)]))
            out += try forward(batch: count)
            r += chunk
        }
        return out
    }

    /// One noisy gradient step on the current batch with loss derivatives ℓ'_j; `extra` adds a
    /// precomputed gradient per block (the SVRG correction).
    public func step(lossDerivatives: [Double], learningRate: Double, lambdaEntropy: Double, lambdaL2: Double,
                     seed: UInt64, step: Int, dataTerm: Bool = true, extra: [any DeviceBuffer]? = nil) throws {
        let count = lossDerivatives.count
        let c = try reusable(&coefficients, count: count)
        try backend.upload(lossDerivatives.map { T($0 / Double(max(count, 1))) }, to: c)
        let x = try batchX.map(\.0) ?? backend.allocate(bytes: 4)
        for (index, block) in blocks.enumerated() {
            let params = MFLDStepParameters(learningRate: learningRate, decay: 2 * lambdaL2,
                                            noise: (2 * lambdaEntropy * learningRate).squareRoot(), dataTerm: dataTerm,
                                            seed: seed, step: UInt32(truncatingIfNeeded: step),
                                            offset: UInt64(block.start * coordinates), unitScale: unitScale)
            try backend.mfldUpdate(MFLDShape(batch: dataTerm ? count : 0, d: d, particles: block.count), unit: unit,
                                   x: x, coefficients: c, particles: block.buffer, extraGradient: extra?[index],
                                   parameters: params, as: T.self)
        }
    }

    // MARK: SVRG

    /// The snapshot of stochastic variance-reduced gradients: particles θ̃, their full-data gradient
    /// G̃ = (1/n) Σ_j ℓ'(f̃(x_j), y_j) ∇h(θ̃, x_j), and f̃ on every sample.
    public struct Snapshot {
        let particles: [any DeviceBuffer], fullGradient: [any DeviceBuffer], work: [any DeviceBuffer]
        public let f: [Double]
    }

    /// Takes the snapshot at the current particles over the full data (x: n×d, derivatives ℓ'(f̃_j, y_j)
    /// computed by the caller from `predict`).
    public func snapshot(x: [Double], f: [Double], derivatives: [Double], reusing old: Snapshot?) throws -> Snapshot {
        let n = derivatives.count
        let count = try setBatch(x)
        guard let (xb, _) = batchX else { throw BackendError("SVRG snapshot without its data") }
        let c = try backend.allocate(bytes: max(n, 1) * MemoryLayout<T>.stride)
        try backend.upload(derivatives.map { T($0 / Double(max(n, 1))) }, to: c)
        var snaps: [any DeviceBuffer] = [], grads: [any DeviceBuffer] = [], work: [any DeviceBuffer] = []
        for (index, block) in blocks.enumerated() {
            let bytes = block.count * coordinates * MemoryLayout<T>.stride
            let snap = try old?.particles[index] ?? backend.allocate(bytes: bytes)
            let grad = try old?.fullGradient[index] ?? backend.allocate(bytes: bytes)
            try backend.copy(block.buffer, to: snap, bytes: bytes)
            try backend.mfldGradient(MFLDShape(batch: count, d: d, particles: block.count), unit: unit, unitScale: T(unitScale),
                                     x: xb, coefficients: c, particles: snap, gradient: grad, scale: T(1), accumulate: false)
            snaps.append(snap); grads.append(grad)
            work.append(try old?.work[index] ?? backend.allocate(bytes: bytes))
        }
        return Snapshot(particles: snaps, fullGradient: grads, work: work, f: f)
    }

    /// The SVRG correction for the current batch: G̃ − (1/B) Σ_{j∈B} ℓ'(f̃(x_j), y_j) ∇h(θ̃, x_j), per
    /// block; pass it as `extra` to `step` with the batch's current derivatives.
    public func correction(_ snap: Snapshot, snapshotDerivatives: [Double]) throws -> [any DeviceBuffer] {
        let b = snapshotDerivatives.count
        let c = try reusable(&coefficients, count: b)
        try backend.upload(snapshotDerivatives.map { T($0 / Double(max(b, 1))) }, to: c)
        guard let (x, _) = batchX else { throw BackendError("SVRG correction before a batch was set") }
        for (index, block) in blocks.enumerated() {
            let bytes = block.count * coordinates * MemoryLayout<T>.stride
            try backend.copy(snap.fullGradient[index], to: snap.work[index], bytes: bytes)
            try backend.mfldGradient(MFLDShape(batch: b, d: d, particles: block.count), unit: unit, unitScale: T(unitScale),
                                     x: x, coefficients: c, particles: snap.particles[index], gradient: snap.work[index],
                                     scale: T(-1), accumulate: true)
        }
        return snap.work
    }

    /// E‖θ‖² over the particles.
    public func meanSquaredNorm() throws -> Double {
        let own = try blocks.map { [try backend.sumSquares($0.buffer, count: $0.count * coordinates, as: T.self)] }
        return try exchange.blocksInOrder(own, per: 1, partition: partition).reduce(0.0) { $0 + $1[0] } / Double(particles)
    }

    /// The first `count` particles (N×D rows): an unbiased sample, since particles are exchangeable.
    public func sample(_ count: Int) throws -> [Double] {
        guard exchange.size > 1 else {
            var out: [Double] = []
            for block in blocks where out.count < count * coordinates {
                let take = min(block.count, count - out.count / coordinates)
                out += try backend.download(block.buffer, count: take * coordinates, as: T.self).map(Double.init)
            }
            return out
        }
        // Each block's first min(count, block width) particles, every rank's, then the first `count` in order.
        let per = min(count, partition.blockWidth) * coordinates
        let own = try blocks.map { block -> [Double] in
            let take = min(block.count * coordinates, per)
            return try backend.download(block.buffer, count: take, as: T.self).map(Double.init) + [Double](repeating: 0, count: per - take)
        }
        var out: [Double] = []
        for (k, values) in try exchange.blocksInOrder(own, per: per, partition: partition).enumerated() where out.count < count * coordinates {
            let take = min(partition.range(k).count * coordinates, per, count * coordinates - out.count)
            out += values[0..<take]
        }
        return out
    }

    /// The particles this process holds: all alone, its blocks' in a job of ranks.
    public var ownUnits: Range<Int> { partition.units(rank: exchange.rank, of: exchange.size) }

    /// This process's particles in order (ownUnits.count×D), without gathering the others'.
    public func ownParticles() throws -> [T] {
        try blocks.flatMap { try backend.download($0.buffer, count: $0.count * coordinates, as: T.self) }
    }

    /// Every particle, N×D (every rank's blocks, on every rank).
    public func allParticles() throws -> [T] {
        let full = partition.blockWidth * coordinates
        let own = try blocks.map { block -> [T] in
            try backend.download(block.buffer, count: block.count * coordinates, as: T.self)
                + [T](repeating: 0, count: full - block.count * coordinates)
        }
        var out: [T] = []
        for (k, values) in try exchange.blocksInOrder(own, per: full, partition: partition).enumerated() {
            out += values[0..<(partition.range(k).count * coordinates)]
        }
        return out
    }
}
