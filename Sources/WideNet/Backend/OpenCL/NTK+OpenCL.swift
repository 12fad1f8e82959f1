extension OpenCLBackend {
    /// Tile sizes of ntk.cl, passed as build options (documented there).
    static let forwardSamples = 32, forwardWords = 4, forwardChunk = 16, reduceGroup = 128
    static let backwardGroup = 64, backwardSamples = 32, backwardChunk = 16

    public func ntkForward<T: Scalar>(_ s: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer, a: any DeviceBuffer,
                                      masks: any DeviceBuffer, partialU: any DeviceBuffer, as: T.Type) throws {
        guard s.n > 0, s.width > 0 else { return }
        let tn = OpenCLBackend.forwardSamples, wq = OpenCLBackend.forwardWords
        let opts = try options(T.self, ["-DFWD_TN=\(tn)", "-DFWD_WQ=\(wq)", "-DFWD_KC=\(OpenCLBackend.forwardChunk)"])
        let groups = (s.words + wq - 1) / wq
        let partials = try scratchBuffer("ntk.partials", bytes: groups * s.n * MemoryLayout<T>.stride)
        try cl.launch(try kernel([.ntk], "ntk_forward", options: opts), global: [s.n, s.words], local: [tn, wq],
                      args: [.int(s.n), .int(s.d), .int(s.width), .int(s.words), .buffer(buffer(x)), .buffer(buffer(w)),
                             .buffer(buffer(a)), .buffer(buffer(masks)), .buffer(partials)])
        try sumPartials(partials, n: s.n, groups: groups, into: buffer(partialU), as: T.self)
    }

    /// out[i] = Σ_g partials[g·n + i] with a fixed tree (reduce.cl), for every forward pass.
    func sumPartials<T: Scalar>(_ partials: CLBuffer, n: Int, groups: Int, into out: CLBuffer, as: T.Type) throws {
        let rg = OpenCLBackend.reduceGroup
        try cl.launch(try kernel([.reduce], "sum_partials", options: try options(T.self, ["-DRWG=\(rg)"])),
                      global: [n * rg], local: [rg], args: [.int(n), .int(groups), .buffer(partials), .buffer(out)])
    }

    public func ntkBackwardUpdate<T: Scalar>(_ s: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer,
                                             a: any DeviceBuffer, masks: any DeviceBuffer, residual: any DeviceBuffer,
                                             scale: T, trainOutput: Bool) throws {
        guard s.n > 0, s.width > 0 else { return }
        let wg = OpenCLBackend.backwardGroup
        let opts = try options(T.self, ["-DBWD_WG=\(wg)", "-DBWD_SC=\(OpenCLBackend.backwardSamples)",
                                        "-DBWD_KC=\(OpenCLBackend.backwardChunk)", "-DTRAIN_A=\(trainOutput ? 1 : 0)"])
        try cl.launch(try kernel([.ntk], "ntk_backward_update", options: opts), global: [s.width], local: [wg],
                      args: [.int(s.n), .int(s.d), .int(s.width), .int(s.words), .real(scale), .buffer(buffer(x)),
                             .buffer(buffer(w)), .buffer(buffer(a)), .buffer(buffer(masks)), .buffer(buffer(residual))])
    }

    public func ntkDiagnostics<T: Scalar>(_ s: NTKBlockShape, w: any DeviceBuffer, initial: InitialWeights,
                                          masks: any DeviceBuffer, masks0: any DeviceBuffer, as: T.Type) throws -> NTKBlockDiagnostics {
        let rwg = 128, groups = 256
        let opts = try options(T.self, ["-DRWG=\(rwg)"])
        let maxOut = try scratchBuffer("reduce.max", bytes: groups * MemoryLayout<T>.stride)
        let flipOut = try scratchBuffer("reduce.flips", bytes: groups * 4)
        switch initial {
        case .stored(let w0):
            try cl.launch(try kernel([.reduce], "max_move_sq", options: opts), global: [groups * rwg], local: [rwg],
                          args: [.int(s.width), .int(s.d), .buffer(buffer(w)), .buffer(buffer(w0)), .buffer(maxOut)])
        case .philox(let seed, let offset, let scale):
            var philoxOpts = opts + " -DWITH_PHILOX"
            if !philoxOpts.contains("USE_FP64") { philoxOpts += " -DUSE_FP64" }
            try cl.launch(try kernel([.philox, .reduce], "max_move_sq_philox", options: philoxOpts),
                          global: [groups * rwg], local: [rwg],
                          args: [.int(s.width), .int(s.d), .buffer(buffer(w)), .buffer(maxOut),
                                 .uint32(UInt32(truncatingIfNeeded: offset)), .uint32(UInt32(truncatingIfNeeded: offset >> 32)),
                                 .uint32(UInt32(truncatingIfNeeded: seed)), .uint32(UInt32(truncatingIfNeeded: seed >> 32)),
                                 .real(T(scale))])
        }
        try cl.launch(try kernel([.reduce], "mask_flips", options: opts), global: [groups * rwg], local: [rwg],
                      args: [.int(s.maskWords), .buffer(buffer(masks)), .buffer(buffer(masks0)), .buffer(flipOut)])
        let maxes = try download(maxOut, count: groups, as: T.self)
        let flips = try download(flipOut, count: groups, as: UInt32.self)
        return NTKBlockDiagnostics(maxMoveSquared: Double(maxes.max() ?? 0), flips: flips.reduce(0) { $0 + Int($1) })
    }
}
