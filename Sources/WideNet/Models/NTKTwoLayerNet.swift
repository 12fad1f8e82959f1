import Foundation

/// The two-layer ReLU net of Du et al. in the NTK parameterisation,
/// f(x) = (1/√m) Σ_r a_r relu(w_rᵀx), stored as blocks of neurons (ARCHITECTURE.md §2):
/// each block has its own buffers no larger than the device's max allocation, the forward pass
/// sums the blocks' partial u in block order, and the update touches each block in place. In a
/// job of ranks each process holds only its share of the blocks (WidthPartition.blocks(rank:of:))
/// and the exchange brings every block's partials to every rank, so the sums are the same bits
/// for any number of ranks.
public final class NTKTwoLayerNet<T: Scalar> {
    public let backend: any Backend
    public let exchange: any WidthExchange
    /// f(x) = outputScale · Σ_r a_r relu(w_rᵀx).
    public let outputScale: Double
    public let n: Int, d: Int, width: Int
    /// The samples the next forward pass and update use: n, or fewer after setSamples (SGD's batches
    /// and a test set pass through the same buffers, n being their capacity).
    public private(set) var samples: Int
    public let trainOutput: Bool
    let x: any DeviceBuffer
    let residual: any DeviceBuffer
    public let partition: WidthPartition
    public private(set) var blocks: [Block] = []
    /// w(0) of each block for a ridge toward it: the stored copy, or Philox's regenerated once on first use.
    private var anchors: [any DeviceBuffer]? = nil

    public final class Block {
        public let start: Int
        public let shape: NTKBlockShape
        let w: any DeviceBuffer, a: any DeviceBuffer
        /// The initial hidden weights, for the movement diagnostic: stored only when they were
        /// given as arrays; Philox-initialised weights are regenerated when needed.
        var initial: InitialWeights
        let masks: any DeviceBuffer, masks0: any DeviceBuffer, partialU: any DeviceBuffer
        init(start: Int, shape: NTKBlockShape, backend: any Backend, initialisation: Initialisation) throws {
            self.start = start
            self.shape = shape
            let wBytes = shape.width * shape.d * MemoryLayout<T>.stride
            w = try backend.allocate(bytes: wBytes)
            switch initialisation {
            case .random(let seed, let kappa):
                initial = .philox(seed: seed, offset: UInt64(start * shape.d), scale: kappa)
            case .arrays:
                initial = .stored(try backend.allocate(bytes: wBytes))
            }
            a = try backend.allocate(bytes: shape.width * MemoryLayout<T>.stride)
            masks = try backend.allocate(bytes: shape.maskWords * 4)
            masks0 = try backend.allocate(bytes: shape.maskWords * 4)
            partialU = try backend.allocate(bytes: shape.n * MemoryLayout<T>.stride)
        }
    }

    /// Where the initial weights come from.
    public enum Initialisation {
        /// w_r ~ N(0, κ² I), a_r uniform on {−1, +1}, from Philox streams of `seed`.
        case random(seed: UInt64, kappa: Double)
        /// Given arrays: w is m×d, a is m (row-major).
        case arrays(w: [T], a: [T])
    }

    /// Device bytes per neuron: hidden and output weights, current and initial masks, plus the
    /// initial hidden weights when they must be stored (given as arrays). The memory preflight
    /// multiplies this by the width.
    public static func bytesPerNeuron(n: Int, d: Int, storesInitialWeights: Bool) -> Double {
        let s = Double(MemoryLayout<T>.stride)
        return Double(d) * s * (storesInitialWeights ? 2 : 1) + s + 2 * Double(n) / 8
    }

    /// Refuses a width whose parameters cannot fit on the device, naming the largest one that does.
    /// In a job of ranks `share` is the neurons this rank holds, and the figure is the rank's.
    /// `extraBytesPerNeuron`: what a run keeps beside the net per neuron (an average of iterates).
    public static func preflight(width: Int, share: Int? = nil, n: Int, d: Int, storesInitialWeights stored: Bool,
                                 on info: BackendInfo, extraBytesPerNeuron: Double = 0) throws {
        let perNeuron = bytesPerNeuron(n: n, d: d, storesInitialWeights: stored) + extraBytesPerNeuron
        // Scratch: the forward partials of one block and small reductions; 10 % headroom on a GPU.
        let budget = Double(info.globalMemBytes) * (info.isGPU ? 0.9 : 0.7)
        let need = perNeuron * Double(share ?? width)
        if !(need <= budget) {
            let gib = { (b: Double) in String(format: "%.2f GiB", b / 1_073_741_824) }
            let what = share.map { "this rank's \($0) neurons of width \(width) need" } ?? "width \(width) needs"
            throw BackendError.resources("\(what) \(gib(need)) for weights and masks but \(info.deviceName) offers "
                + "\(gib(budget)); " + (share == nil ? "the largest width that fits is" : "a rank fits at most") + " \(Int(budget / perNeuron))"
                + MemoryPreflight.splitAdvice(units: width, perDevice: Int(budget / perNeuron)))
        }
    }

    /// The largest buffer of a block per neuron: its hidden weights (d values) or its masks (n bits).
    public static func blockBytesPerNeuron(n: Int, d: Int) -> Int { max(d * MemoryLayout<T>.stride, (n + 7) / 8) }

    /// The default partition of the width (WidthPartition.forProblem): the same on every device.
    public static func partition(width: Int, n: Int, d: Int) -> WidthPartition {
        WidthPartition.forProblem(width: width, bytesPerUnit: blockBytesPerNeuron(n: n, d: d))
    }

    /// `outputScale`: the factor before Σ_r (1/√m, the NTK's, by default; 1/m in the mean-field scaling).
    public init(backend: any Backend, x xValues: [T], n: Int, d: Int, width: Int, initialisation: Initialisation,
                trainOutput: Bool = false, blockWidth requestedBlock: Int? = nil, outputScale: Double? = nil,
                exchange: any WidthExchange = SingleProcess()) throws {
        self.outputScale = outputScale ?? 1 / Double(width).squareRoot()
        precondition(xValues.count == n * d, "x must be n×d")
        self.backend = backend
        self.exchange = exchange
        self.n = n; self.d = d; self.width = width; samples = n
        self.trainOutput = trainOutput
        x = try backend.allocate(bytes: n * d * MemoryLayout<T>.stride)
        try backend.upload(xValues, to: x)
        residual = try backend.allocate(bytes: n * MemoryLayout<T>.stride)
        partition = WidthPartition.forProblem(width: width, bytesPerUnit: NTKTwoLayerNet.blockBytesPerNeuron(n: n, d: d), requested: requestedBlock)
        try partition.checkFits(backend.info, bytesPerUnit: NTKTwoLayerNet.blockBytesPerNeuron(n: n, d: d), what: "width \(width)")
        for b in partition.blocks(rank: exchange.rank, of: exchange.size) {
            let range = partition.range(b)
            let start = range.lowerBound, w = range.count
            let block = try Block(start: start, shape: NTKBlockShape(n: n, d: d, width: w), backend: backend,
                                  initialisation: initialisation)
            switch initialisation {
            case .random(let seed, let kappa):
                // Element indices continue across blocks, so a block is generated alone and the
                // weights do not depend on the block size.
                try backend.fillRandom(block.w, count: w * d, offset: UInt64(start * d), seed: seed,
                                       stream: RandomStream.hiddenWeights.rawValue, step: 0,
                                       distribution: .normal, scale: T(kappa))
                try backend.fillRandom(block.a, count: w, offset: UInt64(start), seed: seed,
                                       stream: RandomStream.outputWeights.rawValue, step: 0,
                                       distribution: .rademacher, scale: T(1))
            case .arrays(let wAll, let aAll):
                precondition(wAll.count == width * d && aAll.count == width, "initial arrays must be m×d and m")
                try backend.upload(Array(wAll[(start * d)..<((start + w) * d)]), to: block.w)
                try backend.upload(Array(aAll[start..<(start + w)]), to: block.a)
            }
            if case .stored(let w0) = block.initial {
                try backend.copy(block.w, to: w0, bytes: w * d * MemoryLayout<T>.stride)
            }
            blocks.append(block)
        }
    }

    /// u = f(X) for the current weights (recomputing the masks); the first call also records the
    /// initial masks.
    public func forward() throws -> [Double] { try forward(hidden: blocks.map(\.w), output: blocks.map(\.a)) }

    /// u = f(X) with other weights in the blocks' places (an average of iterates: `hidden[b]`, `output[b]`
    /// for this process's block b); the masks become theirs until the next forward pass.
    public func forward(hidden: [any DeviceBuffer], output: [any DeviceBuffer]) throws -> [Double] {
        precondition(hidden.count == blocks.count && output.count == blocks.count, "one buffer per block")
        let count = samples
        let partials = try blocks.indices.map { k -> [Double] in
            let block = blocks[k]
            try backend.ntkForward(shape(block), x: x, w: hidden[k], a: output[k], masks: block.masks,
                                   partialU: block.partialU, as: T.self)
            return try backend.download(block.partialU, count: count, as: T.self).map(Double.init)
        }
        let s = outputScale
        let all = try exchange.blocksInOrder(partials, per: count, partition: partition)
        return WidthPartition.sumInBlockOrder(all, count: count).map { $0 * s }
    }

    /// Puts `count` ≤ n new input rows (count×d) in place of X: the next forward pass and update use them.
    public func setSamples(_ rows: [T], count: Int) throws {
        precondition(count >= 1 && count <= n && rows.count == count * d, "setSamples: count×d rows, count ≤ n")
        try backend.upload(rows, to: x)
        samples = count
    }

    /// A block's shape at the current sample count.
    func shape(_ block: Block) -> NTKBlockShape { NTKBlockShape(n: samples, d: d, width: block.shape.width) }

    /// Records the current masks as the initial ones (after the first forward pass).
    public func recordInitialMasks() throws {
        for b in blocks { try backend.copy(b.masks, to: b.masks0, bytes: b.shape.maskWords * 4) }
    }

    /// One GD step from the masks of the last forward pass and the residual e = u − y (one per sample).
    public func update(residual e: [Double], learningRate: Double) throws {
        precondition(e.count == samples, "one residual per sample")
        try backend.upload(e.map { T($0) }, to: residual)
        let scale = T(learningRate * outputScale)
        for b in blocks {
            try backend.ntkBackwardUpdate(shape(b), x: x, w: b.w, a: b.a, masks: b.masks, residual: residual,
                                          scale: scale, trainOutput: trainOutput)
        }
    }

    /// w ← w + c·(w(0) − w) in every block: a ridge (λ/2)‖w − w(0)‖² at step η pulls by c = ηλ. Called
    /// between a forward pass and update(), the ridge and the gradient act at the same iterate.
    public func pullTowardInitial(_ c: Double) throws {
        if anchors == nil {
            anchors = try blocks.map { b -> any DeviceBuffer in
                switch b.initial {
                case .stored(let w0): return w0
                case .philox(let seed, let offset, let scale):
                    let w0 = try backend.allocate(bytes: b.shape.width * d * MemoryLayout<T>.stride)
                    try backend.fillRandom(w0, count: b.shape.width * d, offset: offset, seed: seed, stream: RandomStream.hiddenWeights.rawValue,
                                           step: 0, distribution: .normal, scale: T(scale))
                    return w0
                }
            }
        }
        for (k, b) in blocks.enumerated() { try backend.runningMean(b.w, toward: anchors![k], count: b.shape.width * d, weight: T(c)) }
    }

    /// max_r ‖w_r − w_r(0)‖ and the fraction of activation patterns flipped since initialisation.
    public func diagnostics() throws -> (maxMove: Double, flipFraction: Double) {
        var best = 0.0, flips = 0
        for b in blocks {
            let dg = try backend.ntkDiagnostics(b.shape, w: b.w, initial: b.initial, masks: b.masks, masks0: b.masks0, as: T.self)
            best = max(best, dg.maxMoveSquared)
            flips += dg.flips
        }
        // A maximum and an integer count: the same for any split over ranks.
        best = try exchange.maximum(best)
        let allFlips = try exchange.allgather([Double(flips)]).reduce(0, +)
        return (best.squareRoot(), allFlips / (Double(n) * Double(width)))
    }

    /// The empirical Gram matrix H(k)_ij = x_iᵀx_j · #{r : S_ir = S_jr = 1} / m from the current masks.
    public func empiricalGram(inputGram xx: [Double]) throws -> [Double] {
        let counts = try backend.allocate(bytes: n * n * 4)
        try backend.upload([UInt32](repeating: 0, count: n * n), to: counts)
        for b in blocks { try backend.maskGram(b.shape, masks: b.masks, counts: counts) }
        let c = try exchange.allreduceSum(try backend.download(counts, count: n * n, as: UInt32.self))
        let m = Double(width)
        return (0..<(n * n)).map { xx[$0] * Double(c[$0]) / m }
    }

    /// Replaces the current weights (a checkpoint's), m×d and m; the initial ones stay.
    public func setWeights(w: [T], a: [T]) throws {
        precondition(w.count == width * d && a.count == width, "weights must be m×d and m")
        for b in blocks {
            try backend.upload(Array(w[(b.start * d)..<((b.start + b.shape.width) * d)]), to: b.w)
            try backend.upload(Array(a[b.start..<(b.start + b.shape.width)]), to: b.a)
        }
    }

    /// The neurons this process holds: all of them alone, its blocks' in a job of ranks.
    public var ownUnits: Range<Int> { partition.units(rank: exchange.rank, of: exchange.size) }

    /// This process's weights (its neurons in order, ownUnits.count×d and ownUnits.count): what a
    /// rank checkpoints, without gathering the others'.
    public func ownWeights() throws -> (w: [T], a: [T]) {
        var w: [T] = [], a: [T] = []
        for b in blocks {
            w += try backend.download(b.w, count: b.shape.width * d, as: T.self)
            a += try backend.download(b.a, count: b.shape.width, as: T.self)
        }
        return (w, a)
    }

    /// Σ_r ‖P w_r‖² / Σ_r ‖w_r‖² for the projection P onto `basis` (TeacherAlignment), every block's
    /// sums added in block order: the same bits for any split over ranks.
    public func alignment(basis: [[Double]]) throws -> Double {
        let own = try blocks.map { b -> [Double] in
            let e = TeacherAlignment.energy(try backend.download(b.w, count: b.shape.width * d, as: T.self), d: d, basis: basis)
            return [e.inside, e.total]
        }
        let sums = WidthPartition.sumInBlockOrder(try exchange.blocksInOrder(own, per: 2, partition: partition), count: 2)
        return sums[0] / max(sums[1], 1e-300)
    }

    /// Puts back what ownWeights() returned.
    public func setOwnWeights(w: [T], a: [T]) throws {
        let first = ownUnits.lowerBound
        precondition(w.count == ownUnits.count * d && a.count == ownUnits.count, "own weights must be (own neurons)×d and (own neurons)")
        for b in blocks {
            let start = b.start - first
            try backend.upload(Array(w[(start * d)..<((start + b.shape.width) * d)]), to: b.w)
            try backend.upload(Array(a[start..<(start + b.shape.width)]), to: b.a)
        }
    }

    /// The current weights, m×d and m (every rank's blocks, on every rank).
    public func weights() throws -> (w: [T], a: [T]) { try gathered(hidden: blocks.map(\.w), output: blocks.map(\.a)) }

    /// Per-block weights in the blocks' shapes (the current ones, or an average's), gathered from every
    /// rank into m×d and m in neuron order.
    func gathered(hidden: [any DeviceBuffer], output: [any DeviceBuffer]) throws -> (w: [T], a: [T]) {
        // Blocks padded to the full block width, so that every rank sends the same count.
        let full = partition.blockWidth
        var ownW: [[T]] = [], ownA: [[T]] = []
        for (k, b) in blocks.enumerated() {
            var wb = try backend.download(hidden[k], count: b.shape.width * d, as: T.self)
            var ab = try backend.download(output[k], count: b.shape.width, as: T.self)
            wb += [T](repeating: 0, count: (full - b.shape.width) * d); ab += [T](repeating: 0, count: full - b.shape.width)
            ownW.append(wb); ownA.append(ab)
        }
        let allW = try exchange.blocksInOrder(ownW, per: full * d, partition: partition)
        let allA = try exchange.blocksInOrder(ownA, per: full, partition: partition)
        var w: [T] = [], a: [T] = []
        w.reserveCapacity(width * d); a.reserveCapacity(width)
        for (k, range) in partition.ranges.enumerated() {
            w += allW[k][0..<(range.count * d)]
            a += allA[k][0..<range.count]
        }
        return (w, a)
    }
}
